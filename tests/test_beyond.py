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


def _map(rng, gains, noise, cells=6, instances=5, seeds=2):
    """A constructed map: protocol (t, f) adds gains[(t, f)] to every network's accuracy; each task
    instance shifts all its networks alike; validation and test scores share each network's luck."""
    rows = []
    for value in range(cells):
        for task_seed in range(instances):
            shift = rng.normal(0, 0.02)
            for s in range(seeds):
                luck = rng.normal(0, noise)
                for (t, f), g in gains.items():
                    own = rng.normal(0, noise)
                    rows.append({"teacher_mix": float(value), "n_target": 20, "task_seed": task_seed,
                                 "seed": seeds * task_seed + s, "transfer_depth": t, "frozen_depth": f,
                                 "val_acc": 0.6 + shift + g + luck + own,
                                 "test_acc": 0.6 + shift + g + luck + own + rng.normal(0, noise)})
    return pd.DataFrame(rows)


def test_regrets_are_the_gaps_to_the_best_protocol_by_hand():
    from tlcore.claims.beyond import _regrets
    gains = {(0, 0): 0.0, (1, 1): 0.08, (2, 2): 0.03}
    table = _map(np.random.default_rng(1), gains, noise=0.0)
    cells = [key for key, _ in table.groupby(["teacher_mix", "n_target"])]
    for protocol, expected in (((0, 0), 0.08), ((2, 2), 0.05), ((1, 1), 0.0)):
        r, units = _regrets(table, ["teacher_mix", "n_target"], {k: protocol for k in cells})
        assert np.allclose(r, expected) and len(r) == 10 and sorted(set(units)) == list(range(5))
    r, _ = _regrets(table, ["teacher_mix", "n_target"], None)  # the search finds (1, 1) on validation
    assert np.allclose(r, 0.0)


def test_the_cross_fitted_search_and_yardstick_carry_no_winners_luck():
    """Every protocol equal: the yardstick chosen on other instances is no better on average than a
    fixed protocol, so regrets centre on zero (an in-sample best would make every regret positive)."""
    from tlcore.claims.beyond import _regrets
    gains = {(0, 0): 0.0, (1, 0): 0.0, (1, 1): 0.0, (2, 0): 0.0, (2, 2): 0.0}
    table = _map(np.random.default_rng(4), gains, noise=0.02, cells=40)
    cells = [key for key, _ in table.groupby(["teacher_mix", "n_target"])]
    for choice in (None, {k: (2, 2) for k in cells}):
        r, units = _regrets(table, ["teacher_mix", "n_target"], choice)
        c = claims_compare(r.to_numpy(), units)
        assert abs(c.mean) < 3 * c.sem + 1e-3
    in_sample = [g.pivot_table(index="seed", columns=["transfer_depth", "frozen_depth"], values="test_acc").mean().max()
                 - g.test_acc.mean() for _, g in table.groupby("teacher_mix")]
    assert np.mean(in_sample) > 0.005  # what the cross-fitting removes


def claims_compare(values, units):
    from tlcore.stats import compare
    return compare(values, clusters=units)


def test_held_out_predictor_compares_with_the_search_over_task_instances():
    rows = []
    for knob, offset in (("feature_mix", 0.0), ("teacher_mix", 0.01)):
        for method, base in (("validation search", 0.01), ("standard recipe (L, L)", 0.05), ("scratch (0, 0)", 0.08),
                             ("similarity, linear_cka, (l, l)", 0.02 + offset), ("similarity, linear_cka, (l, 0)", 0.03 - offset)):
            per_seed = [base + 0.001 * i for i in range(10)]
            rows.append({"knob": knob, "method": method, "mean_regret": float(np.mean(per_seed)), "sem": 0.001,
                         "networks": 3, "per_seed": per_seed, "instance": [i // 2 for i in range(10)]})
    frame = pd.DataFrame(rows)
    evaluations = {k: g.drop(columns="knob").reset_index(drop=True) for k, g in frame.groupby("knob")}
    held = claims.held_out_predictor(evaluations).set_index(["map", "method"])
    # each map reports the variant best on the other one: (l, 0) on teacher_mix's numbers for feature_mix
    assert ("feature_mix", "similarity, linear_cka, (l, 0)") in held.index
    assert ("teacher_mix", "similarity, linear_cka, (l, l)") in held.index
    assert held.loc[("feature_mix", "scratch (0, 0)"), "minus_search"] == pytest.approx(0.07)
    assert held.loc[("feature_mix", "scratch (0, 0)"), "vs_search"] == "worse"
