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

import json
import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from .experiments import (Run, TrainingConfig, candidate_sources, depth_sweep, evaluate_protocols, pretrain,
                          train_fresh)
from .models import BlockModel, build_like
from .progress import bar as progress_bar
from .profiles import calibrated_profile, normalised_profile, predict_protocol
from .seeds import derive_seed, torch_generator
from .selection import rank_sources
from .similarity import MEASURES
from .tasks import Task, TaskPair
from .transfer import PLAN_SETS, BlockPlan, plans_of
from .validation import check_int, check_known, resolve_device

__all__ = ["Advice", "advise", "target_task", "evaluate_advisor", "FORMAT_VERSION", "STRATEGIES"]

STRATEGIES = ("search", "similarity")

FORMAT_VERSION = 1


def _plain_json(value):
    """JSON-safe values: NaN and inf become null (strict parsers reject NaN), numpy scalars numbers."""
    if isinstance(value, dict):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_json(v) for v in value]
    if value is pd.NA or value is None:
        return None
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


@dataclass
class Advice:
    """What :func:`advise` found: ranked sources, every protocol tried, and the recommendation.

    ``protocols`` has one row per (source, protocol) with the mean and standard error over seeds
    of the validation accuracy; scratch training appears once, with ``source`` empty.
    ``recommendation`` holds the chosen source and protocol, its validation accuracy, and its
    paired margins over scratch and over the standard recipe ``(L, L)`` with their standard errors.
    """

    sources: pd.DataFrame
    protocols: pd.DataFrame
    recommendation: dict
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        """The advice as plain data (schema ``format_version`` 1, documented in the README)."""
        return _plain_json({"format_version": FORMAT_VERSION, "recommendation": self.recommendation,
                            "sources": self.sources.to_dict(orient="records"),
                            "protocols": self.protocols.to_dict(orient="records"),
                            "notes": list(self.notes)})

    def plot(self, path=None):
        """A figure of every protocol tried (validation accuracy per source); saved to ``path`` if given."""
        from .figures import plot_protocols

        r = self.recommendation
        title = (f"recommended: {r['protocol']}" + (f" from {r['source']!r}" if r["source"] else "")
                 + f" ({r.get('strategy', 'search')})")
        fig = plot_protocols(self.protocols, title=title)
        if path is not None:
            fig.savefig(path, dpi=110, bbox_inches="tight")
        return fig

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), allow_nan=False, **kw)

    def summary(self) -> str:
        """The recommendation in two or three sentences, margins with their standard errors."""
        r = self.recommendation
        if not r["source"]:
            what = "train from scratch (no source helps on the validation split)"
        elif r["transfer_depth"] is not None:
            what = (f"transfer from {r['source']!r} with protocol ({r['transfer_depth']}, {r['frozen_depth']}), "
                    f"{r['protocol']}")
        else:
            what = f"transfer every block of {r['source']!r} with the plan {r['protocol']}"
        lines = [f"Recommendation: {what}; validation accuracy {r['val_acc']:.3f} "
                 f"+- {r['val_sem']:.3f} (SE over {r['n_seeds']} seeds)."]
        for label, key in (("scratch", "scratch"), ("the standard recipe (L, L)", "standard")):
            margin, sem = r.get(f"margin_over_{key}"), r.get(f"margin_over_{key}_sem")
            if margin is None or not np.isfinite(margin):
                continue
            verdict = "" if abs(margin) > 2 * sem and sem > 0 else " (within noise)"
            lines.append(f"  {margin:+.3f} ± {sem:.3f} over {label}{verdict}")
        if "test_acc" in r:
            lines.append(f"  test accuracy after refitting on all the training data: {r['test_acc']:.3f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        table = self.protocols.copy()
        for column in ("val_acc", "val_sem"):
            table[column] = table[column].map(lambda v: f"{v:.3f}")
        lines = [self.summary(), "", "Candidate sources (best first, similarity to scratch networks):",
                 self.sources.round(3).to_string(index=False), "",
                 "Protocols tried (validation accuracy, mean and SE over seeds):",
                 table.to_string(index=False)]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)


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
    if not np.issubdtype(x.dtype, np.number) or not np.isfinite(x.astype(float)).all():
        raise ValueError("x must hold finite numbers (no NaN, inf or text)")
    if not (np.issubdtype(y.dtype, np.integer) or (np.issubdtype(y.dtype, np.floating)
                                                    and np.all(np.isfinite(y)) and np.all(y == np.round(y)))):
        raise ValueError(f"labels must be integers, got values such as {y[:3].tolist()}")
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
    networks as the floor, on all the target's training inputs) gives the protocol ``(d, 0)``
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
    g = per_seed.groupby(["source", "plan"]).val_acc
    table = pd.DataFrame({"val_acc": g.mean(), "val_sem": g.sem(ddof=1).fillna(0.0), "n_seeds": g.size()})
    table = table.reset_index()
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
        d = (wide[best.plan] - wide[other]).dropna().to_numpy()
        rec[f"margin_over_{key}"] = float(d.mean())
        rec[f"margin_over_{key}_sem"] = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
    return rec


def evaluate_advisor(family: str, knob: str, values: Sequence, task_seeds: Sequence[int], n_target: int,
                     family_params: dict | None = None, seeds: Sequence[int] = (0, 1), steps: int = 300,
                     modes: Sequence[tuple[str, str]] = (("search", "prefix"),), **training) -> pd.DataFrame:
    """How good is the advice? Compare it with the exhaustive search over sources and plans.

    For each task seed, a target and graded candidate sources are made (see
    :func:`tlcore.experiments.candidate_sources`), one network is pre-trained per candidate, and the
    advisor sees only ``n_target`` target examples, once per mode of ``modes``: a pair (strategy,
    protocol set), e.g. ``("search", "all")`` or ``("similarity", "prefix")``. Every (source, plan)
    of :data:`tlcore.transfer.PLAN_SETS` ``"all"`` is then trained on those examples and measured on
    the target's test set (mean over ``seeds``): the advice's accuracy, the best one, the standard
    recipe ``(L, L)`` from the advisor's top-ranked source and scratch. One row per (task seed, mode),
    with regrets (best minus accuracy), ``within_1pt`` and the networks the advice trained.
    """
    for strategy, kind in modes:
        check_known("strategy", strategy, STRATEGIES)
        check_known("protocol set", kind, PLAN_SETS)
    rows = []
    for task_seed in task_seeds:
        target, candidates = candidate_sources(family, knob, values, task_seed, family_params)
        sources = {name: pretrain(task, [0], family, **training) for name, task in candidates.items()}
        small = target.subsample(n_target, seed=task_seed)
        L = next(iter(sources.values()))[0][0].n_blocks
        plans = [p.code for p in PLAN_SETS["all"](L)]
        tables = []
        for name, task in candidates.items():
            pair = TaskPair(source=task, target=target, family=family, knobs={}, seed=task_seed)
            t = depth_sweep(pair, [n_target], plans, seeds=[0], sources=sources[name], steps=steps, **training)
            tables.append(t.assign(candidate=name))
        table = pd.concat(tables).groupby(["candidate", "plan"]).test_acc.mean()
        scratch = float(table.xs("R" * L, level="plan").mean())
        best_key, best = table.idxmax(), float(table.max())
        for strategy, kind in modes:
            advice = advise(Task(small.x_train, small.y_train, target.x_test[:0], target.y_test[:0],
                                 target.n_classes, target.name), {n: s[0][0] for n, s in sources.items()},
                            seeds=seeds, steps=steps, batch_size=training.get("batch_size", 128),
                            device=training.get("device", "auto"), strategy=strategy, protocols=kind)
            rec = advice.recommendation
            top_ranked = str(advice.sources.source.iloc[0])
            chosen = scratch if not rec["source"] else float(table[(rec["source"], rec["plan"])])
            standard = float(table[(top_ranked, "F" * L)])
            rows.append({"family": family, "task_seed": task_seed, "n_target": n_target,
                         "strategy": strategy if strategy == "similarity" else f"{strategy} ({kind})",
                         "advice_source": rec["source"], "advice_plan": rec["plan"], "best_source": best_key[0],
                         "best_plan": best_key[1], "advice_acc": chosen, "best_acc": best, "standard_acc": standard,
                         "scratch_acc": scratch, "regret": best - chosen, "standard_regret": best - standard,
                         "scratch_regret": best - scratch, "within_1pt": best - chosen <= 0.01,
                         "networks_trained": int(rec["networks_trained"])})
    return pd.DataFrame(rows)
