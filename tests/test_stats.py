"""Seed statistics against hand-written numpy computations and constructed tables whose answer is known."""
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from tlcore.stats import (bootstrap_ci, choose_on_validation, cross_fitted_choice, optimality_probability,
                          paired_difference, tie_aware_ranks, tied_with_best, winner_significance)

LADDER = [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2)]


def _table(cells, shuffle=0):
    """``cells``: {(group, (t, f)): (val per seed, test per seed)} -> tidy table, rows in random order."""
    rows = []
    for (alpha, (t, f)), (val, test) in cells.items():
        for s, (v, a) in enumerate(zip(val, test)):
            rows.append({"alpha": alpha, "transfer_depth": t, "frozen_depth": f, "seed": s,
                         "val_acc": float(v), "test_acc": float(a)})
    df = pd.DataFrame(rows)
    return df.sample(frac=1, random_state=shuffle).reset_index(drop=True) if shuffle is not None else df


def _sem(x):
    x = np.asarray(x, float)
    return np.sqrt(np.sum((x - x.mean()) ** 2) / (len(x) - 1)) / np.sqrt(len(x))


def _symmetric_noise(rng, n_pairs, sd):
    """Two noise vectors whose per-seed differences come in +-x pairs: exchangeable, mean difference 0."""
    x, y = rng.normal(0, sd, n_pairs), rng.normal(0, sd, n_pairs)
    return np.ravel(np.column_stack([x, y])), np.ravel(np.column_stack([y, x]))


# --- paired_difference -------------------------------------------------------------------------------


def test_paired_difference_equals_numpy_by_hand():
    rng = np.random.default_rng(1)
    cells = {(alpha, p): (rng.uniform(0.5, 0.9, 6), rng.uniform(0.5, 0.9, 6))
             for alpha in (0.1, 0.5) for p in [(0, 0), (1, 0), (2, 0), (2, 2)]}
    table = _table(cells)
    table = table.drop(table.index[(table.alpha == 0.5) & (table.transfer_depth == 2)
                                   & (table.frozen_depth == 0) & (table.seed == 3)])
    got = paired_difference(table, (2, 0), (0, 0), by=["alpha"])
    assert list(got.alpha) == [0.1, 0.5]
    for alpha, row in zip((0.1, 0.5), got.itertuples()):
        a, b = cells[(alpha, (2, 0))][1], cells[(alpha, (0, 0))][1]
        seeds = [s for s in range(6) if not (alpha == 0.5 and s == 3)]
        d = np.array([a[s] - b[s] for s in seeds])
        assert row.mean_diff == pytest.approx(d.sum() / len(d), abs=1e-12)
        assert row.diff_sem == pytest.approx(_sem(d), abs=1e-12)
        assert row.n_seeds == len(seeds)
        assert row.significant == (abs(d.mean()) > 2 * _sem(d))
    assert got.n_seeds.dtype == np.int64 and got.significant.dtype == bool


def test_paired_se_is_smaller_than_unpaired_when_seeds_share_an_effect():
    rng = np.random.default_rng(2)
    n = 10
    seed_effect = rng.normal(0, 0.1, n)
    a = 0.70 + seed_effect + rng.normal(0, 0.005, n)
    b = 0.68 + seed_effect + rng.normal(0, 0.005, n)
    table = _table({("x", (1, 0)): (a, a), ("x", (0, 0)): (b, b)})
    got = paired_difference(table, (1, 0), (0, 0)).iloc[0]
    unpaired_se = np.sqrt(a.var(ddof=1) / n + b.var(ddof=1) / n)
    assert got.diff_sem < unpaired_se / 5
    assert got.significant and abs(a.mean() - b.mean()) < 2 * unpaired_se  # only pairing resolves the gap


def test_paired_difference_with_one_seed_has_unknown_se_and_is_not_significant():
    table = _table({("x", (1, 0)): ([0.9], [0.9]), ("x", (0, 0)): ([0.1], [0.1])})
    got = paired_difference(table, (1, 0), (0, 0)).iloc[0]
    assert got.mean_diff == pytest.approx(0.8) and np.isnan(got.diff_sem)
    assert got.n_seeds == 1 and not got.significant


# --- choose_on_validation ----------------------------------------------------------------------------


def test_choose_on_validation_picks_by_val_and_reports_test_of_the_chosen():
    rng = np.random.default_rng(3)
    cells = {
        ("x", (0, 0)): (0.60 + rng.normal(0, .01, 5), 0.60 + rng.normal(0, .01, 5)),
        ("x", (1, 0)): (0.70 + rng.normal(0, .01, 5), 0.90 + rng.normal(0, .01, 5)),  # best on test
        ("x", (1, 1)): (0.80 + rng.normal(0, .01, 5), 0.75 + rng.normal(0, .01, 5)),  # best on val
    }
    got = choose_on_validation(_table(cells)).iloc[0]
    val, test = cells[("x", (1, 1))]
    assert (got.best_transfer_depth, got.best_frozen_depth) == (1, 1)
    assert got.val_acc == pytest.approx(val.mean())
    assert got.test_acc == pytest.approx(test.mean()) and got.test_sem == pytest.approx(_sem(test))
    assert got.n_seeds == 5


def test_choose_on_validation_ties_go_to_shallower_transfer_then_fewer_frozen():
    same = np.array([0.8, 0.7, 0.75])
    low = same - 0.1
    cells = {("a", (2, 0)): (same, low), ("a", (1, 1)): (same, low), ("a", (1, 0)): (same, low),
             ("a", (0, 0)): (low, low),
             ("b", (2, 1)): (same, low), ("b", (2, 0)): (same, low), ("b", (1, 0)): (low, low)}
    for shuffle in (0, 1, 2):
        got = choose_on_validation(_table(cells, shuffle), by=["alpha"])
        assert list(zip(got.best_transfer_depth, got.best_frozen_depth)) == [(1, 0), (2, 0)]
        assert got.best_transfer_depth.dtype == np.int64


def test_choose_on_validation_candidates_restrict_the_choice():
    val = {p: np.full(3, 0.5 + 0.01 * i) for i, p in enumerate(LADDER)}  # (2, 2) best, then (2, 1), (2, 0)
    cells = {("x", p): (v, v) for p, v in val.items()}
    table = _table(cells)
    frozen = choose_on_validation(table, candidates=lambda t, f: t == f).iloc[0]
    assert (frozen.best_transfer_depth, frozen.best_frozen_depth) == (2, 2)
    tuned = choose_on_validation(table, candidates=lambda t, f: f == 0).iloc[0]
    assert (tuned.best_transfer_depth, tuned.best_frozen_depth) == (2, 0)
    listed = choose_on_validation(table, candidates=[(0, 0), (1, 1)]).iloc[0]
    assert (listed.best_transfer_depth, listed.best_frozen_depth) == (1, 1)


# --- cross_fitted_choice -----------------------------------------------------------------------------


def test_cross_fitted_choice_equals_a_hand_computed_two_fold_split():
    m = np.array([[0.70, 0.72, 0.71],   # seed 0
                  [0.60, 0.58, 0.65],   # seed 1
                  [0.80, 0.79, 0.70],   # seed 2
                  [0.50, 0.55, 0.56]])  # seed 3
    protocols = [(0, 0), (1, 0), (1, 1)]
    cells = {("x", p): (m[:, j], m[:, j]) for j, p in enumerate(protocols)}
    got = cross_fitted_choice(_table(cells), folds=2).iloc[0]
    # folds round-robin over sorted seeds: {0, 2} and {1, 3}
    pick_on_13 = int(np.argmax(m[[1, 3]].mean(0)))  # used to score seeds 0, 2
    pick_on_02 = int(np.argmax(m[[0, 2]].mean(0)))  # used to score seeds 1, 3
    held = np.array([m[0, pick_on_13], m[1, pick_on_02], m[2, pick_on_13], m[3, pick_on_02]])
    assert got.test_acc == pytest.approx(held.mean()) and got.test_sem == pytest.approx(_sem(held))
    assert got.naive_test_acc == pytest.approx(m.mean(0).max())
    best = protocols[int(np.argmax(m.mean(0)))]
    assert (got.best_transfer_depth, got.best_frozen_depth) == best
    assert got.n_folds_agreeing == sum(protocols[j] == best for j in (pick_on_13, pick_on_02))


def test_cross_fitting_removes_the_selection_bias_of_the_same_set_maximum():
    rng = np.random.default_rng(4)
    truth, sd, n_seeds, n_groups = 0.7, 0.02, 6, 300
    cells = {(g, p): (np.zeros(n_seeds), truth + rng.normal(0, sd, n_seeds))
             for g in range(n_groups) for p in LADDER}  # every protocol equal: the test winner is noise
    got = cross_fitted_choice(_table(cells, None), by=["alpha"], folds=2)
    naive_bias = got.naive_test_acc.mean() - truth
    honest_bias = got.test_acc.mean() - truth
    honest_se = got.test_acc.std(ddof=1) / np.sqrt(n_groups)
    assert naive_bias > 0.5 * sd / np.sqrt(n_seeds)  # expected max of 6 normals is about 1.27 sd
    assert abs(honest_bias) < 4 * honest_se
    assert (got.naive_test_acc >= got.test_acc).mean() > 0.8


# --- optimality_probability --------------------------------------------------------------------------


def test_optimality_probability_sums_to_one_and_is_one_for_a_protocol_dominating_every_seed():
    rng = np.random.default_rng(5)
    seed_effect = rng.normal(0, 0.1, 8)  # large, shared: only a paired bootstrap sees the dominance
    cells = {}
    for alpha in (0.1, 0.5):
        for i, p in enumerate(LADDER):
            v = 0.6 + seed_effect + rng.normal(0, 0.003, 8) + (0.03 if p == (2, 1) else 0.0)
            cells[(alpha, p)] = (v, v)
    got = optimality_probability(_table(cells), by=["alpha"], n_boot=500, seed=0)
    assert np.allclose(got.groupby("alpha").p_optimal.sum(), 1.0)
    winner = got[(got.transfer_depth == 2) & (got.frozen_depth == 1)]
    assert list(winner.p_optimal) == [1.0, 1.0]
    assert len(got) == 2 * len(LADDER) and got.transfer_depth.dtype == np.int64


def test_optimality_probability_is_even_for_exchangeable_protocols():
    rng = np.random.default_rng(6)
    x, y = _symmetric_noise(rng, 10, 0.02)
    cells = {("x", (1, 0)): (0.7 + x, x), ("x", (1, 1)): (0.7 + y, y)}
    got = optimality_probability(_table(cells), n_boot=2000, seed=1)
    # symmetric by construction, so p = 0.5 up to the bootstrap's own spread sqrt(0.25 / 2000) ~ 0.011
    assert np.allclose(got.p_optimal, 0.5, atol=0.1)
    assert got.p_optimal.sum() == pytest.approx(1.0)


def test_optimality_probability_is_reproducible_and_per_group():
    rng = np.random.default_rng(7)
    cells = {(g, p): (rng.normal(0.7, 0.02, 6),) * 2 for g in (0.1, 0.5) for p in LADDER}
    table = _table(cells)
    both = optimality_probability(table, by=["alpha"], n_boot=300, seed=3)
    again = optimality_probability(table.iloc[::-1], by=["alpha"], n_boot=300, seed=3)
    alone = optimality_probability(table[table.alpha == 0.5], by=["alpha"], n_boot=300, seed=3)
    pd.testing.assert_frame_equal(both, again)
    pd.testing.assert_frame_equal(both[both.alpha == 0.5].reset_index(drop=True), alone)


# --- winner_significance -----------------------------------------------------------------------------


def test_winner_significance_large_clean_gap_is_significant_and_zero_gap_is_not():
    rng = np.random.default_rng(8)
    x, y = _symmetric_noise(rng, 5, 0.02)
    cells = {("clean", (0, 0)): (np.full(10, 0.6), 0.60 + rng.normal(0, 0.002, 10)),
             ("clean", (1, 0)): (np.full(10, 0.8), 0.75 + rng.normal(0, 0.002, 10)),
             ("noisy", (0, 0)): (np.full(10, 0.6), 0.6 + x),
             ("noisy", (1, 0)): (np.full(10, 0.8), 0.6 + y)}
    got = winner_significance(_table(cells), by=["alpha"]).set_index("alpha")
    assert got.loc["clean", "significant"] and got.loc["clean", "margin"] > 0.1
    assert not got.loc["noisy", "significant"] and abs(got.loc["noisy", "margin"]) < 1e-12
    assert got.loc["noisy", "margin_sem"] > 0.005


def test_winner_significance_margins_use_the_right_rows():
    rng = np.random.default_rng(9)
    n = 7
    ladders = {"A": LADDER, "B": LADDER + [(3, 0), (3, 3)]}  # L = 2 in A, 3 in B
    winners = {"A": (1, 0), "B": (3, 0)}
    runners = {"A": (2, 2), "B": (1, 1)}
    cells = {}
    for g, ladder in ladders.items():
        for p in ladder:
            val = 0.9 if p == winners[g] else 0.85 if p == runners[g] else 0.5 + 0.01 * p[0]
            cells[(g, p)] = (np.full(n, val) + rng.normal(0, 1e-4, n), rng.uniform(0.5, 0.9, n))
    got = winner_significance(_table(cells), by=["alpha"]).set_index("alpha")
    for g, L in (("A", 2), ("B", 3)):
        row = got.loc[g]
        best = cells[(g, winners[g])][1]
        assert (row.best_transfer_depth, row.best_frozen_depth) == winners[g]
        assert (row.runner_up_transfer_depth, row.runner_up_frozen_depth) == runners[g]
        assert row.standard_depth == L
        assert row.best_score == pytest.approx(best.mean()) and row.n_seeds == n
        for prefix, other in (("", runners[g]), ("scratch_", (0, 0)), ("standard_", (L, L))):
            d = best - cells[(g, other)][1]
            margin = row["margin" if not prefix else prefix + "margin"]
            sem = row[prefix + "sem" if prefix else "margin_sem"]
            assert margin == pytest.approx(d.mean()) and sem == pytest.approx(_sem(d))
            assert row[prefix + "significant"] == (abs(d.mean()) > 2 * _sem(d))
    assert got.standard_depth.dtype == np.int64 and got.runner_up_frozen_depth.dtype == np.int64


def test_winner_significance_when_the_winner_is_scratch_or_standard_is_absent():
    cells = {("x", (0, 0)): ([0.9, 0.8, 0.85], [0.9, 0.8, 0.85]),
             ("x", (2, 0)): ([0.5, 0.6, 0.55], [0.5, 0.6, 0.55])}
    row = winner_significance(_table(cells)).iloc[0]
    assert (row.best_transfer_depth, row.best_frozen_depth) == (0, 0)
    assert row.scratch_margin == 0 and not row.scratch_significant
    assert row.standard_depth == 2 and math.isnan(row.standard_margin) and not row.standard_significant


# --- tie_aware_ranks / tied_with_best ----------------------------------------------------------------


def test_tie_aware_ranks_clear_separation_gives_one_to_n():
    scores = {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6}
    sems = dict.fromkeys(scores, 0.001)
    assert tie_aware_ranks(scores, sems) == {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
    assert tied_with_best(scores, sems) == {"a"}


def test_tie_aware_ranks_two_within_noise_share_the_average_rank():
    scores = {"a": 0.80, "b": 0.79, "c": 0.60}
    sems = {"a": 0.01, "b": 0.01, "c": 0.01}
    assert tie_aware_ranks(scores, sems) == {"a": 1.5, "b": 1.5, "c": 3.0}
    assert tied_with_best(scores, sems) == {"a", "b"}
    # three within 2 sqrt(2) * 0.01 of the head share rank 2; the next group starts at position 4
    scores = {"a": 1.00, "b": 0.99, "c": 0.98, "d": 0.90, "e": 0.895}
    ranks = tie_aware_ranks(scores, dict.fromkeys(scores, 0.01))
    assert ranks == {"a": 2, "b": 2, "c": 2, "d": 4.5, "e": 4.5}


def test_tie_aware_ranks_groups_are_contiguous_and_tied_with_best_is_pairwise():
    scores = {"top": 0.90, "sure": 0.80, "vague": 0.75}
    sems = {"top": 0.001, "sure": 0.001, "vague": 0.2}
    assert tie_aware_ranks(scores, sems) == {"top": 1.0, "sure": 2.5, "vague": 2.5}
    assert tied_with_best(scores, sems) == {"top", "vague"}


def test_tie_aware_ranks_compare_with_the_head_of_the_group_not_a_chain():
    scores = {"a": 1.00, "b": 0.98, "c": 0.96}  # a~b and b~c within 2 sqrt(2) * 0.008, but not a~c
    assert tie_aware_ranks(scores, dict.fromkeys(scores, 0.008)) == {"a": 1.5, "b": 1.5, "c": 3.0}


def test_tie_aware_ranks_settle_equal_scores_by_name_whatever_the_order():
    # the head of the top group decides who joins it: "a" (uncertain) takes "c" along, "g" (certain) would not
    scores, sems = {"g": 0.8, "a": 0.8, "c": 0.75}, {"g": 0.0, "a": 0.05, "c": 0.0}
    expected = {"a": 2.0, "g": 2.0, "c": 2.0}
    assert tie_aware_ranks(scores, sems) == expected
    assert tie_aware_ranks(dict(reversed(scores.items())), sems) == expected


def test_tie_aware_ranks_do_not_depend_on_dict_order():
    rng = np.random.default_rng(10)
    names = list("abcdefg")
    scores = dict(zip(names, np.round(rng.uniform(0.6, 0.7, len(names)), 3)))
    scores["g"] = scores["a"]  # an exact tie, settled by name
    sems = dict(zip(names, rng.uniform(0.001, 0.01, len(names))))
    first = tie_aware_ranks(scores, sems)
    top = tied_with_best(scores, sems)
    for order in itertools.islice(itertools.permutations(names), 0, 5040, 97):
        assert tie_aware_ranks({k: scores[k] for k in order}, {k: sems[k] for k in reversed(order)}) == first
        assert tied_with_best({k: scores[k] for k in order}, sems) == top
    assert sorted(first.values()) != list(range(1, 8))  # the random draw does contain ties
    assert sum(first.values()) == pytest.approx(sum(range(1, 8)))


# --- bootstrap_ci ------------------------------------------------------------------------------------


def test_bootstrap_ci_of_a_mean_matches_the_normal_interval():
    x = np.random.default_rng(11).normal(3.0, 2.0, 400)
    ci = bootstrap_ci(x, n_boot=4000, seed=0)
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
    assert ci.estimate == pytest.approx(x.mean())
    assert ci.low == pytest.approx(x.mean() - half, abs=0.15 * half)
    assert ci.high == pytest.approx(x.mean() + half, abs=0.15 * half)
    assert bootstrap_ci(x, n_boot=4000, seed=0) == ci


def test_bootstrap_ci_resamples_whole_seeds_for_a_rank_correlation():
    rng = np.random.default_rng(12)
    quality = np.linspace(0.5, 0.9, 8)  # per source
    acc = quality + rng.normal(0, 0.05, (10, 8))  # seeds x sources
    scores = quality + rng.normal(0, 0.02, 8)

    def rho(rows):
        return spearmanr(rows.mean(axis=0), scores).statistic

    ci = bootstrap_ci(acc, stat=rho, n_boot=500, seed=0)
    assert ci.estimate == pytest.approx(rho(acc))
    assert -1 <= ci.low <= ci.high <= 1 and ci.low < 1


# --- bad inputs --------------------------------------------------------------------------------------


@pytest.fixture
def small():
    return _table({("x", p): ([0.5, 0.6], [0.5, 0.6]) for p in [(0, 0), (1, 0)]}, None)


def test_missing_column_names_it_and_lists_the_present_ones(small):
    with pytest.raises(ValueError, match=r"missing column\(s\) \['val_acc'\].*present: .*test_acc"):
        choose_on_validation(small.drop(columns="val_acc"))
    with pytest.raises(ValueError, match="'n_target'"):
        paired_difference(small, (1, 0), (0, 0), by=["n_target"])


def test_empty_table_is_refused(small):
    with pytest.raises(ValueError, match="empty table"):
        winner_significance(small.iloc[:0])


def test_absent_protocol_is_named_with_its_group(small):
    with pytest.raises(ValueError, match=r"b=\(3, 3\) absent in alpha='x'"):
        paired_difference(small, (1, 0), (3, 3), by=["alpha"])


def test_duplicate_rows_are_refused(small):
    with pytest.raises(ValueError, match=r"duplicate rows .*protocol \(1, 0\), seed 1"):
        optimality_probability(pd.concat([small, small.iloc[[3]]]))


def test_other_bad_inputs(small):
    with pytest.raises(ValueError, match="'seed' must hold integers"):
        paired_difference(small.assign(seed=small.seed + 0.5), (1, 0), (0, 0))
    with pytest.raises(ValueError, match="'test_acc' has 1 NaN"):
        paired_difference(small.assign(test_acc=[np.nan, 1, 1, 1]), (1, 0), (0, 0))
    with pytest.raises(ValueError, match=r"candidate protocol\(s\) \[\(2, 2\)\] absent"):
        choose_on_validation(small, candidates=[(2, 2)])
    with pytest.raises(ValueError, match="fewer than folds=3"):
        cross_fitted_choice(small, folds=3)
    with pytest.raises(ValueError, match=r"protocol \(1, 0\) lacks seed\(s\) \[1\]"):
        cross_fitted_choice(small.iloc[:3])
    with pytest.raises(ValueError, match="need two for a runner-up"):
        winner_significance(small, candidates=[(1, 0)])
    with pytest.raises(ValueError, match=r"only in sems \['c'\]"):
        tie_aware_ranks({"a": 1.0}, {"a": 0.1, "c": 0.1})
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci([1.0, 2.0], level=95)
