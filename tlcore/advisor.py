"""Answer "which source, how deep, frozen or fine-tuned?" for a user's own data and models.

1. Rank the candidate sources with the representation-based method (a network trained from scratch
   on the target, compared layer by layer with each source; :func:`tlcore.selection.rank_sources`).
2. For the best one or two sources, train every protocol ``(l, 0)``, ``(l, l)`` and ``(L, f)`` with the
   batched engine on a training split of the target data, several seeds at once, and measure each
   on a held-out validation split.
3. Recommend the protocol of highest mean validation accuracy, with its spread over seeds, next to
   scratch training and the standard recipe ``(L, L)``.

``strategy="similarity"`` is the cheap mode: step 2 is replaced by the calibrated profile of the
best-ranked source (:mod:`tlcore.profiles`), which says how many blocks to transfer without
training any candidate protocol; only the predicted protocol is trained, to report its accuracy.
"""
from __future__ import annotations

import time
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from .advice import FORMAT_VERSION, Advice
from .experiments import Run, TrainingConfig, evaluate_protocols, train_fresh
from .models import BlockModel, build_like
from .progress import bar as progress_bar
from .profiles import calibrated_profile, normalised_profile, predict_protocol
from .seeds import derive_seed, torch_generator
from .selection import rank_sources
from .similarity import MEASURES
from .stats import compare, summary
from .tasks import Task
from .transfer import PLAN_SETS, BlockPlan, plans_of
from .validation import check_int, check_known, resolve_device

__all__ = ["Advice", "advise", "target_task", "FORMAT_VERSION", "STRATEGIES"]

STRATEGIES = ("search", "similarity")


def target_task(x, y, x_test=None, y_test=None, name: str = "target", standardise: bool = True
                ) -> tuple[Task, np.ndarray]:
    """A :class:`Task` from user arrays, labels mapped to ``0..C-1``; returns it and the original classes.

    ``standardise`` (the default) rescales every feature to mean 0 and variance 1 with the training
    examples' statistics (applied to the test examples too; images ``(N, C, H, W)`` per channel,
    as torchvision's ``Normalize`` does): networks, and the similarity measures
    that rank sources, are sensitive to feature scales, and raw features with large ranges (wine's
    proline, in the hundreds) can make an unrelated source look best. Use the same setting for the
    sources' training data and the target. Raises ``ValueError`` naming the problem: empty data,
    wrong shapes, NaN/inf, non-integer labels.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.size == 0 or len(x) == 0:
        raise ValueError("the target data set is empty")
    if x.ndim not in (2, 4):
        raise ValueError(f"x must be a 2-D array (examples, features) or images (examples, channels, height, "
                         f"width), got shape {x.shape}")
    if y.shape != (len(x),):
        raise ValueError(f"y must hold one label per example: x has {len(x)} rows, y has shape {y.shape}")
    _check_features("x", x)
    _check_labels("y", y)
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(f"the target needs at least two classes, got {classes.tolist()}")
    lookup = {c: i for i, c in enumerate(classes.tolist())}

    def labels(v):
        return torch.as_tensor([lookup[c] for c in np.asarray(v).tolist()], dtype=torch.int64)

    if x_test is None:
        x_test, y_test = x[:0], y[:0]
    else:
        x_test, y_test = np.asarray(x_test), np.asarray(y_test)
        if x_test.shape[1:] != x.shape[1:] or y_test.shape != (len(x_test),):
            raise ValueError(f"x_test {x_test.shape} / y_test {y_test.shape} do not match x {x.shape}")
        _check_features("x_test", x_test)
        _check_labels("y_test", y_test)
        unknown = set(np.unique(y_test).tolist()) - set(lookup)
        if unknown:
            raise ValueError(f"y_test has classes {sorted(unknown)} that the training labels do not")
    x, x_test = x.astype(np.float64), x_test.astype(np.float64)
    if standardise:  # per feature, or per channel of images (over examples and positions)
        axes = 0 if x.ndim == 2 else (0, 2, 3)
        mean, std = x.mean(axes, keepdims=x.ndim > 2), x.std(axes, keepdims=x.ndim > 2)
        std[std == 0] = 1.0  # a constant feature stays constant (0)
        x, x_test = (x - mean) / std, (x_test - mean) / std
    return Task(torch.as_tensor(x, dtype=torch.float32), labels(y), torch.as_tensor(x_test, dtype=torch.float32),
                labels(y_test), len(classes), name), classes


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_features(name: str, x: np.ndarray) -> None:
    """Real, finite numbers that float32 (the networks' precision) holds: a NaN in the test set would
    otherwise be scored as one class, a complex value lose its imaginary part, 1e39 turn into inf."""
    if np.issubdtype(x.dtype, np.complexfloating):
        raise ValueError(f"{name} holds complex numbers ({x.dtype}); the features must be real")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"{name} must hold numbers, got values of type {x.dtype}")
    values = x.astype(np.float64)
    bad = int((~np.isfinite(values)).sum())
    if bad:
        raise ValueError(f"{name} holds {bad} NaN or inf value(s): the features must be finite numbers")
    largest = float(np.abs(values).max()) if values.size else 0.0
    if largest > _FLOAT32_MAX:
        raise ValueError(f"{name} holds values up to {largest:.3g}, beyond float32's range ({_FLOAT32_MAX:.3g}) "
                         "in which the networks compute; rescale the features")


def _check_labels(name: str, y: np.ndarray) -> None:
    if not (np.issubdtype(y.dtype, np.integer) or (np.issubdtype(y.dtype, np.floating)
                                                    and np.all(np.isfinite(y)) and np.all(y == np.round(y)))):
        raise ValueError(f"labels must be integers, got values such as {y[:3].tolist()} in {name}")


def _budget_protocols(plans: list[BlockPlan], n_blocks: int, keep: int) -> list[BlockPlan]:
    """The most informative ``keep`` plans: the standard recipe and fine-tuning first, then the rest."""
    first = [BlockPlan("F" * n_blocks), BlockPlan("T" * n_blocks)]
    order = [p for p in first if p in plans] + [p for p in plans if p not in first]
    return sorted(order[:max(1, keep)])


def _split(target: Task, val_fraction: float) -> Task:
    """The target's training set cut into a training part and a validation part (as the "test" set).

    Stratified: each class gives about ``val_fraction`` of its examples to validation, and at least 2
    to each side, so a protocol is never chosen on a class it was not validated on. A class with fewer
    than 4 examples is refused.
    """
    if not 0.05 <= val_fraction <= 0.8:
        raise ValueError(f"val_fraction={val_fraction!r} is out of range [0.05, 0.8]")
    g = torch_generator(0, "advisor-split")
    val, train = [], []
    for c in range(target.n_classes):
        members = torch.nonzero(target.y_train == c).flatten()
        n = len(members)
        if n < 4:
            raise ValueError(f"class {c} has {n} example(s) in the {target.n_train} target examples: at least 4 "
                             "per class are needed, 2 to train on and 2 to validate on")
        members = members[torch.randperm(n, generator=g)]
        k = min(max(2, round(val_fraction * n)), n - 2)
        val.append(members[:k])
        train.append(members[k:])
    val_idx, train_idx = torch.cat(val).sort().values, torch.cat(train).sort().values
    return Task(target.x_train[train_idx], target.y_train[train_idx], target.x_train[val_idx],
                target.y_train[val_idx], target.n_classes, target.name)


class _Clock:
    """The time budget, checked between training calls; reports by how much it was overshot."""

    def __init__(self, seconds: float | None):
        self.seconds, self.start = seconds, time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def spent(self) -> bool:
        return self.seconds is not None and self.elapsed() > self.seconds


def advise(target: Task, sources: Mapping[str, BlockModel], *, top_sources: int = 2,
           seeds: Sequence[int] = (0, 1, 2), val_fraction: float = 0.3, measure: str = "neighbourhood_overlap",
           budget_networks: int | None = None, budget_seconds: float | None = None, steps: int = 300,
           batch_size: int = 128, lr: float = 1e-3, device="auto", progress: bool | None = None,
           strategy: str = "search", profile_measure: str = "linear_cka", protocols: str = "prefix") -> Advice:
    """Rank ``sources`` for ``target`` and recommend ``(transfer_depth, frozen_depth)`` for the best ones.

    ``target`` is a :class:`Task` (see :func:`target_task`): its training set is split into training
    and validation parts; its test set, if not empty, is used once, to report the recommended
    protocol's accuracy after refitting on all the training data. The ranking trains one scratch
    network per seed, which also serve as the scratch baseline. ``budget_networks`` bounds the
    networks trained (fewer sources, then fewer protocols are tried); ``budget_seconds`` is checked
    between training calls, and the advice says when it was spent and by how much it was overshot.

    ``strategy="similarity"`` trains no candidate protocol: the best-ranked source's calibrated
    profile (``profile_measure``; the scratch networks of the other seeds serve as twins, untrained
    networks as the floor, on all the target's training inputs) gives the protocol ``(l, 0)``
    (:func:`tlcore.profiles.predict_protocol`; fine-tuned, the variant of lower regret on the
    transfer-depth chapter's maps), which alone is trained. It needs at least two seeds.

    ``protocols`` says what the search tries: ``"prefix"`` (the paper's protocols), ``"surgical"``
    (every block transferred, each trained or frozen) or ``"all"`` (both); see
    :data:`tlcore.transfer.PLAN_SETS`. Every protocol is reported with its per-block ``plan``.
    """
    check_known("similarity measure", measure, MEASURES)
    check_known("protocol set", protocols, PLAN_SETS)
    check_known("similarity measure", profile_measure, MEASURES)
    check_known("strategy", strategy, STRATEGIES)
    if not sources:
        raise ValueError("no candidate source models given")
    check_int("top_sources", top_sources, low=1)
    check_int("steps", steps, low=1)
    seeds = [check_int("seed", s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty: at least one seed is needed")
    if strategy == "similarity" and len(seeds) < 2:
        raise ValueError(f"strategy 'similarity' needs at least 2 seeds (scratch networks that serve as each "
                         f"other's twins), got {len(seeds)}")
    if budget_networks is not None:
        check_int("budget_networks", budget_networks, low=1)
    if budget_seconds is not None and not budget_seconds > 0:
        raise ValueError(f"budget_seconds={budget_seconds!r} must be positive")
    device = str(resolve_device(device))
    for name, model in sources.items():
        if model.in_dim != target.in_dim:
            raise ValueError(f"feature size mismatch: source {name!r} expects {model.in_dim} features, "
                             f"the target data has {target.in_dim}")
    train = _split(target, val_fraction)
    cfg = TrainingConfig(steps=steps, batch_size=batch_size, lr=lr, device=device)
    has_test = bool(target.x_test.shape[0])
    n_blocks = max(model.n_blocks for model in sources.values())
    kind, protocols = protocols, plans_of(protocols, n_blocks)
    chosen_count = min(top_sources, len(sources)) if strategy == "search" else 1
    notes = []
    if budget_networks is not None:
        # every network counts: the scratch networks, the protocols tried and the final refit
        overhead = len(seeds) * (2 if has_test else 1)
        room = budget_networks - overhead
        if room < len(seeds):
            raise ValueError(f"budget_networks={budget_networks} is too small: ranking and the final fit "
                             f"already train {overhead} networks, and each protocol needs {len(seeds)}")
        chosen_count = max(1, min(chosen_count, room // (3 * len(seeds))))
        keep = room // (chosen_count * len(seeds))
        if keep < len(protocols):
            protocols = _budget_protocols(protocols, n_blocks, keep)
            notes.append(f"budget of {budget_networks} networks: tried {len(protocols)} protocol(s) x "
                         f"{len(seeds)} seeds x {chosen_count} source(s) besides scratch")

    clock = _Clock(budget_seconds)
    bar = progress_bar(total=1 + chosen_count, desc="advise", unit="training call", enabled=progress)
    first = next(iter(sources.values()))
    scratch, scratch_val = train_fresh(train, seeds, "scratch", steps, like=first, cfg=cfg)
    ranking = rank_sources(scratch, train.x_train, sources, measure=measure, k=min(10, train.n_train - 1))
    bar.update()
    scratch_plan = "R" * first.n_blocks
    rows = [{"source": "", "plan": scratch_plan, "seed": s, "val_acc": float(a)} for s, a in zip(seeds, scratch_val)]
    profile = None
    if strategy == "similarity":
        name = str(ranking.source.iloc[0])
        source = sources[name]
        blank = [build_like(source, n_classes=train.n_classes, seed=derive_seed(s, "untrained", "init")) for s in seeds]
        twins = scratch[1:] + scratch[:1]  # same examples, another initialisation
        k = min(10, target.n_train - 1)
        profile = calibrated_profile(source, scratch, {"twin": twins, "floor": blank}, target.x_train,
                                     profile_measure, k=k)
        predicted = predict_protocol(profile, freeze=False)  # fine-tuned: the better variant on the phase maps
        predicted = BlockPlan.from_protocol(predicted, source.n_blocks)
        protocols = [predicted] if predicted.prefix.transfer_depth > 0 else []
        notes.append(f"strategy 'similarity': {profile_measure} profile of {name!r} relative to twin scratch "
                     f"networks (floor 0, twin 1), per block: "
                     + ", ".join(f"{v:.2f}" for v in normalised_profile(profile)))
    for name in list(ranking.source[:chosen_count]) if protocols else []:
        if clock.spent():
            notes.append(f"time budget of {budget_seconds:g} s spent after {clock.elapsed():.1f} s: "
                         f"source {name!r} not tried")
            continue
        source = sources[name]
        usable = [p for p in protocols if len(p.code) == source.n_blocks] if strategy == "similarity" else \
            _budget_protocols(plans_of(kind, source.n_blocks), source.n_blocks, len(protocols))
        runs = [Run(source, torch.arange(train.n_train), derive_seed(s, "target", "init"),
                    derive_seed(s, "target", "data")) for s in seeds]
        acc = evaluate_protocols(runs, usable, train, {"val": (train.x_test, train.y_test)}, cfg)["val"]
        rows += [{"source": name, "plan": p.code, "seed": s, "val_acc": float(acc[i, j])}
                 for i, s in enumerate(seeds) for j, p in enumerate(usable)]
        bar.update()
    bar.close()
    per_seed = pd.DataFrame(rows)
    table = _protocol_table(per_seed)
    best = table.iloc[0]
    if profile is not None:  # the prediction stands: the validation accuracy is reported, not used to choose
        best = table[table.plan == (predicted.code if protocols else scratch_plan)].iloc[0]
    recommendation = _recommendation(best, per_seed, sources, len(seeds))
    recommendation["strategy"] = strategy
    if profile is not None:
        recommendation["profile_measure"] = profile_measure
        recommendation["normalised_profile"] = [float(v) for v in normalised_profile(profile)]
    trained = len(per_seed)
    if has_test and clock.spent():
        notes.append(f"time budget of {budget_seconds:g} s spent after {clock.elapsed():.1f} s: the recommended "
                     "protocol was not refitted on all the data, so no test accuracy is reported")
    elif has_test:
        everything = torch.arange(target.n_train)
        if not best.source:
            _, test = train_fresh(target, seeds, "scratch", steps, like=first, cfg=cfg)
        else:
            runs = [Run(sources[best.source], everything, derive_seed(s, "target", "init"),
                        derive_seed(s, "target", "data")) for s in seeds]
            test = evaluate_protocols(runs, [best.plan], target, {"test": (target.x_test, target.y_test)}, cfg)["test"]
        recommendation["test_acc"] = float(np.mean(test))
        trained += len(seeds)
    recommendation.update(networks_trained=trained, seconds=clock.elapsed())
    if budget_seconds is not None and clock.elapsed() > budget_seconds:
        notes.append(f"time budget of {budget_seconds:g} s overshot by {clock.elapsed() - budget_seconds:.1f} s "
                     "(it is checked between training calls)")
    return Advice(ranking, table, recommendation, notes)


def _protocol_table(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Mean and SE over seeds per (source, plan), best first (ties: the cheaper prefix protocol first).

    ``transfer_depth``/``frozen_depth`` name a prefix protocol; they are empty (None) for a plan no
    prefix protocol expresses.
    """
    table = summary(per_seed, ["source", "plan"], "val_acc").rename(
        columns={"mean": "val_acc", "sem": "val_sem", "n": "n_seeds"})
    prefixes = [BlockPlan(code).prefix for code in table.plan]
    table.insert(1, "transfer_depth", pd.array([p.transfer_depth if p else None for p in prefixes], dtype="Int64"))
    table.insert(2, "frozen_depth", pd.array([p.frozen_depth if p else None for p in prefixes], dtype="Int64"))
    table.insert(4, "protocol", [BlockPlan(code).name for code in table.plan])
    order = [(-v, p is None, p.transfer_depth if p else 0, p.frozen_depth if p else 0, code)
             for v, p, code in zip(table.val_acc, prefixes, table.plan)]
    table = table.iloc[sorted(range(len(table)), key=order.__getitem__)]
    return table.reset_index(drop=True)


def _recommendation(best, per_seed: pd.DataFrame, sources: Mapping, n_seeds: int) -> dict:
    """The chosen plan with its paired margins over scratch and over (L, L) of the same source."""
    prefix = BlockPlan(best.plan).prefix
    rec = {"source": str(best.source), "plan": str(best.plan),
           "transfer_depth": prefix.transfer_depth if prefix else None,
           "frozen_depth": prefix.frozen_depth if prefix else None, "protocol": str(best.protocol),
           "val_acc": float(best.val_acc), "val_sem": float(best.val_sem), "n_seeds": n_seeds}
    if not best.source:
        rec["transfer_depth"], rec["frozen_depth"] = 0, 0
        return rec
    # scratch rows join the chosen source's rows, so that margins are paired by seed
    wide = per_seed[per_seed.source.isin(["", best.source])].pivot_table(index="seed", columns="plan", values="val_acc")
    L = sources[best.source].n_blocks
    for key, other in (("scratch", next(c for c in wide.columns if set(c) == {"R"})), ("standard", "F" * L)):
        if other == best.plan or other not in wide.columns:
            continue
        d = compare(wide[best.plan], wide[other])
        rec[f"margin_over_{key}"], rec[f"margin_over_{key}_sem"] = d.mean, d.sem
    return rec
