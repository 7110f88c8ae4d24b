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

__all__ = ["depth_sweep"]


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
                dry_run: bool = False, **training) -> pd.DataFrame | None:
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
    acc = evaluate_protocols(runs, protocols, target, eval_sets, cfg)
    table = pd.DataFrame(rows)
    position = table.columns.get_loc("source_test_acc")
    if n_val:
        per_seed = len(n_targets)
        val = np.concatenate([acc[f"val_{i // per_seed}"][i] for i in range(len(runs))])
        table.insert(position, "val_acc", val.astype(float))
        position += 1
    table.insert(position, "test_acc", acc["test_acc"].reshape(-1).astype(float))
    return table
