"""C1: the optimal transfer depth depends on n_target and on source-target similarity."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from ..stats import percentile_interval, replicate_clusters, resample_indices
from .cells import val_array
from .verdict import Verdict, claim_word

__all__ = ["verdict_c1"]


def _depth_correlations(table: pd.DataFrame, knob: str, n_boot: int, seed: int) -> dict:
    """Spearman correlations of the validation-chosen depth with n_target and with the knob,
    with percentile intervals from resampling the replicates (all protocols of a seed together;
    task instances, then their seeds, when the instances are the replicate units)."""
    index, a, depth = val_array(table, knob)
    clusters = replicate_clusters(table, sorted(table.seed.unique()))
    n_target = index.get_level_values("n_target").to_numpy()
    knob_value = index.get_level_values(knob).to_numpy()

    def correlations(mean):
        chosen = depth[mean.argmax(axis=1)]
        out = []
        for x in (n_target, knob_value):
            rho = scipy_stats.spearmanr(chosen, x).statistic if np.ptp(chosen) else 0.0
            out.append(0.0 if np.isnan(rho) else float(rho))
        return out

    point = correlations(a.mean(axis=2))
    draws, n_units = resample_indices(a.shape[2], n_boot, np.random.default_rng(seed), clusters)
    boot = np.array([correlations(a[:, :, i].mean(axis=2)) for i in draws])
    low, high = percentile_interval(boot, n_units=n_units)
    return {"rho_n_target": point[0], "rho_n_target_ci": (float(low[0]), float(high[0])),
            "rho_knob": point[1], "rho_knob_ci": (float(low[1]), float(high[1]))}


def verdict_c1(tables: dict[str, pd.DataFrame], n_boot: int = 300, seed: int = 0) -> Verdict:
    """C1: the optimal transfer depth depends on n_target and on source-target similarity.

    For each map (one knob), the rank correlations of the validation-chosen depth with n_target and
    with the dissimilarity knob, with 95% bootstrap intervals over task instances and seeds. Reproduced when, in some
    map, both intervals exclude 0; partly when one does.
    """
    numbers, best, where = {}, 0, []
    for knob, table in tables.items():
        c = _depth_correlations(table, knob, n_boot, seed)
        numbers[knob] = c
        clear = sum(not (lo <= 0 <= hi) for lo, hi in (c["rho_n_target_ci"], c["rho_knob_ci"]))
        if clear == 2:
            where.append(knob)
        best = max(best, clear)
    verdict = claim_word(best, 2)
    parts = [f"{knob}: rho(depth, n_target) = {c['rho_n_target']:+.2f} [{c['rho_n_target_ci'][0]:+.2f}, "
             f"{c['rho_n_target_ci'][1]:+.2f}], rho(depth, {knob}) = {c['rho_knob']:+.2f} "
             f"[{c['rho_knob_ci'][0]:+.2f}, {c['rho_knob_ci'][1]:+.2f}]" for knob, c in numbers.items()]
    if where:
        parts.append(f"both intervals exclude zero on the {' and '.join(where)} map")
    return Verdict("C1", verdict, "; ".join(parts), numbers)
