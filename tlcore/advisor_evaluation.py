"""How good is the advice? The advisor judged against the exhaustive search and the fixed recipes.

:func:`evaluate_advisor` runs the advisor on graded targets and trains every (source, plan) to know
the best one; :func:`regret_summary` and :func:`regret_comparison` read its table with the
statistics kernel (mean regret with its SE over targets, paired differences in words).
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from .advisor import STRATEGIES, advise
from .experiments import candidate_sources, depth_sweep, pretrain
from .stats import compare, sem
from .tasks import Task, TaskPair
from .transfer import PLAN_SETS
from .validation import check_known

__all__ = ["evaluate_advisor", "regret_summary", "regret_comparison"]


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
                         "advice_source": rec["source"] or "none (scratch)", "advice_plan": rec["plan"], "best_source": best_key[0],
                         "best_plan": best_key[1], "advice_acc": chosen, "best_acc": best, "standard_acc": standard,
                         "scratch_acc": scratch, "regret": best - chosen, "standard_regret": best - standard,
                         "scratch_regret": best - scratch, "within_1pt": best - chosen <= 0.01,
                         "networks_trained": int(rec["networks_trained"])})
    return pd.DataFrame(rows)


def regret_summary(evaluation: pd.DataFrame) -> pd.DataFrame:
    """One row per way of choosing (each advisor mode, the standard recipe from the advisor's top-ranked
    source, scratch): the share of targets within 1 point of the best, the mean regret with its SE over
    targets, and the networks trained (mean)."""
    strategies = list(dict.fromkeys(evaluation.strategy))
    by_strategy = {s: evaluation[evaluation.strategy == s] for s in strategies}
    search = by_strategy[strategies[0]]
    columns = [(f"advisor, {s}", g.regret, f"{g.networks_trained.mean():.0f}") for s, g in by_strategy.items()]
    columns += [("standard recipe (L, L)", search.standard_regret, "1"), ("scratch (0, 0)", search.scratch_regret, "1")]
    return pd.DataFrame({"within 1 point of the best": [float((r <= 0.01).mean()) for _, r, _ in columns],
                         "mean regret": [float(r.mean()) for _, r, _ in columns],
                         "SE": [sem(r) for _, r, _ in columns],
                         "networks trained (mean)": [n for _, _, n in columns]},
                        index=[name for name, _, _ in columns])


def regret_comparison(a, b) -> str:
    """``a``'s regret minus ``b``'s, paired by target, in words (``"within noise of"``, ``"worse than"``
    or ``"better than"``, with the difference and its SE)."""
    d = compare(list(a), list(b))
    side = {"tie": "within noise of", "higher": "worse than", "lower": "better than"}[d.word]
    return f"{side} ({d.text()} in regret)"
