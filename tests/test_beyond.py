"""The profile -> depth link read within knob values (tlcore.claims.beyond)."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tlcore import claims
from tlcore.claims.beyond import within_rank_correlation


def _least_squares_partial(x, y, groups):
    """Reference: ranks regressed on group indicators by least squares, residuals correlated."""
    rx, ry = stats.rankdata(x), stats.rankdata(y)
    labels = sorted(set(groups))
    design = np.array([[g == label for label in labels] for g in groups], dtype=float)
    res_x = rx - design @ np.linalg.lstsq(design, rx, rcond=None)[0]
    res_y = ry - design @ np.linalg.lstsq(design, ry, rcond=None)[0]
    return float(np.corrcoef(res_x, res_y)[0, 1])


def test_within_rank_correlation_matches_a_least_squares_partial_correlation():
    rng = np.random.default_rng(0)
    groups = np.repeat(["a", "b", "c", "d"], 9)
    x = rng.integers(0, 5, len(groups))
    y = x + rng.integers(0, 3, len(groups)) + 2 * (groups == "b")
    assert within_rank_correlation(x, y, groups) == pytest.approx(_least_squares_partial(x, y, groups), abs=1e-12)


def test_a_knob_that_drives_both_depths_is_not_a_link_within_the_knob():
    """Across knob values both depths fall together (pooled rho > 0); within a value they are opposed."""
    groups = np.repeat([0, 1, 2], 4)
    x = np.concatenate([[10, 11, 12, 13], [5, 6, 7, 8], [0, 1, 2, 3]])
    y = np.concatenate([[23, 22, 21, 20], [13, 12, 11, 10], [3, 2, 1, 0]])
    assert stats.spearmanr(x, y).statistic > 0.5
    assert within_rank_correlation(x, y, groups) < -0.9
    assert np.isnan(within_rank_correlation([1, 1, 2, 2], [3, 4, 5, 6], [0, 0, 1, 1]))


def test_the_within_knob_link_comes_from_the_cells_the_chapter_plots():
    knobs = ("feature_mix", "teacher_mix")
    maps = {k: (claims.profile_sweep(k, True, device="cpu"), claims.phase_sweep(k, True, device="cpu")) for k in knobs}
    link = claims.depth_link(maps, n_boot=50)
    cells = link["cells"]
    groups = cells.knob + "=" + cells.value.astype(str)
    assert link["rho_within"] == pytest.approx(
        within_rank_correlation(cells.divergence_depth, cells.chosen_depth, groups), nan_ok=True)
    assert link["rho"] == pytest.approx(stats.spearmanr(cells.divergence_depth, cells.chosen_depth).statistic)
    lo, hi = link["ci_within"]
    assert lo <= hi
