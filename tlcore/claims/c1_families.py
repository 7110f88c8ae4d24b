"""C1 read as the paper states it: the depth of each protocol family, within rows and within columns.

The pooled correlation of :mod:`.c1` counts every (L, f) as depth L, pools the source row (knob = 0)
and reads one arg-max winner, whose ties set the sign. Here:

* the depth is read within a protocol family: the transfer depth l of the fine-tuned ``(l, 0)`` and
  of the frozen ``(l, l)`` protocols, and the frozen depth f of the defrosted ``(L, f)`` ones;
* a cell's depth is the mean depth of the family's protocols *within noise of its best* (paired by
  replicate on validation, within 2 SE with the SE over task instances when they are the replicate
  units: the kernel's rule), so no tie-break enters (the other rules of :data:`TIE_RULES` are there
  to show that);
* dependence on the data is read within each knob row (knob = 0 excluded), dependence on similarity
  within each ``n_target`` column: the statistic is the mean Spearman correlation over rows (or
  columns), and its p-value comes from permuting the depths within each row (column), a test whose
  error rate is known whatever the cells' noise.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from ..stats import compare_columns, holm, replicate_clusters
from ..transfer import PROTOCOL_FAMILIES
from .cells import protocol_tables
from .verdict import Verdict, claim_word

__all__ = ["TIE_RULES", "family_depths", "within_correlation", "c1_by_family", "verdict_c1_by_family", "C1_ALPHA"]

C1_ALPHA = 0.05  # the level of each family's two permutation tests, fixed before the maps were judged


def _depth_of(family: str, t: int, f: int) -> int:
    return f if family.startswith("defrost") else t


TIE_RULES = ("within noise", "arg-max", "shallowest", "deepest")  # the first is the verdict's; the rest for robustness


def family_depths(table: pd.DataFrame, knob: str, tie: str = "within noise") -> pd.DataFrame:
    """Per cell and protocol family, the depth of the family's best protocols on validation.

    ``tie`` (one of :data:`TIE_RULES`): the mean depth of the protocols within noise of the family's
    best (paired by replicate, the SE over task instances when they are the replicate units; the
    kernel's 2 SE rule), the arg-max alone, or the shallowest or deepest of the protocols within
    noise. Columns ``knob``, ``n_target``, ``family``, ``depth``."""
    if tie not in TIE_RULES:
        raise ValueError(f"tie={tie!r}; expected one of {list(TIE_RULES)}")
    L = int(table.transfer_depth.max())
    rows = []
    for (value, n), wide in protocol_tables(table, [knob, "n_target"], "seed", values=("val_acc",)):
        val = wide["val_acc"]
        clusters = replicate_clusters(table, val.index)
        for family, keep in PROTOCOL_FAMILIES.items():
            members = [p for p in val.columns if keep(p[0], p[1], L)]
            best = max(members, key=lambda p: val[p].mean())
            rivals = [p for p in members if p != best]
            tied = {p: c.word == "tie" for p, c in zip(rivals, compare_columns(val[best], val[rivals], clusters))}
            near = [p for p in members if p == best or tied[p]]
            depths = [_depth_of(family, t, f) for t, f in ([best] if tie == "arg-max" else near)]
            depth = min(depths) if tie == "shallowest" else max(depths) if tie == "deepest" else np.mean(depths)
            rows.append({knob: value, "n_target": n, "family": family, "depth": float(depth)})
    return pd.DataFrame(rows)


def _spearman_rows(depths: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of ``depths`` (shape (P, m)) with ``x`` (average ranks)."""
    rd = scipy_stats.rankdata(depths, axis=1)
    rx = scipy_stats.rankdata(x)
    rd = rd - rd.mean(axis=1, keepdims=True)
    rx = rx - rx.mean()
    return (rd @ rx) / np.sqrt((rd ** 2).sum(axis=1) * (rx ** 2).sum())


def within_correlation(depth, x, groups, n_perm: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Mean within-group Spearman correlation of ``depth`` with ``x`` and its two-sided permutation
    p-value (depths shuffled within each group; ``(count + 1) / (n_perm + 1)``). Groups of fewer than
    three cells, or where depth or ``x`` is constant, do not enter the mean (0 when none is left)."""
    depth, x, groups = (np.asarray(a, dtype=float) for a in (depth, x, groups))
    rng = np.random.default_rng(seed)
    observed, shuffled = [], []
    for g in np.unique(groups):
        d, v = depth[groups == g], x[groups == g]
        if len(d) > 2 and np.ptp(d) > 0 and np.ptp(v) > 0:
            observed.append(_spearman_rows(d[None, :], v)[0])
            shuffled.append(_spearman_rows(rng.permuted(np.tile(d, (n_perm, 1)), axis=1), v))
    if not observed:
        return 0.0, 1.0
    rho = float(np.mean(observed))
    count = int(np.sum(np.abs(np.mean(shuffled, axis=0)) >= abs(rho) - 1e-12))
    return rho, (count + 1) / (n_perm + 1)


def _p_text(p: float) -> str:
    """A permutation p-value as read: three decimals, or one significant digit below 0.001 (the smallest
    a run of 2,000 permutations can give is 0.0005, which three decimals would show as 0.000)."""
    return f"p {p:.3f}" if p >= 0.001 else f"p {p:.1g}"


def c1_by_family(tables: dict[str, pd.DataFrame], n_perm: int = 2000, seed: int = 0,
                 tie: str = "within noise") -> pd.DataFrame:
    """For each map and protocol family: the within-row correlation of depth with ``n_target`` and the
    within-column correlation with the knob (knob = 0 excluded), each with its permutation p-value
    and whether it is below ``C1_ALPHA``."""
    rows = []
    for knob, table in tables.items():
        depths = family_depths(table[table[knob] != 0], knob, tie)
        for family, d in depths.groupby("family", sort=False):
            rho_n, p_n = within_correlation(d.depth, d.n_target, d[knob], n_perm, seed)
            rho_k, p_k = within_correlation(d.depth, d[knob], d.n_target, n_perm, seed)
            rows.append({"map": knob, "family": family, "rho_n_target": rho_n, "p_n_target": p_n,
                         "rho_knob": rho_k, "p_knob": p_k, "data_clear": p_n < C1_ALPHA,
                         "similarity_clear": p_k < C1_ALPHA})
    return pd.DataFrame(rows)


def verdict_c1_by_family(tables: dict[str, pd.DataFrame], n_perm: int = 2000, seed: int = 0,
                         tie: str = "within noise") -> Verdict:
    """C1 from :func:`c1_by_family`: Holm's procedure at ``C1_ALPHA`` over the (map, family) tests of
    each kind. Reproduced when some dependence on the data and some dependence on similarity survive,
    partly when one kind does, not reproduced otherwise."""
    results = c1_by_family(tables, n_perm, seed, tie)
    results["data_held"] = holm(results.p_n_target.to_numpy(), C1_ALPHA)
    results["similarity_held"] = holm(results.p_knob.to_numpy(), C1_ALPHA)
    verdict = claim_word(int(results.data_held.any()) + int(results.similarity_held.any()), 2)

    def listing(held, rho, p, what):
        rows = results[results[held]]
        if rows.empty:
            return f"with {what}: none of {len(results)} (map, family) tests"
        named = ", ".join(f"{r.map} {r.family.split(' ')[0]} {getattr(r, rho):+.2f} ({_p_text(getattr(r, p))})"
                          for r in rows.itertuples())
        return f"with {what}: {len(rows)} of {len(results)} ({named})"

    text = (f"depth within protocol families, Holm at {C1_ALPHA:g} over the (map, family) tests; "
            f"{listing('data_held', 'rho_n_target', 'p_n_target', 'n_target within knob rows')}; "
            f"{listing('similarity_held', 'rho_knob', 'p_knob', 'the knob within n_target columns')}")
    key = (f"depth moves with similarity in {int(results.similarity_held.sum())} and with n_target in "
           f"{int(results.data_held.sum())} of {len(results)} (map, family) tests")
    return Verdict("C1", verdict, text, {"families": results}, key)
