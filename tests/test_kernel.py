"""The one comparison rule and the one bootstrap: edge cases against hand computations and NumPy/scipy."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from tlcore.stats import (bootstrap, bootstrap_ci, bootstrap_coverage, compare, compare_columns, expanded_level,
                          mean_se_text, percentile_interval, resample_indices, sem, summary)


def test_compare_matches_a_hand_computation():
    a, b = np.array([0.70, 0.72, 0.75, 0.71]), np.array([0.60, 0.65, 0.70, 0.64])
    d = a - b
    got = compare(a, b)
    assert got.mean == pytest.approx(d.mean())
    assert got.sem == pytest.approx(scipy_stats.sem(d))  # scipy's SE, ddof=1
    assert got.n == 4 and got.word == "higher" and got.significant


@pytest.mark.parametrize("a, b, word, se_is_nan", [
    ([0.9], [0.1], "tie", True),                      # one replicate: SE unknown, never significant
    ([0.5, 0.5, 0.5], [0.4, 0.4, 0.4], "higher", False),  # zero spread, every replicate agrees
    ([0.5, 0.5], [0.5, 0.5], "tie", False),           # zero spread, zero mean
    ([0.1, 0.2, 0.3], [0.3, 0.2, 0.1], "tie", False),  # symmetric: mean 0
    ([0.1, 0.11, 0.12, 0.1], [0.5, 0.52, 0.49, 0.5], "lower", False),
])
def test_compare_edge_cases_follow_the_documented_rule(a, b, word, se_is_nan):
    got = compare(a, b)
    assert got.word == word
    assert math.isnan(got.sem) == se_is_nan


def test_compare_drops_nan_pairs_and_aligns_series_on_their_index():
    a = pd.Series([0.8, np.nan, 0.9, 0.7], index=[0, 1, 2, 3])
    b = pd.Series([0.5, 0.6, 0.6], index=[3, 2, 0])  # seed 1 absent, seed 1 of a NaN
    got = compare(a, b)
    assert got.n == 3
    assert got.mean == pytest.approx(np.mean([0.8 - 0.6, 0.9 - 0.6, 0.7 - 0.5]))


def test_compare_refuses_unequal_plain_sequences_and_no_shared_replicate():
    with pytest.raises(ValueError, match="different lengths"):
        compare([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="share no replicate"):
        compare(pd.Series([1.0], index=[0]), pd.Series([1.0], index=[1]))


def test_clustered_compare_takes_the_se_over_clusters():
    # two task instances, three seeds each: the SE is that of the two instance means
    d = np.array([0.10, 0.11, 0.12, 0.30, 0.31, 0.29])
    clusters = [0, 0, 0, 1, 1, 1]
    got = compare(d, clusters=clusters)
    means = np.array([0.11, 0.30])
    assert got.n == 2
    assert got.mean == pytest.approx(means.mean())
    assert got.sem == pytest.approx(means.std(ddof=1) / np.sqrt(2))
    assert compare(d).sem < got.sem  # ignoring the clusters understates the noise


def test_sem_and_summary():
    assert sem([1.0, 2.0, 3.0]) == pytest.approx(scipy_stats.sem([1.0, 2.0, 3.0]))
    assert math.isnan(sem([1.0])) and math.isnan(sem([]))
    t = pd.DataFrame({"g": ["a", "a", "b"], "v": [1.0, 3.0, 5.0]})
    s = summary(t, ["g"], "v").set_index("g")
    assert s.loc["a", "mean"] == 2.0 and s.loc["a", "sem"] == pytest.approx(1.0) and s.loc["a", "n"] == 2
    assert math.isnan(s.loc["b", "sem"]) and s.loc["b", "n"] == 1


def test_percentile_interval_equals_numpy():
    reps = np.random.default_rng(0).normal(size=1000)
    assert percentile_interval(reps, 0.9) == pytest.approx(tuple(np.percentile(reps, [5, 95])))
    assert all(math.isnan(v) for v in percentile_interval([np.nan, np.inf]))


def test_one_level_bootstrap_equals_bootstrap_ci():
    rng = np.random.default_rng(1)
    x = rng.normal(size=20)
    table = pd.DataFrame({"seed": range(20), "v": x})
    a = bootstrap(lambda t: t.v.mean(), table, ["seed"], n_boot=400, seed=3)
    assert a.estimate == pytest.approx(x.mean())
    assert a.low < x.mean() < a.high
    b = bootstrap_ci(x, n_boot=400, seed=3)
    assert abs((a.high - a.low) - (b.high - b.low)) < 0.5 * (b.high - b.low)


def _hierarchical_table(rng, n_inst=6, n_seeds=3, mu=0.5, tau=0.3, sigma=0.1):
    inst = rng.normal(mu, tau, size=n_inst)
    rows = [{"task_seed": i, "seed": s, "v": inst[i] + rng.normal(0, sigma)}
            for i in range(n_inst) for s in range(n_seeds)]
    return pd.DataFrame(rows)


def test_hierarchical_bootstrap_covers_a_known_mean():
    """95% intervals over (instance, seed) cover the true mean in 90-99% of 200 simulated tables,
    while a bootstrap that treats every network as independent undercovers."""
    rng = np.random.default_rng(2024)
    covered, naive = 0, 0
    n_tables = 200
    for k in range(n_tables):
        t = _hierarchical_table(rng, n_inst=8)
        ci = bootstrap(lambda x: x.v.mean(), t, ["task_seed", "seed"], n_boot=200, seed=k)
        covered += ci.low <= 0.5 <= ci.high
        flat = bootstrap_ci(t.v.to_numpy(), n_boot=200, seed=k)
        naive += flat.low <= 0.5 <= flat.high
    assert 0.90 * n_tables <= covered <= 0.99 * n_tables
    assert naive < covered


def test_clustered_bootstrap_ci_covers_a_known_mean_like_the_nested_bootstrap():
    """bootstrap_ci with ``clusters`` (the fast path of the selection intervals) resamples instances and
    then seeds: it covers the true mean in 90-99% of 200 simulated tables, and draws the same kind of
    resamples as :func:`bootstrap` (its intervals agree within Monte Carlo noise)."""
    rng = np.random.default_rng(2025)
    covered, widths = 0, []
    for k in range(200):
        t = _hierarchical_table(rng, n_inst=20)  # with 8 instances a percentile interval covers about 88%
        ci = bootstrap_ci(t.v.to_numpy(), n_boot=200, seed=k, clusters=t.task_seed.to_numpy())
        covered += ci.low <= 0.5 <= ci.high
        nested = bootstrap(lambda x: x.v.mean(), t, ["task_seed", "seed"], n_boot=200, seed=k)
        widths.append((ci.high - ci.low) / (nested.high - nested.low))
    assert 0.90 * 200 <= covered <= 0.99 * 200
    assert 0.9 < np.median(widths) < 1.1
    with pytest.raises(ValueError, match="cluster labels"):
        bootstrap_ci([1.0, 2.0], clusters=[0])


def test_expanded_level_matches_hand_values_and_tends_to_the_plain_level():
    """Hesterberg's expanded percentile: 2 Phi(-sqrt(n/(n-1)) t_{n-1, 0.975}) in each tail. By hand, for
    n = 5: t = 2.7764, x sqrt(5/4) = 3.1042, 2 Phi(-3.1042) = 0.00191; for n = 20: t = 2.0930,
    x sqrt(20/19) = 2.1474, 2 Phi(-2.1474) = 0.0318."""
    assert expanded_level(0.95, None) == 0.95
    assert expanded_level(0.95, 5) == pytest.approx(1 - 0.00191, abs=2e-5)
    assert expanded_level(0.95, 20) == pytest.approx(1 - 0.0318, abs=2e-4)
    assert expanded_level(0.95, 100_000) == pytest.approx(0.95, abs=1e-4)
    assert expanded_level(0.95, 1) == 1.0
    reps = np.random.default_rng(0).normal(size=2000)
    low, high = percentile_interval(reps, 0.95, n_units=5)
    assert (low, high) == pytest.approx(tuple(np.percentile(reps, [50 * 0.00191, 100 - 50 * 0.00191])), abs=5e-3)


def test_expanded_percentiles_restore_coverage_with_five_task_instances():
    """With 5 task instances (the paper scale) the plain 95% percentile interval of the hierarchical
    bootstrap covers the true mean in well under 90% of 300 simulated tables; the expanded one in
    90-99%. With 3 instances a percentile interval hardly reaches beyond the extreme instances, so even
    the expanded one stays short of 90% (the quick scale is a demonstration, the paper scale the evidence).
    Counted here with bootstrap_ci itself, independently of bootstrap_coverage, which must agree."""
    rng = np.random.default_rng(7)
    n_tables = 300
    for n_inst, expanded_bounds, plain_max in ((5, (0.90, 0.99), 0.89), (3, (0.65, 0.90), 0.80)):
        plain = expanded = 0
        for k in range(n_tables):
            t = _hierarchical_table(rng, n_inst=n_inst)
            x, clusters = t.v.to_numpy(), t.task_seed.to_numpy()
            draws, n_units = resample_indices(len(x), 300, np.random.default_rng(k), clusters)
            assert n_units == n_inst
            reps = np.array([x[i].mean() for i in draws])
            low, high = percentile_interval(reps)
            plain += low <= 0.5 <= high
            ci = bootstrap_ci(x, n_boot=300, seed=k, clusters=clusters)
            expanded += ci.low <= 0.5 <= ci.high
        assert expanded_bounds[0] * n_tables <= expanded <= expanded_bounds[1] * n_tables, (n_inst, expanded)
        assert plain <= plain_max * n_tables and plain < expanded, (n_inst, plain, expanded)
        study = bootstrap_coverage(n_inst, n_seeds=3, n_tables=n_tables, seed=1)
        # two independent Monte Carlo estimates of one coverage: within 4 binomial SE of each other
        for ours, theirs in ((study.plain, plain / n_tables), (study.expanded, expanded / n_tables)):
            p = (ours + theirs) / 2
            assert abs(ours - theirs) <= 4 * np.sqrt(2 * p * (1 - p) / n_tables), (n_inst, ours, theirs)


def test_bootstrap_coverage_is_seeded_and_refuses_bad_sizes():
    a = bootstrap_coverage(3, n_tables=20, n_boot=50, seed=4)
    assert a == bootstrap_coverage(3, n_tables=20, n_boot=50, seed=4)
    assert a.n_tables == 20 and 0 <= a.plain <= a.expanded <= 1  # the expanded interval contains the plain one
    for bad in (dict(n_instances=1), dict(n_instances=2.5), dict(n_instances=3, n_seeds=0),
                dict(n_instances=3, n_tables=0)):
        with pytest.raises(ValueError, match="bootstrap_coverage"):
            bootstrap_coverage(**bad)


def test_mean_se_text_never_hides_a_small_error_or_signs_a_zero():
    assert mean_se_text(0.0123, 0.0041) == "+0.012 ± 0.004"
    assert mean_se_text(0.0321, 0.000447) == "+0.0321 ± 0.0004"  # not "± 0.000"
    assert mean_se_text(0.5, 3e-9) == "+0.500000 ± 0.000000"  # at most 6 decimals
    assert mean_se_text(-0.0001, 0.004) == "0.000 ± 0.004"  # a mean that rounds to zero has no sign
    assert mean_se_text(0.0, 0.0) == "0"  # a protocol against itself
    assert mean_se_text(0.25, 0.0) == "+0.250 ± 0.000"  # every replicate agrees: the SE is zero, shown as such
    assert mean_se_text(0.81, 0.02, signed=False) == "0.810 ± 0.020"
    assert mean_se_text(0.3, math.nan) == "+0.300" and mean_se_text(math.nan, 0.1) == "\u2014"
    assert compare([0.1, 0.2], [0.1, 0.1]).text() == "+0.050 ± 0.050"


def test_bootstrap_refuses_bad_arguments():
    t = pd.DataFrame({"seed": [0, 1], "v": [0.0, 1.0]})
    with pytest.raises(ValueError, match="unit"):
        bootstrap(lambda x: x.v.mean(), t, ["task_seed"])
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap(lambda x: x.v.mean(), t, ["seed"], n_boot=0)


def test_bootstrap_ci_vectorised_mean_equals_the_resample_by_resample_mean():
    """The fast path (np.mean over one index matrix) gives bit-for-bit the interval of the general
    path (the statistic called on each resample), balanced clusters, plain rows and NaN alike."""
    rng = np.random.default_rng(11)
    for n, clusters in ((9, None), (12, np.repeat(np.arange(4), 3)), (10, np.repeat(np.arange(5), 2))):
        x = rng.normal(size=n) * 7.3
        fast = bootstrap_ci(x, n_boot=500, seed=3, clusters=clusters)
        slow = bootstrap_ci(x, stat=lambda v: np.mean(v), n_boot=500, seed=3, clusters=clusters)
        assert fast == slow
    x = np.array([0.1, np.nan, 0.3, 0.4, 0.2, 0.5])
    np.testing.assert_array_equal(bootstrap_ci(x, n_boot=300, seed=1),  # NaN estimate, the NaN resamples dropped
                                  bootstrap_ci(x, stat=lambda v: np.mean(v), n_boot=300, seed=1))
    unbalanced = np.array([0, 0, 0, 1, 2, 2])  # resamples of different lengths: the general path
    y = rng.normal(size=6)
    assert bootstrap_ci(y, n_boot=300, seed=2, clusters=unbalanced) == bootstrap_ci(
        y, stat=lambda v: np.mean(v), n_boot=300, seed=2, clusters=unbalanced)


def test_compare_columns_gives_compare_bit_for_bit():
    """The one-pass comparison of many columns is the column-by-column compare, to the last bit:
    with and without clusters, with NaN and inf replicates, a cluster with no finite value, and
    Series clusters that must be aligned."""
    rng = np.random.default_rng(5)
    index = pd.Index(range(12), name="seed")
    a = pd.Series(rng.normal(size=12) * 0.1 + 0.7, index=index)
    others = pd.DataFrame(rng.normal(size=(12, 6)) * 0.1 + 0.65, index=index, columns=list("uvwxyz"))
    others.iloc[[1, 5], 2] = np.nan
    others.iloc[3, 4] = np.inf
    others.iloc[9:12, 5] = np.nan  # the last cluster of column z has no finite difference
    clusters = np.repeat([2, 0, 1, 3], 3)
    for cl in (None, clusters, pd.Series(clusters, index=index).iloc[::-1]):
        assert compare_columns(a, others, cl) == [compare(a, others[c], cl) for c in others.columns]
    with pytest.raises(ValueError, match="cluster labels"):
        compare_columns(a, others, clusters[:5])
