"""Everything that trains networks for a purpose, in one place.

Pre-training source networks, training networks from scratch, evaluating transfer protocols, the
transfer-depth sweep, the source-selection ground truth and the representation comparisons all go
through two functions: :func:`train_fresh` (new networks, one per seed, in one batched call) and
:func:`evaluate_protocols` (networks initialised from a source under each protocol, in one
batched call). Every initialisation and data order is drawn from :mod:`tlcore.seeds` under keys
that name its role, so the same seed gives the same numbers in any thread, process or machine.

``EXPERIMENTS`` names the experiments a grid of cells can run (:func:`tlcore.sweep.run`).
"""
from __future__ import annotations

import inspect
import itertools
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from .models import BlockModel, build_like, build_model
from .profiles import calibrated_profile
from .seeds import derive_seed, torch_generator
from .selection import AGGREGATES, rank_sources, ranking_quality
from .similarity import MEASURES, layerwise
from .stats import choose_on_validation
from .tasks import FAMILIES, Task, TaskPair, make_pair, measured_similarity
from .train import accuracy as train_accuracy
from .train import fit
from .transferability import BASELINES, source_outputs
from .transfer import BlockPlan, Protocol, all_protocols, as_plan, initialise_target
from .validation import check_int, check_k, check_known

__all__ = ["TrainingConfig", "Run", "train_fresh", "pretrain", "train_scratch", "evaluate_protocols",
           "depth_sweep", "candidate_sources", "source_selection", "linear_probe_accuracy",
           "compare_representations", "similarity_profiles", "split_params", "depth_experiment",
           "selection_experiment", "representations_experiment", "profiles_experiment", "PROFILE_MEASURES",
           "EXPERIMENTS", "default_model_kind"]


@dataclass(frozen=True)
class TrainingConfig:
    """Architecture and optimisation settings shared by the experiments (plain keyword arguments)."""

    model: str = "auto"
    width: int = 128
    depth: int = 4
    source_steps: int = 3000
    steps: int = 500
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    transferred_lr_scale: float = 1.0
    device: str = "auto"

    def __post_init__(self):
        if self.model != "auto":
            check_known("model", self.model, ["mlp", "cnn1d", "resnet"])
        check_int("width", self.width, low=1)
        check_int("depth", self.depth, low=1)
        check_int("source_steps", self.source_steps, low=0)
        check_int("steps", self.steps, low=0)
        check_int("batch_size", self.batch_size, low=1)
        if not self.lr > 0:
            raise ValueError(f"lr={self.lr!r} must be positive")
        if not self.transferred_lr_scale > 0:
            raise ValueError(f"transferred_lr_scale={self.transferred_lr_scale!r} must be positive")

    def fit_options(self) -> dict:
        return dict(batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
                    device=self.device)


def _config(training: Mapping) -> TrainingConfig:
    fields = TrainingConfig.__dataclass_fields__
    for name in training:
        if name not in fields:
            raise ValueError(f"unknown training parameter {name!r}; expected one of {sorted(fields)}")
    return TrainingConfig(**training)


def default_model_kind(family: str) -> str:
    """MNIST-1D is a sequence task and gets the 1-D CNN, MNIST images the ResNet; the others the MLP."""
    return {"mnist1d": "cnn1d", "mnist": "resnet"}.get(family, "mlp")


# --------------------------------------------------------------------------- the two training paths


def train_fresh(task: Task, seeds: Sequence[int], role: str, steps: int, *, like: BlockModel | None = None,
                kind: str = "mlp", subsets: Sequence | None = None, cfg: TrainingConfig = TrainingConfig()
                ) -> tuple[list[BlockModel], np.ndarray]:
    """New networks, one per seed, trained on ``task`` (or on ``subsets[i]`` of it) in one batched call.

    The architecture is ``like``'s (with the task's readout size) or ``kind`` with ``cfg``'s width
    and depth. ``role`` names the purpose in the seed keys (``"source"``, ``"scratch"``), so a
    source and a scratch network of the same seed never share their draws. Returns the networks
    and their test accuracies.
    """
    seeds = [int(s) for s in seeds]
    if like is not None:
        models = [build_like(like, n_classes=task.n_classes, seed=derive_seed(s, role, "init")) for s in seeds]
    else:
        models = [build_model(kind, seed=derive_seed(s, role, "init"), in_dim=task.in_dim,
                              n_classes=task.n_classes, width=cfg.width, depth=cfg.depth) for s in seeds]
    subsets = subsets if subsets is not None else [torch.arange(task.n_train)] * len(models)
    ens = fit(models, task.x_train, task.y_train, subsets, [derive_seed(s, role, "data") for s in seeds],
              steps=steps, **cfg.fit_options())
    return ens.to_models(), ens.accuracy(task.x_test, task.y_test)


@dataclass(frozen=True)
class Run:
    """One source network and the target data one group of protocol members trains on.

    ``subset`` indexes the target's training set; ``init_seed`` initialises the re-initialised
    blocks and readout (shared by all protocols of the run: common random numbers), ``data_seed``
    orders the batches.
    """

    source: BlockModel
    subset: torch.Tensor
    init_seed: int
    data_seed: int


def evaluate_protocols(runs: Sequence[Run], protocols: Sequence, task: Task,
                       eval_sets: Mapping[str, tuple], cfg: TrainingConfig = TrainingConfig()
                       ) -> dict[str, np.ndarray]:
    """Train every (run, protocol) member in one batched call; accuracy on each evaluation set.

    Member ``(i, j)`` starts from ``initialise_target(runs[i].source, protocols[j], ...)`` and trains
    ``cfg.steps`` steps on ``task.x_train[runs[i].subset]``; a protocol is a prefix ``(t, f)`` or a
    per-block :class:`tlcore.transfer.BlockPlan` (or its code, e.g. ``"TFF"``), and one call may mix
    both. ``eval_sets`` maps a name to ``(x, y)``; returns ``{name: accuracy array of shape
    (len(runs), len(protocols))}``.
    """
    protocols = [p if isinstance(p, (Protocol, BlockPlan, str)) else Protocol(*p) for p in protocols]
    members, subsets, data_seeds = [], [], []
    for run in runs:
        for p in protocols:
            members.append(initialise_target(run.source, p, task.n_classes, seed=run.init_seed,
                                             transferred_lr_scale=cfg.transferred_lr_scale))
            subsets.append(run.subset)
            data_seeds.append(run.data_seed)
    ens = fit(members, task.x_train, task.y_train, subsets, data_seeds, steps=cfg.steps, **cfg.fit_options())
    return {name: ens.accuracy(x, y).reshape(len(runs), len(protocols)) for name, (x, y) in eval_sets.items()}


def pretrain(task: Task, seeds: Sequence[int], family: str = "", **training
             ) -> tuple[list[BlockModel], np.ndarray]:
    """One source network per seed trained on the whole ``task`` for ``source_steps``; models and test accs."""
    cfg = _config(training)
    kind = cfg.model if cfg.model != "auto" else default_model_kind(family)
    return train_fresh(task, seeds, "source", cfg.source_steps, kind=kind, cfg=cfg)


def train_scratch(task: Task, like: BlockModel, seeds: Sequence[int], subsets: Sequence | None = None,
                  **training) -> list[BlockModel]:
    """One network per seed with ``like``'s architecture, trained from scratch on ``task`` for ``steps``."""
    cfg = _config(training)
    return train_fresh(task, seeds, "scratch", cfg.steps, like=like, subsets=subsets, cfg=cfg)[0]


# --------------------------------------------------------------------------- the transfer-depth sweep


def _protocol_list(protocols, depth: int) -> list:
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
    cfg = _config(training)
    seeds = [check_int("seed", s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty")
    protocols = _protocol_list(protocols, cfg.depth)
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


# --------------------------------------------------------------------------- source selection

UNTRAINED = "untrained"  # the control candidate: a freshly initialised, never trained source network


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
                     scratch_steps=None, dry_run: bool = False, **training) -> pd.DataFrame | None:
    """Ground truth, selector scores and ranking quality for choosing among candidate sources.

    For every candidate source (see :func:`candidate_sources`; plus, with ``untrained_control``, a
    freshly initialised network that was never trained) and seed, a source network is pre-trained;
    its ground truth at each ``n_target`` is the test accuracy of its best protocol among
    ``protocols`` (chosen on a validation split of ``n_val`` target examples when ``n_val > 0``).
    Each selector scores each candidate from the target alone: the representation-based ones
    (``measures`` from the similarity registry, aggregated over layers by ``aggregate``, comparing
    the source network with a network trained from scratch for ``scratch_steps`` on the
    ``n_target`` examples, on a probe set of ``n_probe`` target inputs, by default those
    ``n_target`` examples, with neighbourhood size ``k``) and the ``baselines`` (from the source
    network's outputs on the labelled ``n_target`` examples). ``aggregate``, ``k`` and ``n_probe``
    and ``scratch_steps`` may be lists: every combination is scored on the same source networks
    (common random numbers). Returns one row per (n_target, scratch_steps, n_probe, k, aggregate,
    seed, selector, candidate) with ``score``,
    ``best_acc``, ``best_transfer_depth``, ``best_frozen_depth``, ``zero_shot_acc`` (the candidate
    network's agreement with the target labels, see :func:`_zero_shot`), the candidate's measured
    similarity to the target (:func:`tlcore.tasks.measured_similarity`; synthetic families) and the
    per-seed ``spearman``, ``kendall``, ``top1_hit`` and ``regret`` of :func:`ranking_quality`.
    Baseline rows are repeated for every (scratch_steps, n_probe, k, aggregate). ``dry_run=True`` checks every
    argument and returns None before any training.
    """
    cfg = _config(training)
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
    protocols = _protocol_list(protocols, cfg.depth)
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
        scratch = {t: train_scratch(target, like, seeds, subsets=subsets, **{**training, "steps": t})
                   for t in (scratch_steps if measures else [])}
        for si, seed in enumerate(seeds):
            models = {name: src[0][si] for name, src in sources.items()}
            truth = {name: best[(name, n, seed)][0] for name in models}
            sub = target.subsample(n, seed)
            for setting, selector, s in _seed_scores(models, target, sub, seed, baselines, measures,
                                                     {t: nets[si] for t, nets in scratch.items()} or
                                                     {t: None for t in scratch_steps}, probes, ks, aggregates):
                quality = ranking_quality(s, truth)
                for name in models:
                    acc, t, f = best[(name, n, seed)]
                    rows.append({"family": family, **meta[name], "candidate": name, "n_target": n, **setting,
                                 "seed": seed, "selector": selector, "score": s[name], "best_acc": acc,
                                 "best_transfer_depth": int(t), "best_frozen_depth": int(f),
                                 "zero_shot_acc": zero_shot[(name, seed)], **quality})
    return pd.DataFrame(rows)


def _seed_scores(models, target, sub, seed, baselines, measures, scratch, probes, ks, aggregates):
    """Every selector's scores for one seed: yields (setting, selector, {candidate: score}).

    ``setting`` names the scratch training length, probe size, k and aggregate; the baselines do not
    depend on them and are repeated for each, so that every setting ranks the same selectors."""
    outputs = {name: source_outputs(model, sub.x_train) for name, model in models.items()}
    base = {b: {name: BASELINES[b](probs, feats, sub.y_train.numpy()) for name, (probs, feats) in outputs.items()}
            for b in baselines}
    for t_scratch, net in scratch.items():
        for p in probes:
            n_p = sub.n_train if p is None else p
            k_used = sorted({min(kk, n_p - 1) for kk in ks})  # the n_target probe: k capped at n_target - 1
            probe = _probe_inputs(target, p, sub, seed)
            reps = _selector_scores(models, probe, net, measures, aggregates, k_used) if measures else {}
            for agg, kk in itertools.product(aggregates, k_used):
                setting = {"scratch_steps": t_scratch, "n_probe": n_p, "k": kk, "aggregate": agg}
                for selector in measures:
                    yield setting, selector, reps[(agg, kk, selector)]
                for selector, s in base.items():
                    yield setting, selector, s


# --------------------------------------------------------------------------- representations


@torch.no_grad()
def linear_probe_accuracy(model: BlockModel, task: Task, n_train: int | None = None, seed: int = 0,
                          max_iter: int = 500) -> list[float]:
    """Target test accuracy of a logistic-regression readout on each block's features of ``model``.

    Features are standardised; the readout is fitted on ``n_train`` target training examples (all
    by default). Answers "which layer of this network holds the most useful features for the target?"
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_tr, y_tr = task.x_train, task.y_train
    if n_train is not None:
        idx = task.subsample_indices(n_train, seed)
        x_tr, y_tr = x_tr[idx], y_tr[idx]
    train_reps, test_reps = model.representations(x_tr), model.representations(task.x_test)
    accs = []
    for a, b in zip(train_reps, test_reps):
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
        clf.fit(a.numpy(), y_tr.numpy())
        accs.append(float(clf.score(b.numpy(), task.y_test.numpy())))
    return accs


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
    ``n_small`` target examples of that block's features) and ``"accuracy"`` rows (each network's
    own test accuracy).
    """
    seeds = list(seeds)
    cfg = _config(training)
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
        for name, model in (("source", src), ("target, plenty of data", net)):
            rows += [{"kind": "probe", "measure": "linear_probe", "network": name, "seed": s, "source_block": b,
                      "value": acc} for b, acc in enumerate(linear_probe_accuracy(model, pair.target, n_small, seed=s), 1)]
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
    cfg = _config(training)
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


# --------------------------------------------------------------------------- cells of a grid


def split_params(family: str, params: Mapping) -> tuple[dict, dict]:
    """Separate flat parameters into the task family's own (knobs, sizes) and the training ones."""
    check_known("task family", family, FAMILIES)
    family_names = set(inspect.signature(FAMILIES[family]).parameters) - {"seed"}
    training_names = set(TrainingConfig.__dataclass_fields__)
    pair_params, training = {}, {}
    for name, value in params.items():
        if name in family_names:
            pair_params[name] = value
        elif name in training_names:
            training[name] = value
        else:
            raise ValueError(f"unknown parameter {name!r} for a {family!r} experiment; expected "
                             f"one of {sorted(family_names | training_names)}")
    return pair_params, training


def depth_experiment(family: str = "teacher", n_targets: Sequence[int] = (50, 500),
                     protocols: Sequence | None = None, seeds: Sequence[int] = (0,), task_seed: int = 0,
                     n_val: int = 0, dry_run: bool = False, **params) -> pd.DataFrame | None:
    """One cell of a depth grid, from plain values: ``make_pair(family, **knobs)`` then :func:`depth_sweep`.

    ``params`` holds the family's knobs and sizes and the training settings, by name. All ``seeds``
    of a cell train together (their sources in one batched call, their targets in another).
    """
    pair_params, training = split_params(family, params)
    _config(training)
    if isinstance(seeds, (int, np.integer)):
        raise TypeError(f"seeds must be a list of integers, got {seeds!r}")
    pair = make_pair(family, seed=task_seed, **pair_params)
    return depth_sweep(pair, list(n_targets), protocols, seeds=list(seeds), n_val=n_val, dry_run=dry_run,
                       **training)


def selection_experiment(family: str = "teacher", knob: str | None = "alpha", values: Sequence = (0.0, 0.5, 1.0),
                         n_targets: Sequence[int] = (50,), seeds: Sequence[int] = (0,), task_seed: int = 0,
                         dry_run: bool = False, **params) -> pd.DataFrame | None:
    """One cell of a source-selection grid: :func:`source_selection` for its ``seeds``.

    With ``candidates`` in ``params`` (a list of knob settings), pass ``knob=None``."""
    if isinstance(seeds, (int, np.integer)):
        raise TypeError(f"seeds must be a list of integers, got {seeds!r}")
    return source_selection(family, knob, list(values), list(n_targets), seeds=list(seeds),
                            task_seed=task_seed, dry_run=dry_run, **params)


def representations_experiment(family: str = "teacher", n_small: int = 100, seeds: Sequence[int] = (0,),
                               measures: Sequence[str] = ("neighbourhood_overlap", "linear_cka"), k: int = 10,
                               n_probe: int = 1000, task_seed: int = 0, dry_run: bool = False,
                               **params) -> pd.DataFrame | None:
    """One cell of a representation grid: :func:`compare_representations` on ``make_pair(family, ...)``."""
    pair_params, training = split_params(family, params)
    _config(training)
    for m in measures:
        check_known("similarity measure", m, MEASURES)
    check_int("n_small", n_small, low=2)
    if isinstance(seeds, (int, np.integer)):
        raise TypeError(f"seeds must be a list of integers, got {seeds!r}")
    seeds = [check_int("seed", s) for s in seeds]
    pair = make_pair(family, seed=task_seed, **pair_params)
    if n_small > pair.target.n_train:
        raise ValueError(f"n_small={n_small} is larger than the target's training set ({pair.target.n_train})")
    if dry_run:
        return None
    return compare_representations(pair, n_small, seeds, measures, k, n_probe, **training)


def profiles_experiment(family: str = "hidden_manifold", n_targets: Sequence[int] = (50,),
                        seeds: Sequence[int] = (0, 1), measures: Sequence[str] = PROFILE_MEASURES, k: int = 10,
                        n_probe: int = 500, task_seed: int = 0, dry_run: bool = False, **params
                        ) -> pd.DataFrame | None:
    """One cell of a profile grid: :func:`similarity_profiles` on ``make_pair(family, ...)``."""
    pair_params, training = split_params(family, params)
    if isinstance(seeds, (int, np.integer)):
        raise TypeError(f"seeds must be a list of integers, got {seeds!r}")
    pair = make_pair(family, seed=task_seed, **pair_params)
    return similarity_profiles(pair, list(n_targets), list(seeds), list(measures), k, n_probe, dry_run=dry_run,
                               **training)


EXPERIMENTS = {"depth": depth_experiment, "source_selection": selection_experiment,
               "representations": representations_experiment, "profiles": profiles_experiment}


def training_defaults() -> dict:
    """The default training settings (part of every cell's cache key)."""
    return asdict(TrainingConfig())
