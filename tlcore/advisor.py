"""Answer "which source, how deep, frozen or fine-tuned?" for a user's own data and models.

1. Rank the candidate sources with the representation-based method (a network trained from scratch
   on the target, compared layer by layer with each source; :func:`tlcore.selection.rank_sources`).
2. For the best one or two sources, train every protocol ``(l, 0)``, ``(l, l)`` and ``(L, f)`` with the
   batched engine on a training split of the target data, several seeds at once, and measure each
   on a held-out validation split.
3. Recommend the protocol of highest mean validation accuracy, with its spread over seeds, next to
   scratch training and the standard recipe ``(L, L)``.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from .models import BlockModel
from .selection import rank_sources
from .tasks import Task
from .train import fit
from .transfer import Protocol, all_protocols, transfer
from .validation import check_int, check_known

__all__ = ["Advice", "advise", "target_task", "candidate_protocols", "evaluate_advisor"]


@dataclass
class Advice:
    """What :func:`advise` found: ranked sources, every protocol tried, and the recommendation."""

    sources: pd.DataFrame
    protocols: pd.DataFrame
    recommendation: dict
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"recommendation": self.recommendation,
                "sources": self.sources.to_dict(orient="records"),
                "protocols": self.protocols.to_dict(orient="records"),
                "notes": list(self.notes)}

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), default=float, **kw)

    def __str__(self) -> str:
        r = self.recommendation
        lines = ["Candidate sources (best first):", self.sources.to_string(index=False), "",
                 "Protocols tried (validation accuracy over seeds):",
                 self.protocols.to_string(index=False), "",
                 f"Recommendation: transfer from {r['source']!r} with protocol "
                 f"({r['transfer_depth']}, {r['frozen_depth']}) = {r['protocol']}: validation accuracy "
                 f"{r['val_acc']:.3f} +- {r['val_acc_std']:.3f}; scratch {r['scratch_acc']:.3f}, "
                 f"standard (L, L) {r['standard_acc']:.3f}."]
        if "test_acc" in r:
            lines.append(f"Test accuracy of the recommended protocol: {r['test_acc']:.3f}.")
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)


def target_task(x, y, x_test=None, y_test=None, name: str = "target") -> tuple[Task, np.ndarray]:
    """A :class:`Task` from user arrays, labels mapped to ``0..C-1``; returns it and the original classes.

    Raises ``ValueError`` naming the problem: empty data, wrong shapes, NaN/inf, non-integer labels.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.size == 0 or len(x) == 0:
        raise ValueError("the target data set is empty")
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D array (examples, features), got shape {x.shape}")
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
        if x_test.ndim != 2 or x_test.shape[1] != x.shape[1] or y_test.shape != (len(x_test),):
            raise ValueError(f"x_test {x_test.shape} / y_test {y_test.shape} do not match x {x.shape}")
        unknown = set(np.unique(y_test).tolist()) - set(lookup)
        if unknown:
            raise ValueError(f"y_test has classes {sorted(unknown)} that the training labels do not")
    return Task(torch.as_tensor(x, dtype=torch.float32), labels(y), torch.as_tensor(x_test, dtype=torch.float32),
                labels(y_test), len(classes), name), classes


def candidate_protocols(n_blocks: int) -> list[Protocol]:
    """Every protocol the advisor tries: ``(l, 0)``, ``(l, l)`` for all ``l`` and defrosting ``(L, f)``."""
    return sorted(set(all_protocols(n_blocks)) | {Protocol.defrost(n_blocks, d) for d in range(n_blocks + 1)})


def _budget_protocols(protocols: list[Protocol], n_blocks: int, keep: int) -> list[Protocol]:
    """The most informative ``keep`` protocols: scratch and the standard recipe first, then the rest."""
    first = [Protocol(0, 0), Protocol(n_blocks, n_blocks), Protocol(n_blocks, 0)]
    order = [p for p in first if p in protocols] + [p for p in protocols if p not in first]
    return sorted(order[:max(1, keep)])


def advise(target: Task, sources: Mapping[str, BlockModel], *, top_sources: int = 2,
           seeds: Sequence[int] = (0, 1, 2), val_fraction: float = 0.3, measure: str = "neighbourhood_overlap",
           budget_networks: int | None = None, budget_seconds: float | None = None, steps: int = 300,
           batch_size: int = 128, lr: float = 1e-3, device="auto", progress: bool | None = None) -> Advice:
    """Rank ``sources`` for ``target`` and recommend ``(transfer_depth, frozen_depth)`` for the best ones.

    ``target`` is a :class:`Task` (its training set is split into training and validation parts; its
    test set, if not empty, is used once to report the recommended protocol's test accuracy).
    ``budget_networks`` bounds the networks trained (fewer protocols, then fewer seeds, are tried);
    ``budget_seconds`` stops trying further sources once spent (the advice says so).
    """
    import sys

    from tqdm import tqdm

    check_known("selection measure", measure, ["neighbourhood_overlap", "linear_cka", "debiased_cka",
                                               "rbf_cka", "information_imbalance"])
    if not sources:
        raise ValueError("no candidate source models given")
    check_int("top_sources", top_sources, low=1)
    seeds = [int(s) for s in seeds]
    if not 0.05 <= val_fraction <= 0.8:
        raise ValueError(f"val_fraction={val_fraction!r} is out of range [0.05, 0.8]")
    for name, model in sources.items():
        if model.in_dim != target.in_dim:
            raise ValueError(f"feature size mismatch: source {name!r} expects {model.in_dim} features, "
                             f"the target data has {target.in_dim}")
    depths = {model.n_blocks for model in sources.values()}
    n_val = max(1, int(round(val_fraction * target.n_train)))
    if target.n_train - n_val < 2:
        raise ValueError(f"the target has {target.n_train} examples: too few to split off a validation set")
    start = time.perf_counter()
    notes = []
    perm = torch.randperm(target.n_train, generator=torch.Generator().manual_seed(12345))
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    train = Task(target.x_train[train_idx], target.y_train[train_idx], target.x_train[val_idx],
                 target.y_train[val_idx], target.n_classes, target.name)

    bar = tqdm(total=1 + min(top_sources, len(sources)), desc="advise", unit="step",
               disable=not sys.stderr.isatty() if progress is None else not progress)
    ranking = rank_sources(train, train.x_train, sources, measure=measure, k=min(10, train.n_train - 1),
                           seeds=seeds, steps=steps, batch_size=batch_size, lr=lr, device=device)
    bar.update()

    chosen = list(ranking.source[:top_sources])
    n_blocks = max(depths)
    protocols = candidate_protocols(n_blocks)
    if budget_networks is not None:
        # Every network counts: the scratch ones behind the ranking, the protocols tried, and the
        # final refit on all the data when a test set is given.
        check_int("budget_networks", budget_networks, low=1)
        overhead = len(seeds) * (2 if target.x_test.shape[0] else 1)
        room = budget_networks - overhead
        if room < len(seeds):
            raise ValueError(f"budget_networks={budget_networks} is too small: ranking and the final fit "
                             f"already train {overhead} networks, and each protocol needs {len(seeds)}")
        chosen = chosen[:max(1, min(len(chosen), room // (3 * len(seeds))))]
        keep = room // (len(chosen) * len(seeds))
        if keep < len(protocols):
            protocols = _budget_protocols(protocols, n_blocks, keep)
            notes.append(f"budget of {budget_networks} networks: tried {len(protocols)} protocol(s) x "
                         f"{len(seeds)} seeds x {len(chosen)} source(s)")

    rows, trained_any = [], False
    for name in chosen:
        if budget_seconds is not None and trained_any and time.perf_counter() - start > budget_seconds:
            notes.append(f"time budget of {budget_seconds:g} s spent: source {name!r} not tried")
            continue
        source = sources[name]
        usable = [p for p in protocols if p.transfer_depth <= source.n_blocks]
        members = [transfer(source, p, train.n_classes, seed=1000 + s) for s in seeds for p in usable]
        everything = torch.arange(train.n_train)
        ens = fit(members, train.x_train, train.y_train, [everything] * len(members),
                  [s for s in seeds for _ in usable], steps=steps, batch_size=batch_size, lr=lr, device=device)
        acc = ens.accuracy(train.x_test, train.y_test).reshape(len(seeds), len(usable))
        for j, p in enumerate(usable):
            rows.append({"source": name, "transfer_depth": p.transfer_depth, "frozen_depth": p.frozen_depth,
                         "protocol": p.name, "val_acc": float(acc[:, j].mean()),
                         "val_acc_std": float(acc[:, j].std()), "n_seeds": len(seeds)})
        trained_any = True
        bar.update()
    bar.close()
    table = pd.DataFrame(rows).sort_values("val_acc", ascending=False, kind="stable").reset_index(drop=True)
    best = table.iloc[0]
    top = table[table.source == best.source]
    L = sources[best.source].n_blocks

    def acc_of(t, f):
        hit = top[(top.transfer_depth == t) & (top.frozen_depth == f)]
        return float(hit.val_acc.iloc[0]) if len(hit) else float("nan")

    recommendation = {"source": str(best.source), "transfer_depth": int(best.transfer_depth),
                      "frozen_depth": int(best.frozen_depth), "protocol": str(best.protocol),
                      "val_acc": float(best.val_acc), "val_acc_std": float(best.val_acc_std),
                      "scratch_acc": acc_of(0, 0), "standard_acc": acc_of(L, L),
                      "networks_trained": (len(table) + 1 + bool(target.x_test.shape[0])) * len(seeds),
                      "seconds": time.perf_counter() - start}
    if target.x_test.shape[0]:
        p = Protocol(recommendation["transfer_depth"], recommendation["frozen_depth"])
        members = [transfer(sources[best.source], p, target.n_classes, seed=1000 + s) for s in seeds]
        ens = fit(members, target.x_train, target.y_train, [torch.arange(target.n_train)] * len(seeds), seeds,
                  steps=steps, batch_size=batch_size, lr=lr, device=device)
        recommendation["test_acc"] = float(ens.accuracy(target.x_test, target.y_test).mean())
    return Advice(ranking.drop(columns=["measure", "aggregate"]), table, recommendation, notes)


def evaluate_advisor(family: str, knob: str, values: Sequence, task_seeds: Sequence[int], n_target: int,
                     family_params: dict | None = None, seeds: Sequence[int] = (0, 1), steps: int = 300,
                     **training) -> pd.DataFrame:
    """How good is the advice? Compare it with the exhaustive search over sources and protocols.

    For each task seed, a target and graded candidate sources are made (see
    :func:`tlcore.sweep.candidate_sources`), one network is pre-trained per candidate, and the
    advisor sees only ``n_target`` target examples. Every (source, protocol) is then trained on those
    examples and measured on the target's test set (mean over ``seeds``): the advice's accuracy, the
    best one, and the standard recipe ``(L, L)`` from the advisor's top-ranked source and scratch.
    One row per task seed, with regrets (best minus accuracy) and ``within_1pt``.
    """
    from .sweep import TaskPair, candidate_sources, depth_sweep, pretrain

    rows = []
    for task_seed in task_seeds:
        target, candidates = candidate_sources(family, knob, values, task_seed, family_params)
        sources = {name: pretrain(task, [0], family, **training) for name, task in candidates.items()}
        small = target.subsample(n_target, seed=task_seed)
        advice = advise(Task(small.x_train, small.y_train, target.x_test[:0], target.y_test[:0], target.n_classes,
                             target.name), {n: s[0][0] for n, s in sources.items()}, seeds=seeds, steps=steps,
                        batch_size=training.get("batch_size", 128), device=training.get("device", "auto"))
        L = next(iter(sources.values()))[0][0].n_blocks
        tables = []
        for name, task in candidates.items():
            pair = TaskPair(source=task, target=target, family=family, knobs={}, seed=task_seed)
            t = depth_sweep(pair, [n_target], candidate_protocols(L), seeds=[0], sources=sources[name],
                            steps=steps, **training)
            tables.append(t.assign(candidate=name))
        table = pd.concat(tables).groupby(["candidate", "transfer_depth", "frozen_depth"]).test_acc.mean()
        rec = advice.recommendation
        top_ranked = str(advice.sources.source.iloc[0])
        chosen = float(table[(rec["source"], rec["transfer_depth"], rec["frozen_depth"])])
        best_key = table.idxmax()
        best = float(table.max())
        standard = float(table[(top_ranked, L, L)])
        scratch = float(table.xs((0, 0), level=["transfer_depth", "frozen_depth"]).mean())
        rows.append({"family": family, "task_seed": task_seed, "n_target": n_target,
                     "advice": f"{rec['source']} ({rec['transfer_depth']}, {rec['frozen_depth']})",
                     "best": f"{best_key[0]} ({best_key[1]}, {best_key[2]})",
                     "advice_acc": chosen, "best_acc": best, "standard_acc": standard, "scratch_acc": scratch,
                     "regret": best - chosen, "standard_regret": best - standard,
                     "scratch_regret": best - scratch, "within_1pt": best - chosen <= 0.01})
    return pd.DataFrame(rows)
