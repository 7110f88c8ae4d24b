"""Error control across cells: BH and Holm against scipy and hand computations, the IUT, and a null
on which the per-cell rule fires at no more than its nominal rate."""
import numpy as np
import pytest
from scipy import stats as scipy_stats

from tlcore.stats import benjamini_hochberg, holm, intersection_union, one_sided_p


def test_benjamini_hochberg_equals_scipy_and_a_hand_computation():
    p = np.array([0.01, 0.04, 0.03, 0.20, 0.005, 0.6])
    discovered, adjusted = benjamini_hochberg(p, 0.05)
    np.testing.assert_allclose(adjusted, scipy_stats.false_discovery_control(p))
    # by hand: sorted 0.005 0.01 0.03 0.04 0.2 0.6 against k q / m = .0083 .0167 .025 .0333 .0417 .05
    # the largest k with p_(k) <= k q / m is k = 2: {0.005, 0.01} are discovered
    assert discovered.tolist() == [True, False, False, False, True, False]


def test_holm_by_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005 <= .05/4, 0.01 <= .05/3, 0.03 > .05/2: stop
    assert holm(p, 0.05).tolist() == [True, False, False, True]


def test_intersection_union_is_the_largest_p_and_refuses_bad_values():
    assert intersection_union([0.01, 0.2, 0.03]) == 0.2
    with pytest.raises(ValueError):
        intersection_union([0.1, float("nan")])
    with pytest.raises(ValueError):
        benjamini_hochberg([0.1, 1.5], 0.1)


def test_one_sided_p_matches_scipy_ttest_and_the_edge_cases():
    d = np.array([0.02, 0.05, -0.01, 0.04, 0.03])
    expected = scipy_stats.ttest_1samp(d, 0.0, alternative="greater").pvalue
    assert one_sided_p(d) == pytest.approx(expected)
    assert one_sided_p([0.3]) == 1.0                      # one replicate: nothing shown
    assert one_sided_p([0.5, 0.5, 0.5]) == 0.0             # every replicate agrees
    assert one_sided_p([-0.1, -0.1]) == 1.0


def test_the_per_cell_rule_with_bh_fires_at_no_more_than_its_rate_on_a_null():
    """36 cells where the interior protocol equals both endpoints by construction: IUT per cell, BH at
    q = 0.1 across the map; the share of maps with any discovery stays at or below q (under the
    complete null the FDR is the family-wise rate), over 300 simulated maps."""
    rng = np.random.default_rng(7)
    maps, fired = 300, 0
    for _ in range(maps):
        p_cells = []
        for _ in range(36):
            seeds = rng.normal(size=(8, 3)) * 0.02  # 8 seeds x (interior, scratch, full transfer), equal means
            p_cells.append(intersection_union([one_sided_p(seeds[:, 0] - seeds[:, j]) for j in (1, 2)]))
        fired += benjamini_hochberg(p_cells, 0.1)[0].any()
    assert fired / maps <= 0.1 + 2 * np.sqrt(0.1 * 0.9 / maps)


def test_the_rule_has_power_when_the_interior_protocol_is_better():
    rng = np.random.default_rng(8)
    seeds = rng.normal(size=(8, 3)) * 0.02
    seeds[:, 0] += 0.05
    p = intersection_union([one_sided_p(seeds[:, 0] - seeds[:, j]) for j in (1, 2)])
    assert benjamini_hochberg([p] + [0.9] * 35, 0.1)[0][0]
