"""Representations after transfer: layer-by-layer similarity, linear probes and calibrated profiles."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from ..models import BlockModel, build_like
from ..profiles import calibrated_profile
from ..seeds import derive_seed
from ..similarity import MEASURES, layerwise
from ..tasks import Task, TaskPair
from ..validation import check_int, check_k, check_known
from .config import config_from
from .training import pretrain, train_fresh

__all__ = ["linear_probe_accuracy", "input_probe_accuracy", "compare_representations", "PROFILE_MEASURES", "similarity_profiles"]


def _probe_scores(features: Sequence[tuple[torch.Tensor, torch.Tensor]], y_train: torch.Tensor,
                  y_test: torch.Tensor, max_iter: int) -> list[float]:
    """Test accuracy of a standardised logistic-regression readout on each (train, test) feature pair."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    accs = []
    for a, b in features:
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
        clf.fit(a.reshape(len(a), -1).numpy(), y_train.numpy())
        accs.append(float(clf.score(b.reshape(len(b), -1).numpy(), y_test.numpy())))
    return accs


def _probe_subset(task: Task, n_train: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    if n_train is None:
        return task.x_train, task.y_train
    idx = task.subsample_indices(n_train, seed)
    return task.x_train[idx], task.y_train[idx]


@torch.no_grad()
def linear_probe_accuracy(model: BlockModel, task: Task, n_train: int | None = None, seed: int = 0,
                          max_iter: int = 500) -> list[float]:
    """Target test accuracy of a logistic-regression readout on each block's features of ``model``.

    Features are standardised; the readout is fitted on ``n_train`` target training examples (all
    by default). Answers "which layer of this network holds the most useful features for the target?"
    """
    x_tr, y_tr = _probe_subset(task, n_train, seed)
    reps = zip(model.representations(x_tr), model.representations(task.x_test))
    return _probe_scores(list(reps), y_tr, task.y_test, max_iter)


def input_probe_accuracy(task: Task, n_train: int | None = None, seed: int = 0, max_iter: int = 500) -> float:
    """The same readout on the raw inputs: the floor that no network's features are needed for."""
    x_tr, y_tr = _probe_subset(task, n_train, seed)
    return _probe_scores([(x_tr, task.x_test)], y_tr, task.y_test, max_iter)[0]


def compare_representations(pair: TaskPair, n_small: int, seeds: Sequence[int] = (0,),
                            measures: Sequence[str] = ("neighbourhood_overlap", "linear_cka"),
                            k: int = 10, n_probe: int = 1000, **training) -> pd.DataFrame:
    """Claim C3's evidence for one pair: are the source's features those the target would learn?

    Trains, per seed, the source network, a target network on ``n_small`` examples and one on the
    whole target training set (all from scratch, batched), and returns one tidy table with a
    ``kind`` column: ``"similarity"`` rows (``measure``, ``data`` = "small" or "plenty", ``seed``,
    ``source_block``, ``target_block``, ``value``: the source network's block against the target
    network's, on ``n_probe`` target test inputs), ``"probe"`` rows (``network``, ``seed``,
    ``source_block`` = the block, ``value``: target test accuracy of a linear readout fitted on
    ``n_small`` target examples of that block's features; besides the source and the plenty-data
    network, the controls ``"untrained"``, the source's architecture at a fresh initialisation, and
    ``"inputs"``, the raw inputs as block 0) and ``"accuracy"`` rows (each network's
    own test accuracy).
    """
    seeds = list(seeds)
    cfg = config_from(training)
    sources, src_acc = pretrain(pair.source, seeds, pair.family, **training)
    plenty, plenty_acc = pretrain(pair.target, seeds, pair.family, **training)
    subsets = [pair.target.subsample_indices(n_small, s) for s in seeds]
    small, small_acc = train_fresh(pair.target, seeds, "small-target", cfg.source_steps, like=sources[0],
                                   subsets=subsets, cfg=cfg)
    probe = pair.target.x_test[:n_probe]
    rows = []
    with torch.no_grad():
        for measure in measures:
            for label, nets in (("small", small), ("plenty", plenty)):
                for s, src, net in zip(seeds, sources, nets):
                    m = layerwise(src.representations(probe), net.representations(probe), measure, k=k)
                    rows += [{"kind": "similarity", "measure": measure, "data": label, "seed": s,
                              "source_block": i + 1, "target_block": j + 1, "value": float(v)}
                             for (i, j), v in np.ndenumerate(m)]
    for s, src, net in zip(seeds, sources, plenty):
        # Controls for "expressive" against "generic": the same architecture untrained, and the inputs.
        untrained = build_like(src, seed=derive_seed(s, "untrained", "init"))
        for name, model in (("source", src), ("target, plenty of data", net), ("untrained", untrained)):
            rows += [{"kind": "probe", "measure": "linear_probe", "network": name, "seed": s, "source_block": b,
                      "value": acc} for b, acc in enumerate(linear_probe_accuracy(model, pair.target, n_small, seed=s), 1)]
        rows.append({"kind": "probe", "measure": "linear_probe", "network": "inputs", "seed": s, "source_block": 0,
                     "value": input_probe_accuracy(pair.target, n_small, seed=s)})
    for name, accs in (("source", src_acc), ("target, plenty of data", plenty_acc), ("target, small data", small_acc)):
        rows += [{"kind": "accuracy", "network": name, "seed": s, "value": float(a)} for s, a in zip(seeds, accs)]
    table = pd.DataFrame(rows, columns=["kind", "measure", "data", "network", "seed", "source_block",
                                        "target_block", "value"])
    table[["source_block", "target_block"]] = table[["source_block", "target_block"]].fillna(0).astype(int)
    return table.fillna({"measure": "", "data": "", "network": ""})


PROFILE_MEASURES = ("linear_cka", "neighbourhood_overlap", "information_imbalance", "information_imbalance_reverse")


def similarity_profiles(pair: TaskPair, n_targets: Sequence[int], seeds: Sequence[int] = (0, 1),
                        measures: Sequence[str] = PROFILE_MEASURES, k: int = 10, n_probe: int = 500,
                        dry_run: bool = False, **training) -> pd.DataFrame | None:
    """Calibrated profiles (:func:`tlcore.profiles.calibrated_profile`) of each seed's source network.

    Per seed, the source network is the one :func:`depth_sweep` pre-trains for that seed, and for
    each ``n_target`` a scratch network trains on the same target subset as that seed's members in
    :func:`depth_sweep`, so the profiles of a cell describe the very networks whose transfer
    accuracies the depth sweep measures. References: ``"twin"`` (same examples, another
    initialisation), ``"reference"`` (an identical source: trained with the source's budget on the
    target pool's examples that no scratch network and no probe uses) and ``"floor"`` (untrained).
    The probe inputs are the last ``n_probe`` of the seed's target pool, the part :func:`depth_sweep`
    keeps for validation; only their inputs are used, never their labels. One row per (n_target, seed,
    measure, curve, block). ``dry_run=True`` checks every argument and returns None.
    """
    cfg = config_from(training)
    seeds = [check_int("seed", s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty")
    for m in measures:
        check_known("similarity measure", m, MEASURES)
    target = pair.target
    check_int("n_probe", n_probe, low=2)
    check_k(k, n_probe)
    if not n_targets:
        raise ValueError("n_targets is empty")
    for n in n_targets:
        if 2 * check_int("n_target", n, low=1) + n_probe > target.n_train:
            raise ValueError(f"n_target={n} and n_probe={n_probe} leave too few of the target's {target.n_train} "
                             f"examples for the identical source (it needs at least n_target of its own)")
    if dry_run:
        return None
    sources, _ = pretrain(pair.source, seeds, pair.family, **training)
    orders = [target.subsample_indices(target.n_train, s) for s in seeds]
    # the identical source learns from the pool's examples that no scratch network and no probe uses
    unused = slice(max(n_targets), target.n_train - n_probe)
    references = train_fresh(target, seeds, "reference", cfg.source_steps, like=sources[0],
                             subsets=[o[unused] for o in orders], cfg=cfg)[0]
    cells = [(n, si) for n in n_targets for si in range(len(seeds))]
    subsets = [orders[si][:n] for n, si in cells]
    nets = {role: train_fresh(target, [seeds[si] for _, si in cells], role, cfg.steps, like=sources[0],
                              subsets=subsets, cfg=cfg)[0] for role in ("scratch", "scratch-twin")}
    blank = [build_like(sources[si], n_classes=target.n_classes, seed=derive_seed(s, "untrained", "init"))
             for si, s in enumerate(seeds)]
    rows = []
    for c, (n, si) in enumerate(cells):
        probe = target.x_train[orders[si][target.n_train - n_probe:]]
        refs = {"twin": [nets["scratch-twin"][c]], "reference": [references[si]], "floor": [blank[si]]}
        for measure in measures:
            p = calibrated_profile(sources[si], [nets["scratch"][c]], refs, probe, measure, k=k)
            rows.append(p.drop(columns="pair").assign(n_target=n, seed=seeds[si], measure=measure))
    table = pd.concat(rows, ignore_index=True)
    first = {"family": pair.family, **pair.knobs, "task_seed": pair.seed}
    for i, (name, value) in enumerate(first.items()):
        table.insert(i, name, value)
    return table[[*first, "n_target", "seed", "measure", "curve", "block", "value"]]
