"""Statistics over seeds for protocol comparisons: paired differences, honest choices, tie-aware ranks.

Why this module exists: the gaps between transfer protocols are often of the size of the seed noise,
and picking the best protocol on the test set and reporting it on the same test set inflates its score
by about as much as the gains being reported. Every function here

* pairs by seed: within one ``seed`` all protocols share data and initialisation, so differences are
  taken seed by seed before averaging (the shared seed effect cancels);
* chooses on one set of numbers and reports on another (``val_acc`` vs ``test_acc``, or cross-fitting
  over seeds), so a reported score is not the maximum of noisy scores;
* says whether a margin is larger than twice its standard error.

Input: a tidy DataFrame with one row per trained network, the caller's grouping columns ``by``, integer
``transfer_depth``, ``frozen_depth`` and ``seed``, and score columns (``val_acc``, ``test_acc``).
A protocol is the pair ``(transfer_depth, frozen_depth)``; ties between protocols go to the shallower
transfer, then to fewer frozen layers (the cheaper choice). Outputs are tidy DataFrames with integer
protocol columns. Only numpy, pandas and scipy are used; random draws come from
``np.random.default_rng(seed)`` with an explicit ``seed``.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .kernel import compare, sem
from .tables import (PROTOCOL, Candidates, ProtocolKey, candidate_rows, check_count, complete_groups,
                     describe, frame, groups, protocol_pair, validated, wide)

__all__ = ["paired_difference", "choose_on_validation", "cross_fitted_choice", "optimality_probability",
           "winner_significance"]


def _ranked(means: Mapping[ProtocolKey, float]) -> list[ProtocolKey]:
    """Protocols from best to worst mean; ties to the shallower transfer, then fewer frozen."""
    return sorted(means, key=lambda p: (-means[p], p[0], p[1]))


def _means(g: pd.DataFrame, col: str) -> dict[ProtocolKey, float]:
    m = g.groupby(PROTOCOL, sort=True)[col].mean()
    return {(int(t), int(f)): float(v) for (t, f), v in m.items()}


# ---------------------------------------------------------------------------------------------------
# public API


def paired_difference(table: pd.DataFrame, a: ProtocolKey, b: ProtocolKey, by: Sequence[str] = (),
                      score: str = "test_acc") -> pd.DataFrame:
    """``score(a) - score(b)`` per group, paired seed by seed, so the shared seed effect cancels.

    Uses the seeds both protocols have. Columns: ``by`` + ``mean_diff`` (mean per-seed difference),
    ``diff_sem`` (ddof=1; 0 with one seed), ``n_seeds``, ``significant`` (|mean_diff| > 2 diff_sem and
    n_seeds >= 2). (Not ``diff``/``sem``: those are DataFrame methods and would hide attribute access.)
    """
    where = "paired_difference"
    df, by = validated(table, by, [score], where)
    a, b = protocol_pair(a, "a"), protocol_pair(b, "b")
    rows = []
    for key, g in groups(df, by):
        w = wide(g, score)
        for name, p in (("a", a), ("b", b)):
            if p not in w.columns:
                raise ValueError(f"{where}: protocol {name}={p} absent in {describe(key)}; "
                                 f"present: {list(w.columns)}")
        d = (w[a] - w[b]).dropna().to_numpy()
        if len(d) == 0:
            raise ValueError(f"{where}: protocols {a} and {b} share no seed in {describe(key)}")
        c = compare(d)
        diff, se, n, sig = c.mean, c.sem, c.n, c.significant
        rows.append({**key, "mean_diff": diff, "diff_sem": se, "n_seeds": n, "significant": sig})
    return frame(rows, by, df, ["mean_diff", "diff_sem", "n_seeds", "significant"])


def choose_on_validation(table: pd.DataFrame, by: Sequence[str] = (),
                         candidates: Candidates = None) -> pd.DataFrame:
    """Per group, the protocol of highest mean ``val_acc``, reported with its ``test_acc``.

    Choosing on validation and reporting on test keeps the reported score free of selection bias.
    ``candidates`` restricts the choice: a predicate ``(transfer_depth, frozen_depth) -> bool`` (e.g.
    ``lambda t, f: t == f`` for frozen transfer) or a list of ``(t, f)`` pairs.
    Columns: ``by`` + ``best_transfer_depth``, ``best_frozen_depth``, ``val_acc`` and ``test_acc``
    (means over seeds of the chosen protocol), ``test_sem``, ``n_seeds``.
    """
    where = "choose_on_validation"
    df, by = validated(table, by, ["val_acc", "test_acc"], where)
    df = candidate_rows(df, candidates, where)
    rows = []
    for key, g in groups(df, by):
        val = _means(g, "val_acc")
        t, f = _ranked(val)[0]
        test = g.test_acc[(g.transfer_depth == t) & (g.frozen_depth == f)].to_numpy()
        rows.append({**key, "best_transfer_depth": t, "best_frozen_depth": f, "val_acc": val[(t, f)],
                     "test_acc": float(test.mean()), "test_sem": sem(test), "n_seeds": len(test)})
    return frame(rows, by, df, ["best_transfer_depth", "best_frozen_depth", "val_acc", "test_acc",
                                 "test_sem", "n_seeds"])


def cross_fitted_choice(table: pd.DataFrame, by: Sequence[str] = (), folds: int = 2,
                        score: str = "test_acc", candidates: Candidates = None) -> pd.DataFrame:
    """Choose the protocol on some seeds and score it on the others, when there is no validation column.

    Seeds (sorted) go to ``folds`` folds round-robin. For each fold the protocol of best mean ``score``
    on the other folds is scored on this fold's seeds; the honest score is the mean of those held-out
    values over all seeds. It estimates what "pick the best protocol" delivers with ``(folds-1)/folds``
    of the seeds (slightly pessimistic), unlike the naive same-set maximum, which is biased upwards.
    Every protocol of a group needs every seed of the group.
    Columns: ``by`` + ``best_transfer_depth``, ``best_frozen_depth`` (chosen on all seeds), ``test_acc``
    (honest cross-fitted score), ``test_sem`` (SE over seeds of the held-out values), ``naive_test_acc``
    (the biased maximum over protocols of the mean on all seeds), ``n_folds_agreeing`` (folds whose
    choice equals the all-seed choice), ``n_seeds``.
    """
    where = "cross_fitted_choice"
    check_count(where, "folds", folds, 2)
    df, by = validated(table, by, [score], where)
    rows = []
    for key, w, m in complete_groups(df, by, score, candidates, where):
        n = len(m)
        if n < folds:
            raise ValueError(f"{where}: {n} seed(s) in {describe(key)}, fewer than folds={folds}")
        fold = np.arange(n) % folds
        held = np.empty(n)
        choices = []
        for k in range(folds):
            j = int(np.argmax(m[fold != k].mean(axis=0)))  # first maximum = tie rule (columns sorted)
            held[fold == k] = m[fold == k, j]
            choices.append(j)
        full = m.mean(axis=0)
        best = int(np.argmax(full))
        t, f = w.columns[best]
        rows.append({**key, "best_transfer_depth": t, "best_frozen_depth": f, "test_acc": float(held.mean()),
                     "test_sem": sem(held), "naive_test_acc": float(full[best]),
                     "n_folds_agreeing": sum(c == best for c in choices), "n_seeds": n})
    return frame(rows, by, df, ["best_transfer_depth", "best_frozen_depth", "test_acc", "test_sem",
                                 "naive_test_acc", "n_folds_agreeing", "n_seeds"])


def optimality_probability(table: pd.DataFrame, by: Sequence[str] = (), score: str = "val_acc",
                           n_boot: int = 1000, seed: int = 0,
                           candidates: Candidates = None) -> pd.DataFrame:
    """Per group and protocol, the bootstrap probability that the protocol has the best mean ``score``.

    Seeds are resampled with replacement and a resampled seed brings all its protocols, so the pairing
    is kept. Ties in a resample go to the shallower transfer, then fewer frozen. Every group draws from
    its own ``np.random.default_rng(seed)``, so a group's answer does not depend on the other groups.
    Every protocol of a group needs every seed of the group.
    Columns: ``by`` + ``transfer_depth``, ``frozen_depth``, ``p_optimal`` (sums to 1 per group).
    """
    where = "optimality_probability"
    check_count(where, "n_boot", n_boot, 1)
    df, by = validated(table, by, [score], where)
    rows = []
    for key, w, m in complete_groups(df, by, score, candidates, where):
        n, n_prot = m.shape
        rng = np.random.default_rng(seed)
        wins = np.zeros(n_prot, dtype=np.int64)
        block = max(1, 4_000_000 // (n * n_prot))  # bounds the memory of one batch of resamples
        for start in range(0, n_boot, block):
            idx = rng.integers(0, n, size=(min(block, n_boot - start), n))
            wins += np.bincount(m[idx].mean(axis=1).argmax(axis=1), minlength=n_prot)
        for (t, f), c in zip(w.columns, wins):
            rows.append({**key, "transfer_depth": t, "frozen_depth": f, "p_optimal": c / n_boot})
    return frame(rows, by, df, ["transfer_depth", "frozen_depth", "p_optimal"])


def winner_significance(table: pd.DataFrame, by: Sequence[str] = (), score: str = "test_acc",
                        choose_on: str = "val_acc", candidates: Candidates = None) -> pd.DataFrame:
    """Per group: is the chosen protocol really better than the alternatives? (a phase-diagram cell).

    The winner and runner-up are the two best protocols by mean ``choose_on`` (ties to the shallower
    transfer, then fewer frozen; ``candidates`` restricts both). Margins are paired per seed on
    ``score``: winner - runner-up, winner - scratch ``(0, 0)`` and winner - standard ``(L, L)`` with ``L``
    the deepest transfer in the group (scratch and standard need not be candidates). A margin against a
    protocol absent from the group is NaN; against the winner itself it is 0. ``significant`` means
    |margin| > 2 SE with at least two shared seeds.
    Columns: ``by`` + ``best_transfer_depth``, ``best_frozen_depth``, ``best_score``, ``best_score_sem``,
    ``n_seeds``, ``runner_up_transfer_depth``, ``runner_up_frozen_depth``, ``margin``, ``margin_sem``,
    ``significant``, ``scratch_margin``, ``scratch_sem``, ``scratch_significant``, ``standard_depth``,
    ``standard_margin``, ``standard_sem``, ``standard_significant``.
    """
    where = "winner_significance"
    df, by = validated(table, by, [score, choose_on], where)
    allowed = candidate_rows(df, candidates, where).index
    rows = []
    for key, g in groups(df, by):
        crit = _means(g.loc[g.index.intersection(allowed)], choose_on)
        if len(crit) < 2:
            raise ValueError(f"{where}: {describe(key)} has {len(crit)} candidate protocol(s); "
                             f"need two for a runner-up")
        best, runner = _ranked(crit)[:2]
        w = wide(g, score)
        L = int(g.transfer_depth.max())

        def margin(other: ProtocolKey) -> tuple[float, float, bool]:
            if other not in w.columns:
                return math.nan, math.nan, False
            if other == best:
                return 0.0, 0.0, False
            c = compare(w[best], w[other])
            return c.mean, c.sem, c.significant

        own = w[best].dropna().to_numpy()
        m, s, sig = margin(runner)
        m0, s0, sig0 = margin((0, 0))
        mL, sL, sigL = margin((L, L))
        rows.append({**key, "best_transfer_depth": best[0], "best_frozen_depth": best[1],
                     "best_score": float(own.mean()), "best_score_sem": sem(own), "n_seeds": len(own),
                     "runner_up_transfer_depth": runner[0], "runner_up_frozen_depth": runner[1],
                     "margin": m, "margin_sem": s, "significant": sig,
                     "scratch_margin": m0, "scratch_sem": s0, "scratch_significant": sig0,
                     "standard_depth": L, "standard_margin": mL, "standard_sem": sL,
                     "standard_significant": sigL})
    return frame(rows, by, df, ["best_transfer_depth", "best_frozen_depth", "best_score", "best_score_sem",
                                 "n_seeds", "runner_up_transfer_depth", "runner_up_frozen_depth", "margin",
                                 "margin_sem", "significant", "scratch_margin", "scratch_sem",
                                 "scratch_significant", "standard_depth", "standard_margin", "standard_sem",
                                 "standard_significant"])
