"""The source-selection benchmark: graded candidate sources, their ground truth after transfer, and
every selector's scores (representation measures on scratch networks, transferability baselines)."""
from __future__ import annotations

import itertools
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from ..models import BlockModel, build_like
from ..seeds import derive_seed, torch_generator
from ..selection import AGGREGATES, UNTRAINED, rank_sources, ranking_quality
from ..similarity import MEASURES
from ..stats import choose_on_validation
from ..tasks import Task, TaskPair, make_pair, measured_similarity
from ..train import accuracy as train_accuracy
from ..transferability import BASELINES, source_outputs
from ..validation import check_int, check_known, check_positive
from .config import config_from
from .depth import depth_sweep, protocol_list
from .training import pretrain, train_scratch

__all__ = ["candidate_sources", "source_selection", "UNTRAINED"]


def _candidate_name(knobs: Mapping) -> str:
    return ",".join(f"{k}={v:g}" for k, v in knobs.items())


def candidate_sources(family: str, knob: str | None = None, values: Sequence = (), seed: int = 0,
                      family_params: dict | None = None, candidates: Sequence[Mapping] | None = None
                      ) -> tuple[Task, dict[str, Task]]:
    """One target task and candidate source tasks at graded similarity to it, from one family.

    Pairs of one family and seed share their source task and perturb it by the knobs; so the shared
    task plays the *target* here and the pairs' perturbed tasks are the candidate sources. Either
    one ``knob`` at several ``values`` (0: identical to the target) or ``candidates``, a list of knob
    settings (e.g. ``[{"feature_mix": 0.5}, {"teacher_mix": 0.3}]``: candidates that differ in
    low-level or in high-level features). Returns the target and the candidates keyed ``"knob=value"``.
    """
    settings = _candidate_settings(knob, values, candidates)
    pairs = _candidate_pairs(family, settings, seed, family_params)
    return pairs[0].source, {_candidate_name(s): p.target for s, p in zip(settings, pairs)}


def _candidate_pairs(family: str, settings: Sequence[Mapping], seed: int, family_params) -> list[TaskPair]:
    """One pair per candidate; a candidate's knobs override ``family_params`` (the base setting)."""
    if any("seed" in s for s in settings) or "seed" in (family_params or {}):
        raise ValueError("the task seed is task_seed, not a knob")
    return [make_pair(family, **{**dict(family_params or {}), **s}, seed=seed) for s in settings]


def _candidate_settings(knob, values, candidates) -> list[dict]:
    if candidates is None:
        if knob is None:
            raise ValueError("give either a knob and its values or a list of candidates")
        settings = [{knob: v} for v in values]
    else:
        if knob is not None and list(values):
            raise ValueError("give either a knob and its values or a list of candidates, not both")
        settings = [dict(c) for c in candidates]
    if len(settings) < 2:
        raise ValueError(f"source selection needs at least two candidates, got {settings}")
    if any(not s for s in settings):
        raise ValueError(f"every candidate needs at least one knob setting, got {settings}")
    names = [_candidate_name(s) for s in settings]
    if len(set(names)) < len(names):
        raise ValueError(f"two candidates have the same knob settings: {names}")
    return settings


def _as_list(name: str, value) -> list:
    out = list(value) if isinstance(value, (list, tuple)) else [value]
    if not out:
        raise ValueError(f"{name} is empty")
    return out


def _check_probe(n_probe, k_values, pool: int, uses_k: bool) -> None:
    """An explicit probe set must be drawable from the target pool and hold more than k points."""
    if n_probe is None:
        return
    check_int("n_probe", n_probe, low=2)
    if n_probe > pool:
        raise ValueError(f"n_probe={n_probe} is larger than the target's pool of inputs ({pool})")
    if uses_k and n_probe < max(k_values) + 1:
        raise ValueError(f"n_probe={n_probe} is too small for k={max(k_values)}: the kNN measures need "
                         f"at least k + 1 = {max(k_values) + 1} probe points")


def _probe_inputs(target: Task, n_probe: int | None, sub: Task, seed: int) -> torch.Tensor:
    """The inputs the representations are compared on: the ``n_target`` training inputs (None) or
    the first ``n_probe`` of a seeded permutation of the target's pool (unlabelled use only, nested
    across sizes)."""
    if n_probe is None:
        return sub.x_train
    order = torch.randperm(target.n_train, generator=torch_generator(seed, "selection-probe"))
    return target.x_train[order[:n_probe]]


def _untrained_sources(like: BlockModel, target: Task, seeds: Sequence[int]) -> tuple[list[BlockModel], np.ndarray]:
    """The control candidate: one freshly initialised network per seed, never trained."""
    models = [build_like(like, n_classes=target.n_classes, seed=derive_seed(s, UNTRAINED, "init")) for s in seeds]
    return models, train_accuracy(models, target.x_test, target.y_test)


def _ground_truth(table: pd.DataFrame, n_val: int) -> pd.DataFrame:
    """Per (n_target, seed): the candidate's best protocol and its test accuracy.

    With a validation split the protocol is chosen on mean validation accuracy over seeds and
    reported on test (per seed); without one, the best test accuracy per seed (an oracle)."""
    if n_val:
        chosen = choose_on_validation(table, by=["n_target"])
        rows = table.merge(chosen[["n_target", "best_transfer_depth", "best_frozen_depth"]], on="n_target")
        top = rows[(rows.transfer_depth == rows.best_transfer_depth) & (rows.frozen_depth == rows.best_frozen_depth)]
    else:
        top = table.loc[table.groupby(["n_target", "seed"]).test_acc.idxmax()]
    return top[["n_target", "seed", "test_acc", "transfer_depth", "frozen_depth"]]


def _zero_shot(model: BlockModel, target: Task) -> float:
    """How often the candidate network's own labelling agrees with the target's labels on the target's
    test inputs, without retraining (NaN when the two have different numbers of classes)."""
    if model.config["n_classes"] != target.n_classes:
        return float("nan")
    return float(train_accuracy([model], target.x_test, target.y_test)[0])


def _selector_scores(models, probe, scratch, measures, aggregates, ks) -> dict:
    """{(aggregate, k, measure): {candidate: score}}; a measure that ignores k is computed once."""
    out, done = {}, {}
    for m in measures:
        for agg in aggregates:
            for kk in ks:
                key = (m, agg, kk if MEASURES[m].uses_k else None)
                if key not in done:
                    ranked = rank_sources([scratch], probe, models, measure=m, aggregate=agg, k=kk, full=False)
                    done[key] = dict(zip(ranked.source, ranked.score))
                out[(agg, kk, m)] = done[key]
    return out


def source_selection(family: str, knob: str | None = None, values: Sequence = (),
                     n_targets: Sequence[int] = (50,), seeds: Sequence[int] = (0,), task_seed: int = 0,
                     family_params: dict | None = None, protocols: Sequence | None = None,
                     measures: Sequence[str] = ("neighbourhood_overlap",), aggregate="diagonal", k=10,
                     baselines: Sequence[str] = tuple(BASELINES), candidates: Sequence[Mapping] | None = None,
                     untrained_control: bool = False, n_probe=None, n_val: int = 0,
                     scratch_steps=None, scratch_lr=None, dry_run: bool = False, **training) -> pd.DataFrame | None:
    """Ground truth, selector scores and ranking quality for choosing among candidate sources.

    For every candidate source (see :func:`candidate_sources`; plus, with ``untrained_control``, a
    freshly initialised network that was never trained) and seed, a source network is pre-trained;
    its ground truth at each ``n_target`` is the test accuracy of its best protocol among
    ``protocols`` (chosen on a validation split of ``n_val`` target examples when ``n_val > 0``).
    Each selector scores each candidate from the target alone: the representation-based ones
    (``measures`` from the similarity registry, aggregated over layers by ``aggregate``, comparing
    the source network with a network trained from scratch for ``scratch_steps`` on the
    ``n_target`` examples at learning rate ``scratch_lr``, on a probe set of ``n_probe`` target
    inputs, by default those ``n_target`` examples, with neighbourhood size ``k``) and the
    ``baselines`` (from the source network's outputs on the labelled ``n_target`` examples).
    ``aggregate``, ``k``, ``n_probe``, ``scratch_steps`` and ``scratch_lr`` may be lists: every
    combination is scored on the same source networks (common random numbers). Each scratch
    network's accuracy is recorded (``scratch_val_acc`` on the seed's validation split, NaN without
    one, and ``scratch_test_acc``), so that a reference network near chance is seen and its training
    can be chosen on validation. Returns one row per (n_target, scratch_steps, scratch_lr, n_probe,
    k, aggregate, seed, selector, candidate) with ``score``,
    ``best_acc``, ``best_transfer_depth``, ``best_frozen_depth``, ``zero_shot_acc`` (the candidate
    network's agreement with the target labels, see :func:`_zero_shot`), the candidate's measured
    similarity to the target (:func:`tlcore.tasks.measured_similarity`; synthetic families) and the
    per-seed ``spearman``, ``kendall``, ``top1_hit`` and ``regret`` of :func:`ranking_quality`.
    Baseline rows are repeated for every (scratch_steps, n_probe, k, aggregate). ``dry_run=True`` checks every
    argument and returns None before any training.
    """
    cfg = config_from(training)
    for m in measures:
        check_known("similarity measure", m, MEASURES)
    for b in baselines:
        check_known("baseline", b, BASELINES)
    aggregates, ks, probes = _as_list("aggregate", aggregate), _as_list("k", k), _as_list("n_probe", n_probe)
    for a in aggregates:
        check_known("aggregate", a, AGGREGATES)
    ks = [check_int("k", kk, low=1) for kk in ks]
    if not measures and not baselines:
        raise ValueError("no selector given: measures and baselines are both empty")
    seeds = [check_int("seed", s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty")
    check_int("n_val", n_val, low=0)
    scratch_steps = [cfg.steps if s is None else check_int("scratch_steps", s, low=0)
                     for s in _as_list("scratch_steps", scratch_steps)]
    scratch_lrs = [cfg.lr if lr is None else check_positive("scratch_lr", lr) for lr in _as_list("scratch_lr", scratch_lr)]
    scratch_settings = list(itertools.product(scratch_steps, scratch_lrs))
    settings = _candidate_settings(knob, values, candidates)
    pairs = dict(zip(map(_candidate_name, settings), _candidate_pairs(family, settings, task_seed, family_params)))
    target, tasks = next(iter(pairs.values())).source, {name: p.target for name, p in pairs.items()}
    n_targets = [check_int("n_target", n, low=2) for n in n_targets]
    for n in n_targets:
        if n + n_val > target.n_train:
            raise ValueError(f"n_target={n} is larger than the target's training set ({target.n_train})")
    uses_k = any(MEASURES[m].uses_k for m in measures)
    for p in probes:
        _check_probe(p, ks, target.n_train, uses_k)
    protocols = protocol_list(protocols, cfg.depth)
    if dry_run:
        return None

    sources = {name: pretrain(task, seeds, family, **training) for name, task in tasks.items()}
    meta = {name: {"knob": ",".join(s), "value": float(next(iter(s.values()))) if len(s) == 1 else float("nan"),
                   **{f"sim_{key}": v for key, v in measured_similarity(pairs[name]).items()}}
            for name, s in zip(tasks, settings)}
    if untrained_control:
        sources[UNTRAINED] = _untrained_sources(next(iter(sources.values()))[0][0], target, seeds)
        meta[UNTRAINED] = {"knob": UNTRAINED, "value": float("nan")}
    best = {}
    for name, src in sources.items():
        pair = TaskPair(source=tasks.get(name, target), target=target, family=family, knobs={}, seed=task_seed)
        table = depth_sweep(pair, n_targets, protocols, seeds, sources=src, n_val=n_val, **training)
        for row in _ground_truth(table, n_val).itertuples():
            best[(name, row.n_target, row.seed)] = (row.test_acc, row.transfer_depth, row.frozen_depth)
    zero_shot = {(name, s): _zero_shot(src[0][si], target) for name, src in sources.items()
                 for si, s in enumerate(seeds)}

    like = next(iter(sources.values()))[0][0]
    rows = []
    for n in n_targets:
        subsets = [target.subsample_indices(n, s) for s in seeds]
        scratch = {(t, lr): _scratch_networks(target, like, seeds, subsets, n_val, {**training, "steps": t, "lr": lr})
                   for t, lr in (scratch_settings if measures else [])}
        for si, seed in enumerate(seeds):
            models = {name: src[0][si] for name, src in sources.items()}
            truth = {name: best[(name, n, seed)][0] for name in models}
            sub = target.subsample(n, seed)
            nets = ({key: (nets[si], val[si], test[si]) for key, (nets, val, test) in scratch.items()} or
                    {key: (None, np.nan, np.nan) for key in scratch_settings})
            for setting, selector, s in _seed_scores(models, target, sub, seed, baselines, measures, nets,
                                                     probes, ks, aggregates):
                quality = ranking_quality(s, truth)
                for name in models:
                    acc, t, f = best[(name, n, seed)]
                    rows.append({"family": family, **meta[name], "candidate": name, "n_target": n, **setting,
                                 "seed": seed, "selector": selector, "score": s[name], "best_acc": acc,
                                 "best_transfer_depth": int(t), "best_frozen_depth": int(f),
                                 "zero_shot_acc": zero_shot[(name, seed)], **quality})
    return pd.DataFrame(rows)


def _scratch_networks(target: Task, like: BlockModel, seeds, subsets, n_val: int, training: dict):
    """Scratch networks of one training setting, one per seed, with their validation accuracy (on
    the seed's validation split, the one the ground truth is chosen on; NaN without one) and test accuracy."""
    nets = train_scratch(target, like, seeds, subsets=subsets, **training)
    test = train_accuracy(nets, target.x_test, target.y_test)
    if not n_val:
        return nets, np.full(len(nets), np.nan), test
    val = [target.subsample_indices(target.n_train, s)[target.n_train - n_val:] for s in seeds]
    return nets, np.array([train_accuracy([m], target.x_train[v], target.y_train[v])[0]
                           for m, v in zip(nets, val)]), test


def _seed_scores(models, target, sub, seed, baselines, measures, scratch, probes, ks, aggregates):
    """Every selector's scores for one seed: yields (setting, selector, {candidate: score}).

    ``scratch`` maps (steps, lr) to (network, validation accuracy, test accuracy). ``setting`` names
    the scratch training and its accuracy, probe size, k and aggregate; the baselines do not depend
    on them and are repeated for each, so that every setting ranks the same selectors."""
    outputs = {name: source_outputs(model, sub.x_train) for name, model in models.items()}
    base = {b: {name: BASELINES[b](probs, feats, sub.y_train.numpy()) for name, (probs, feats) in outputs.items()}
            for b in baselines}
    for (t_scratch, lr), (net, val_acc, test_acc) in scratch.items():
        for p in probes:
            n_p = sub.n_train if p is None else p
            k_used = sorted({min(kk, n_p - 1) for kk in ks})  # the n_target probe: k capped at n_target - 1
            probe = _probe_inputs(target, p, sub, seed)
            reps = _selector_scores(models, probe, net, measures, aggregates, k_used) if measures else {}
            for agg, kk in itertools.product(aggregates, k_used):
                setting = {"scratch_steps": t_scratch, "scratch_lr": lr, "scratch_val_acc": float(val_acc),
                           "scratch_test_acc": float(test_acc), "n_probe": n_p, "k": kk, "aggregate": agg}
                for selector in measures:
                    yield setting, selector, reps[(agg, kk, selector)]
                for selector, s in base.items():
                    yield setting, selector, s
