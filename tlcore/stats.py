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
from typing import Callable, Hashable, Iterable, Iterator, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd

__all__ = ["paired_difference", "choose_on_validation", "cross_fitted_choice", "optimality_probability",
           "winner_significance", "tie_aware_ranks", "tied_with_best", "bootstrap_ci", "Interval"]

PROTOCOL = ["transfer_depth", "frozen_depth"]
SEED = "seed"
Protocol = tuple[int, int]
Candidates = Callable[[int, int], bool] | Iterable[Protocol] | None


# ---------------------------------------------------------------------------------------------------
# validation and grouping


def _as_list(by) -> list[str]:
    return [by] if isinstance(by, str) else list(by)


def _integer_column(df: pd.DataFrame, col: str, where: str) -> None:
    """Cast ``col`` to int64 in place, refusing values that are not whole numbers."""
    s = df[col]
    if s.isna().any():
        raise ValueError(f"{where}: column {col!r} has missing values")
    if pd.api.types.is_integer_dtype(s) and not pd.api.types.is_bool_dtype(s):
        df[col] = s.astype("int64")
        return
    if pd.api.types.is_float_dtype(s):
        v = s.to_numpy()
        if np.all(np.isfinite(v)) and np.all(v == np.round(v)):
            df[col] = v.astype("int64")
            return
    raise ValueError(f"{where}: column {col!r} must hold integers, got dtype {s.dtype}")


def _validated(table, by, scores: Sequence[str], where: str) -> tuple[pd.DataFrame, list[str]]:
    """The columns a function needs, checked once: present, non-empty, integer keys, finite scores,
    at most one row per (group, protocol, seed)."""
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"{where}: expected a pandas DataFrame, got {type(table).__name__}")
    by = _as_list(by)
    clash = [c for c in by if c in PROTOCOL + [SEED]]
    if clash:
        raise ValueError(f"{where}: grouping column(s) {clash} are protocol/seed columns")
    need = list(dict.fromkeys(by + PROTOCOL + [SEED] + list(scores)))
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise ValueError(f"{where}: missing column(s) {missing}; present: {list(table.columns)}")
    if table.empty:
        raise ValueError(f"{where}: empty table")
    df = table[need].reset_index(drop=True)
    for col in PROTOCOL + [SEED]:
        _integer_column(df, col, where)
    for col in dict.fromkeys(scores):
        if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            raise ValueError(f"{where}: score column {col!r} must be numeric, got dtype {df[col].dtype}")
        bad = int((~np.isfinite(df[col].to_numpy(dtype=float))).sum())
        if bad:
            raise ValueError(f"{where}: score column {col!r} has {bad} NaN/infinite value(s)")
    for col in by:
        if df[col].isna().any():
            raise ValueError(f"{where}: grouping column {col!r} has missing values")
    keys = by + PROTOCOL + [SEED]
    dup = df.duplicated(keys)
    if dup.any():
        i = df.index[dup.to_numpy()][0]
        raise ValueError(f"{where}: duplicate rows for {_describe({k: df.at[i, k] for k in by})}, protocol "
                         f"({df.at[i, 'transfer_depth']}, {df.at[i, 'frozen_depth']}), seed {df.at[i, SEED]}")
    return df, by


def _describe(key: Mapping) -> str:
    plain = {k: v.item() if isinstance(v, np.generic) else v for k, v in key.items()}
    return ", ".join(f"{k}={v!r}" for k, v in plain.items()) if key else "the whole table"


def _groups(df: pd.DataFrame, by: list[str]) -> Iterator[tuple[dict, pd.DataFrame]]:
    """``(group key as a dict, rows)`` in sorted key order; one group when ``by`` is empty."""
    if not by:
        yield {}, df
        return
    for key, g in df.groupby(by, sort=True, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        yield dict(zip(by, key)), g


def _frame(rows: list[dict], by: list[str], df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Rows to a DataFrame with the grouping columns in their input dtype."""
    out = pd.DataFrame(rows, columns=by + list(columns))
    for k in by:
        out[k] = out[k].astype(df[k].dtype)
    return out


def _protocol(p, name: str) -> Protocol:
    try:
        t, f = p
        return int(t), int(f)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (transfer_depth, frozen_depth) pair, got {p!r}") from None


def _wide(g: pd.DataFrame, score: str) -> pd.DataFrame:
    """Seeds x protocols table of ``score``; columns ``(t, f)`` sorted so the first is the tie winner."""
    w = g.pivot(index=SEED, columns=PROTOCOL, values=score)
    w.columns = [(int(t), int(f)) for t, f in w.columns]
    return w.sort_index().reindex(columns=sorted(w.columns))


def _complete(w: pd.DataFrame, key: Mapping, where: str) -> np.ndarray:
    """The seeds x protocols matrix, refusing a protocol that lacks some seeds (pairing would break)."""
    gaps = w.columns[w.isna().any().to_numpy()]
    if len(gaps):
        p = gaps[0]
        lack = [int(s) for s in w.index[w[p].isna()]]
        raise ValueError(f"{where}: protocol {p} lacks seed(s) {lack} in {_describe(key)}; every protocol "
                         f"needs every seed of its group")
    return w.to_numpy(dtype=float)


def _check_count(where: str, name: str, value, low: int) -> None:
    if not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{where}: {name} must be an integer >= {low}, got {value!r}")


def _complete_groups(df: pd.DataFrame, by: list[str], score: str, candidates, where: str):
    """Per group of a validated table: the key, the seeds x protocols table of ``score`` and its
    complete array (every protocol has every seed)."""
    df = _candidate_rows(df, candidates, where)
    for key, g in _groups(df, by):
        w = _wide(g, score)
        yield key, w, _complete(w, key, where)


def _candidate_rows(df: pd.DataFrame, candidates: Candidates, where: str) -> pd.DataFrame:
    """Rows of the protocols allowed by ``candidates``: ``None`` (all), a predicate ``(t, f) -> bool``,
    or a list of ``(t, f)`` pairs (each must occur somewhere in the table)."""
    if candidates is None:
        return df
    pairs = list(zip(df.transfer_depth, df.frozen_depth))
    if callable(candidates):
        keep = np.array([bool(candidates(t, f)) for t, f in pairs], dtype=bool)
    else:
        wanted = {_protocol(p, "candidates") for p in candidates}
        absent = sorted(wanted - set(pairs))
        if absent:
            raise ValueError(f"{where}: candidate protocol(s) {absent} absent from the table")
        keep = np.array([p in wanted for p in pairs], dtype=bool)
    if not keep.any():
        raise ValueError(f"{where}: no protocol of the table is a candidate")
    return df[keep]


# ---------------------------------------------------------------------------------------------------
# small statistics


def _sem(x: np.ndarray) -> float:
    """Standard error of the mean (ddof=1); 0 for a single value (``n_seeds`` tells the reader)."""
    x = np.asarray(x, dtype=float)
    return float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else 0.0


def _paired(d: np.ndarray) -> tuple[float, float, int, bool]:
    """Mean, SE, count and significance (|mean| > 2 SE with at least two seeds) of per-seed differences."""
    d = np.asarray(d, dtype=float)
    if len(d) == 0:
        return math.nan, math.nan, 0, False
    mean, se = float(d.mean()), _sem(d)
    return mean, se, len(d), bool(len(d) >= 2 and abs(mean) > 2 * se)


def _ranked(means: Mapping[Protocol, float]) -> list[Protocol]:
    """Protocols from best to worst mean; ties to the shallower transfer, then fewer frozen."""
    return sorted(means, key=lambda p: (-means[p], p[0], p[1]))


def _means(g: pd.DataFrame, col: str) -> dict[Protocol, float]:
    m = g.groupby(PROTOCOL, sort=True)[col].mean()
    return {(int(t), int(f)): float(v) for (t, f), v in m.items()}


# ---------------------------------------------------------------------------------------------------
# public API


def paired_difference(table: pd.DataFrame, a: Protocol, b: Protocol, by: Sequence[str] = (),
                      score: str = "test_acc") -> pd.DataFrame:
    """``score(a) - score(b)`` per group, paired seed by seed, so the shared seed effect cancels.

    Uses the seeds both protocols have. Columns: ``by`` + ``mean_diff`` (mean per-seed difference),
    ``diff_sem`` (ddof=1; 0 with one seed), ``n_seeds``, ``significant`` (|mean_diff| > 2 diff_sem and
    n_seeds >= 2). (Not ``diff``/``sem``: those are DataFrame methods and would hide attribute access.)
    """
    where = "paired_difference"
    df, by = _validated(table, by, [score], where)
    a, b = _protocol(a, "a"), _protocol(b, "b")
    rows = []
    for key, g in _groups(df, by):
        w = _wide(g, score)
        for name, p in (("a", a), ("b", b)):
            if p not in w.columns:
                raise ValueError(f"{where}: protocol {name}={p} absent in {_describe(key)}; "
                                 f"present: {list(w.columns)}")
        d = (w[a] - w[b]).dropna().to_numpy()
        if len(d) == 0:
            raise ValueError(f"{where}: protocols {a} and {b} share no seed in {_describe(key)}")
        diff, se, n, sig = _paired(d)
        rows.append({**key, "mean_diff": diff, "diff_sem": se, "n_seeds": n, "significant": sig})
    return _frame(rows, by, df, ["mean_diff", "diff_sem", "n_seeds", "significant"])


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
    df, by = _validated(table, by, ["val_acc", "test_acc"], where)
    df = _candidate_rows(df, candidates, where)
    rows = []
    for key, g in _groups(df, by):
        val = _means(g, "val_acc")
        t, f = _ranked(val)[0]
        test = g.test_acc[(g.transfer_depth == t) & (g.frozen_depth == f)].to_numpy()
        rows.append({**key, "best_transfer_depth": t, "best_frozen_depth": f, "val_acc": val[(t, f)],
                     "test_acc": float(test.mean()), "test_sem": _sem(test), "n_seeds": len(test)})
    return _frame(rows, by, df, ["best_transfer_depth", "best_frozen_depth", "val_acc", "test_acc",
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
    _check_count(where, "folds", folds, 2)
    df, by = _validated(table, by, [score], where)
    rows = []
    for key, w, m in _complete_groups(df, by, score, candidates, where):
        n = len(m)
        if n < folds:
            raise ValueError(f"{where}: {n} seed(s) in {_describe(key)}, fewer than folds={folds}")
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
                     "test_sem": _sem(held), "naive_test_acc": float(full[best]),
                     "n_folds_agreeing": sum(c == best for c in choices), "n_seeds": n})
    return _frame(rows, by, df, ["best_transfer_depth", "best_frozen_depth", "test_acc", "test_sem",
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
    _check_count(where, "n_boot", n_boot, 1)
    df, by = _validated(table, by, [score], where)
    rows = []
    for key, w, m in _complete_groups(df, by, score, candidates, where):
        n, n_prot = m.shape
        rng = np.random.default_rng(seed)
        wins = np.zeros(n_prot, dtype=np.int64)
        block = max(1, 4_000_000 // (n * n_prot))  # bounds the memory of one batch of resamples
        for start in range(0, n_boot, block):
            idx = rng.integers(0, n, size=(min(block, n_boot - start), n))
            wins += np.bincount(m[idx].mean(axis=1).argmax(axis=1), minlength=n_prot)
        for (t, f), c in zip(w.columns, wins):
            rows.append({**key, "transfer_depth": t, "frozen_depth": f, "p_optimal": c / n_boot})
    return _frame(rows, by, df, ["transfer_depth", "frozen_depth", "p_optimal"])


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
    df, by = _validated(table, by, [score, choose_on], where)
    allowed = _candidate_rows(df, candidates, where).index
    rows = []
    for key, g in _groups(df, by):
        crit = _means(g.loc[g.index.intersection(allowed)], choose_on)
        if len(crit) < 2:
            raise ValueError(f"{where}: {_describe(key)} has {len(crit)} candidate protocol(s); "
                             f"need two for a runner-up")
        best, runner = _ranked(crit)[:2]
        w = _wide(g, score)
        L = int(g.transfer_depth.max())

        def margin(other: Protocol) -> tuple[float, float, bool]:
            if other not in w.columns:
                return math.nan, math.nan, False
            if other == best:
                return 0.0, 0.0, False
            mean, se, _, sig = _paired((w[best] - w[other]).dropna().to_numpy())
            return mean, se, sig

        own = w[best].dropna().to_numpy()
        m, s, sig = margin(runner)
        m0, s0, sig0 = margin((0, 0))
        mL, sL, sigL = margin((L, L))
        rows.append({**key, "best_transfer_depth": best[0], "best_frozen_depth": best[1],
                     "best_score": float(own.mean()), "best_score_sem": _sem(own), "n_seeds": len(own),
                     "runner_up_transfer_depth": runner[0], "runner_up_frozen_depth": runner[1],
                     "margin": m, "margin_sem": s, "significant": sig,
                     "scratch_margin": m0, "scratch_sem": s0, "scratch_significant": sig0,
                     "standard_depth": L, "standard_margin": mL, "standard_sem": sL,
                     "standard_significant": sigL})
    return _frame(rows, by, df, ["best_transfer_depth", "best_frozen_depth", "best_score", "best_score_sem",
                                 "n_seeds", "runner_up_transfer_depth", "runner_up_frozen_depth", "margin",
                                 "margin_sem", "significant", "scratch_margin", "scratch_sem",
                                 "scratch_significant", "standard_depth", "standard_margin", "standard_sem",
                                 "standard_significant"])


def _checked_scores(scores: Mapping, sems: Mapping, where: str) -> list[tuple[Hashable, float, float]]:
    if not scores:
        raise ValueError(f"{where}: no candidates")
    if set(scores) != set(sems):
        raise ValueError(f"{where}: scores and sems name different candidates: only in scores "
                         f"{sorted(map(str, set(scores) - set(sems)))}, only in sems "
                         f"{sorted(map(str, set(sems) - set(scores)))}")
    out = []
    for name in scores:
        s, e = float(scores[name]), float(sems[name])
        if not math.isfinite(s) or not math.isfinite(e) or e < 0:
            raise ValueError(f"{where}: candidate {name!r} needs a finite score and a finite sem >= 0, "
                             f"got {s} +- {e}")
        out.append((name, s, e))
    return sorted(out, key=lambda c: (-c[1], str(c[0])))  # order-independent: by score, then by name


def _tied(top: tuple, other: tuple) -> bool:
    """Within 2 combined standard errors: |difference| <= 2 sqrt(se1^2 + se2^2)."""
    return abs(top[1] - other[1]) <= 2 * math.hypot(top[2], other[2])


def tie_aware_ranks(scores: Mapping[Hashable, float], sems: Mapping[Hashable, float]) -> dict:
    """Ranks (1 = best) in which candidates indistinguishable from the head of their group share a rank.

    Grouping rule: sort by score, highest first (equal scores by name, so the input order never
    matters). The first candidate opens a tie group; the following ones join it while their score is
    within 2 sqrt(se_head^2 + se^2) of the head's; the first that is not opens the next group, and so on.
    Groups are contiguous, so ranks never improve as scores fall. Members share the average of the
    positions they occupy (two tied at the top get 1.5 each).
    """
    ordered = _checked_scores(scores, sems, "tie_aware_ranks")
    ranks, start = {}, 0
    while start < len(ordered):
        stop = start + 1
        while stop < len(ordered) and _tied(ordered[start], ordered[stop]):
            stop += 1
        shared = (start + 1 + stop) / 2  # average of positions start+1 .. stop
        for name, _, _ in ordered[start:stop]:
            ranks[name] = shared
        start = stop
    return ranks


def tied_with_best(scores: Mapping[Hashable, float], sems: Mapping[Hashable, float]) -> set:
    """The candidates not distinguishable from the top one: within 2 sqrt(se_top^2 + se^2) of its score.

    Includes the top one. Unlike the contiguous groups of :func:`tie_aware_ranks`, a very uncertain
    candidate below a clearly worse but certain one still counts as tied with the best here.
    """
    ordered = _checked_scores(scores, sems, "tied_with_best")
    return {c[0] for c in ordered if _tied(ordered[0], c)}


class Interval(NamedTuple):
    """A bootstrap percentile interval around the statistic of the original sample."""
    estimate: float
    low: float
    high: float


def bootstrap_ci(values_by_seed, stat: Callable = np.mean, n_boot: int = 2000, level: float = 0.95,
                 seed: int = 0) -> Interval:
    """Percentile bootstrap interval of ``stat`` over seeds.

    ``values_by_seed`` has one entry (a number, or a row of numbers) per seed along axis 0; resamples draw
    whole rows with replacement, so what a seed measured stays together (e.g. a rank correlation between
    per-source accuracies and scores). ``stat`` maps such an array to a number. Resamples whose
    statistic is not finite (e.g. a correlation of constant values) are dropped.
    """
    where = "bootstrap_ci"
    x = np.asarray(values_by_seed)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"{where}: values_by_seed must have at least one seed along axis 0")
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"{where}: n_boot must be a positive integer, got {n_boot!r}")
    if not 0 < level < 1:
        raise ValueError(f"{where}: level must lie in (0, 1), got {level!r}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    reps = np.array([float(stat(x[i])) for i in idx])
    reps = reps[np.isfinite(reps)]
    estimate = float(stat(x))
    if len(reps) == 0:
        return Interval(estimate, math.nan, math.nan)
    low, high = np.percentile(reps, [50 * (1 - level), 50 * (1 + level)])
    return Interval(estimate, float(low), float(high))
