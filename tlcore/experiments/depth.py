"""The paper's transfer-depth experiment: every protocol at every target size, paired by seed."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..seeds import derive_seed
from ..tasks import TaskPair
from ..transfer import BlockPlan, Protocol, all_protocols, as_plan
from ..validation import check_int
from .config import config_from
from .training import Run, evaluate_protocols, pretrain

__all__ = ["depth_sweep", "stopping_checkpoints"]


def stopping_checkpoints(steps: int, count: int) -> list[int]:
    """``count`` evenly spaced step counts ending at ``steps`` (the candidate stopping points)."""
    check_int("checkpoints", count, low=1)
    if count > steps:
        raise ValueError(f"checkpoints={count} is more than the {steps} training steps")
    return sorted({round(steps * i / count) for i in range(1, count + 1)})


def protocol_list(protocols, depth: int) -> list:
    """Checked protocols: all prefix :class:`Protocol` s, or all :class:`BlockPlan` s (given as plans or codes)."""
    given = list(protocols) if protocols is not None else all_protocols(depth)
    plans = [isinstance(p, (BlockPlan, str)) for p in given]
    if any(plans) and not all(plans):
        raise ValueError("protocols mix prefix pairs and block plans; give block plans for all "
                         "(BlockPlan.from_protocol turns a pair into one)")
    if any(plans):
        return [as_plan(p, depth) for p in given]
    out = [p if isinstance(p, Protocol) else Protocol(*p) for p in given]
    for p in out:
        p.check(depth)
    return out


def _protocol_columns(p) -> dict:
    """A protocol's columns in a results table: ``transfer_depth``/``frozen_depth``, or a plan's ``plan`` code."""
    if isinstance(p, BlockPlan):
        return {"plan": p.code}
    return {"transfer_depth": p.transfer_depth, "frozen_depth": p.frozen_depth}


def depth_sweep(pair: TaskPair, n_targets: Sequence[int], protocols: Sequence | None = None,
                seeds: Sequence[int] = (0,), sources: tuple | None = None, n_val: int = 0,
                checkpoints: int = 0, dry_run: bool = False, **training) -> pd.DataFrame | None:
    """Target accuracy for every (n_target, protocol, seed): the paper's transfer-depth experiment.

    One source network is pre-trained per seed (or taken from ``sources = (models, accs)`` as
    returned by :func:`pretrain`); then every target member is trained in one batched call. Members
    of one seed share the initial weights of their re-initialised layers and nested target subsets
    (common random numbers), so differences between protocols are paired by seed. With ``n_val > 0``
    a validation set of that size is carved from the target pool (disjoint from every training
    subset of the seed), so that a protocol can be chosen on ``val_acc`` and reported on
    ``test_acc``. ``protocols`` defaults to ``(l, l)`` and ``(l, 0)`` for every depth ``l``; given as
    block plans (:class:`tlcore.transfer.BlockPlan` or codes such as ``"TFF"``), the table has a
    ``plan`` column instead of ``transfer_depth`` and ``frozen_depth``.
    ``checkpoints > 0`` (needs ``n_val >= 2``) evaluates every network at that many evenly spaced
    steps (:func:`stopping_checkpoints`, the last being ``steps``) and stops each one early: its
    validation set is split in two halves, the stopping step is the first best checkpoint on the
    first half (``pick_acc_stopped``, the accuracy there), and ``val_acc_stopped`` is read on the
    second half, so that choosing a protocol on it carries none of the stopping choice's luck;
    ``stop_step`` and ``test_acc_stopped`` complete the early-stopped columns beside ``val_acc`` and
    ``test_acc`` (the full training). :func:`tlcore.stats.early_stopped` reads a table that way.
    Returns one row per network with the columns ``family``, the knobs, ``task_seed``, ``model``,
    ``n_target``, ``transfer_depth``, ``frozen_depth``, ``seed``, ``val_acc`` (when ``n_val``),
    ``test_acc``, ``source_test_acc``. ``dry_run=True`` checks every argument and returns None.
    """
    cfg = config_from(training)
    seeds = [check_int("seed", s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty")
    protocols = protocol_list(protocols, cfg.depth)
    target = pair.target
    n_targets = [check_int("n_target", n, low=1) for n in n_targets]
    check_int("n_val", n_val, low=0)
    check_int("checkpoints", checkpoints, low=0)
    if checkpoints and n_val < 2:
        raise ValueError(f"checkpoints={checkpoints} needs n_val >= 2: the stopping point is chosen on one half "
                         "of the validation set")
    steps_at = stopping_checkpoints(cfg.steps, checkpoints) if checkpoints else []
    for n in n_targets:
        if n + n_val > target.n_train:
            raise ValueError(f"n_target={n} is larger than the target's training set "
                             f"({target.n_train} examples{f', {n_val} kept for validation' if n_val else ''})")
    if dry_run:
        return None
    source_models, source_accs = sources if sources is not None else pretrain(
        pair.source, seeds, pair.family, **training)
    if len(source_models) != len(seeds):
        raise ValueError(f"got {len(source_models)} source models for {len(seeds)} seeds")
    if source_models[0].in_dim != target.in_dim:
        raise ValueError(f"input size mismatch: source model expects in_dim={source_models[0].in_dim}, "
                         f"the target task has {target.in_dim} features")

    runs, rows, val_sets = [], [], []
    kind = type(source_models[0]).__name__.lower()
    for si, seed in enumerate(seeds):
        order = target.subsample_indices(target.n_train, seed)
        val_sets.append(order[target.n_train - n_val:])
        for n in n_targets:
            runs.append(Run(source_models[si], order[:n], derive_seed(seed, "target", "init"),
                            derive_seed(seed, n, "target", "data")))
            rows += [{"family": pair.family, **pair.knobs, "task_seed": pair.seed, "model": kind,
                      "n_target": n, **_protocol_columns(p),
                      "seed": seed, "source_test_acc": float(source_accs[si])} for p in protocols]
    eval_sets = {"test_acc": (target.x_test, target.y_test)}
    if n_val:
        # one set per seed: evaluate all members on each, keep each member's own seed's column
        eval_sets.update({f"val_{si}": (target.x_train[v], target.y_train[v]) for si, v in enumerate(val_sets)})
    if steps_at:  # the halves of each seed's validation set: one chooses the stopping step, one scores it
        for si, v in enumerate(val_sets):
            for half, part in (("pick", v[: n_val // 2]), ("held", v[n_val // 2:])):
                eval_sets[f"{half}_{si}"] = (target.x_train[part], target.y_train[part])
    acc = evaluate_protocols(runs, protocols, target, eval_sets, cfg, checkpoints=steps_at)
    if not steps_at:  # one "checkpoint": the end of training
        acc = {name: a[None] for name, a in acc.items()}
    table = pd.DataFrame(rows)
    position = table.columns.get_loc("source_test_acc")
    test = acc["test_acc"].reshape(len(acc["test_acc"]), -1)  # (checkpoints, networks)
    per_seed = len(n_targets)

    def own(name):  # (checkpoints, networks): each network on its own seed's set
        return np.concatenate([acc[f"{name}_{i // per_seed}"][:, i] for i in range(len(runs))], axis=1)

    if n_val:
        table.insert(position, "val_acc", own("val")[-1].astype(float))
        position += 1
    table.insert(position, "test_acc", test[-1].astype(float))
    if steps_at:
        pick, held = own("pick"), own("held")
        stop = np.argmax(pick, axis=0)  # the first best checkpoint of each network on the choosing half
        networks = np.arange(pick.shape[1])
        table["stop_step"] = np.asarray(steps_at)[stop]
        table["pick_acc_stopped"] = pick[stop, networks].astype(float)
        table["val_acc_stopped"] = held[stop, networks].astype(float)
        table["test_acc_stopped"] = test[stop, networks].astype(float)
    return table
