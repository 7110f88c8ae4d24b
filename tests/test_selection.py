"""Transferability baselines against independent references; ranking; the selection experiment."""
import math

import torch

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.stats import multivariate_normal
from sklearn.metrics import mutual_info_score

import pandas as pd

from tlcore.experiments import UNTRAINED, candidate_sources, pretrain, source_selection, train_scratch
from tlcore.models import MLP
from tlcore.analysis import paired_quality_difference, quality_intervals, selection_quality, tie_aware_quality
from tlcore.selection import rank_sources, ranking_quality
from tlcore.transferability import hscore, leep, logme, nce, source_outputs


def _direct_log_evidence(f, t):
    """max over (alpha, beta) of log N(t; 0, I/beta + F F^T / alpha), by a generic optimiser."""
    n = len(t)

    def neg(log_ab):
        a, b = np.exp(log_ab)
        return -multivariate_normal(mean=np.zeros(n), cov=np.eye(n) / b + f @ f.T / a).logpdf(t)

    best = min((minimize(neg, x0, method="Nelder-Mead", options=dict(xatol=1e-10, fatol=1e-12, maxiter=4000))
                for x0 in ([0.0, 0.0], [2.0, -1.0], [-2.0, 2.0])), key=lambda r: r.fun)
    return -best.fun / n


def test_logme_stays_finite_when_features_outnumber_examples_and_fit_them_exactly():
    """Large features of low numerical rank, far more of them than examples: the evidence
    approximation's gamma reaches n, and rounding used to take n - gamma below zero (a NaN score
    that stopped a paper-scale selection run)."""
    import warnings

    for k in range(5):
        rng = np.random.default_rng(k)
        f = np.maximum(rng.normal(size=(20, 512)), 0) * 1e3
        f[:, :256] = f[:, :1] * rng.uniform(size=256)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "invalid value in log" either
            assert np.isfinite(logme(f, rng.integers(0, 2, 20)))


def test_logme_equals_direct_evidence_maximisation():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(12, 3))
    y = (f[:, 0] + 0.5 * rng.normal(size=12) > 0).astype(int) + (f[:, 1] > 1).astype(int)
    direct = np.mean([_direct_log_evidence(f, (y == c).astype(float)) for c in range(y.max() + 1)])
    assert logme(f, y) == pytest.approx(direct, abs=1e-6)
    wide = rng.normal(size=(8, 11))  # more features than examples
    y2 = rng.integers(0, 2, 8)
    assert logme(wide, y2) == pytest.approx(
        np.mean([_direct_log_evidence(wide, (y2 == c).astype(float)) for c in (0, 1)]), abs=1e-5)


def test_leep_by_its_definition():
    rng = np.random.default_rng(1)
    theta = rng.dirichlet(np.ones(4), size=30)
    y = rng.integers(0, 3, 30)
    joint = np.zeros((3, 4))
    for i in range(30):
        for z in range(4):
            joint[y[i], z] += theta[i, z] / 30
    expected = np.mean([math.log(sum(joint[y[i], z] / joint[:, z].sum() * theta[i, z] for z in range(4)))
                        for i in range(30)])
    assert leep(theta, y) == pytest.approx(expected, abs=1e-12)
    # a source whose labels determine the target's scores higher than one that is noise
    z = rng.integers(0, 4, 200)
    sharp = np.eye(4)[z] * 0.96 + 0.01
    assert leep(sharp, z % 2) > leep(rng.dirichlet(np.ones(4), size=200), z % 2)


def test_nce_is_mutual_information_minus_entropy():
    rng = np.random.default_rng(2)
    z, y = rng.integers(0, 5, 400), rng.integers(0, 3, 400)
    y[:200] = z[:200] % 3
    _, counts = np.unique(y, return_counts=True)
    h_y = -np.sum(counts / 400 * np.log(counts / 400))
    assert nce(z, y) == pytest.approx(mutual_info_score(y, z) - h_y, abs=1e-12)
    assert nce(z, z % 2) == pytest.approx(0.0, abs=1e-12)  # y a function of z: no uncertainty left


def _ledoit_wolf_hscore(f, y):
    """The shrinkage H-score transcribed from the formulas: Ledoit & Wolf (2004), Ibrahim et al. (2022)."""
    n, p = f.shape
    x = f - f.mean(0)
    s = x.T @ x / n
    m = np.trace(s) / p
    d2 = np.sum((s - m * np.eye(p)) ** 2) / p
    b2 = min(sum(np.sum((np.outer(v, v) - s) ** 2) for v in x) / n ** 2 / p, d2)
    a = b2 / d2
    g = np.stack([x[y == c].mean(0) for c in y])
    return np.trace(np.linalg.inv((1 - a) * s + a * m * np.eye(p)) @ ((1 - a) * g.T @ g / n))


def test_hscore_reference_and_stability():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 300)
    f = rng.normal(size=(300, 4)) + np.eye(3, 4)[y] * 2
    assert hscore(f, y) == pytest.approx(_ledoit_wolf_hscore(f, y), rel=1e-9)
    assert hscore(f, y) > hscore(rng.normal(size=(300, 4)), y)
    # rank-deficient: 30 examples of 32 ReLU-like features (as a small target set gives); a change in the
    # last bits (what another BLAS kernel makes) must not change the score
    y = rng.integers(0, 3, 30)
    f = np.maximum(rng.normal(size=(30, 32)) + np.eye(3, 32)[y], 0)
    assert hscore(f, y) == pytest.approx(_ledoit_wolf_hscore(f, y), rel=1e-9)
    wobble = f * (1 + 1e-13 * rng.normal(size=f.shape))
    assert hscore(wobble, y) == pytest.approx(hscore(f, y), rel=1e-9)
    assert hscore(np.zeros((30, 4)), y) == 0.0


def test_ranking_quality():
    acc = {"a": 0.9, "b": 0.7, "c": 0.5}
    perfect = ranking_quality({"a": 3, "b": 2, "c": 1}, acc)
    assert perfect == {"spearman": 1.0, "kendall": 1.0, "top1_hit": True, "regret": 0.0}
    wrong = ranking_quality({"a": 1, "b": 2, "c": 3}, acc)
    assert wrong["spearman"] == -1.0 and not wrong["top1_hit"] and wrong["regret"] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="different sources"):
        ranking_quality({"a": 1, "x": 2}, {"a": 0.1, "b": 0.2})


def test_baselines_reject_bad_input():
    with pytest.raises(ValueError, match=r"labels must have shape \(5,\)"):
        logme(np.ones((5, 2)), [0, 1])
    with pytest.raises(ValueError, match="integers"):
        hscore(np.random.rand(4, 2), [0.5, 1, 0, 1])
    with pytest.raises(ValueError, match="NaN"):
        leep(np.full((3, 2), np.nan), [0, 1, 0])
    with pytest.raises(ValueError, match="probabilities"):
        leep(np.ones((3, 2)), [0, 1, 0])


@pytest.fixture(scope="module")
def graded():
    target, candidates = candidate_sources("teacher", "alpha", [0.0, math.pi / 2], seed=0,
                                           family_params=dict(shared_depth=0, n_source=3000,
                                                              n_target_pool=3000, n_test=500))
    return target, candidates


def test_candidate_sources_share_the_target(graded):
    target, candidates = graded
    assert list(candidates) == ["alpha=0", "alpha=1.5708"]
    same = candidates["alpha=0"]
    assert same.n_classes == target.n_classes and same.in_dim == target.in_dim
    with pytest.raises(ValueError, match="at least two candidates"):
        candidate_sources("teacher", "alpha", [0.1])
    # candidates as knob settings over a base setting: low-level and high-level changes from one target
    t2, mixed = candidate_sources("hidden_manifold", candidates=[{"feature_mix": 0.5}, {"teacher_mix": 0.5}],
                                  family_params=dict(feature_mix=0.0, teacher_mix=0.0, n_source=200,
                                                     n_target_pool=200, n_test=100))
    assert list(mixed) == ["feature_mix=0.5", "teacher_mix=0.5"]
    assert not torch.equal(mixed["feature_mix=0.5"].x_train, mixed["teacher_mix=0.5"].x_train)
    with pytest.raises(ValueError, match="not both"):
        candidate_sources("teacher", "alpha", [0.1, 0.2], candidates=[{"alpha": 0.1}, {"alpha": 0.2}])


def test_rank_sources_prefers_the_related_source(graded):
    target, candidates = graded
    sources = {name: pretrain(task, [0], width=32, depth=3, source_steps=600)[0][0]
               for name, task in candidates.items()}
    sub = target.subsample(200, seed=0)
    scratch = train_scratch(sub, sources["alpha=0"], [0, 1], steps=300)
    for measure in ("neighbourhood_overlap", "linear_cka", "information_imbalance"):
        table = rank_sources(scratch, sub.x_train, sources, measure=measure)
        assert list(table.columns[:3]) == ["source", "score", "score_sem"]
        assert table.source.iloc[0] == "alpha=0", (measure, table)
        assert table.attrs["layerwise"]["alpha=0"].shape == (3, 3)
    probs, feats = source_outputs(sources["alpha=0"], sub.x_train)
    assert probs.shape == (200, 4) and feats.shape == (200, 32)
    with pytest.raises(ValueError, match="unknown similarity measure 'cosine'"):
        rank_sources(scratch, sub.x_train, sources, measure="cosine")
    with pytest.raises(ValueError, match="unknown aggregate 'median'"):
        rank_sources(scratch, sub.x_train, sources, aggregate="median")
    with pytest.raises(ValueError, match="input size mismatch"):
        rank_sources(scratch, sub.x_train, {"m": MLP(3, 4)})


def test_source_selection_table():
    table = source_selection("teacher", "alpha", [0.0, 0.8, 1.5], n_targets=[40], seeds=[0],
                             family_params=dict(shared_depth=0, n_source=1500, n_target_pool=1500,
                                                n_test=500),
                             protocols=[(0, 0), (1, 1), (3, 0)], measures=("linear_cka",),
                             width=32, depth=3, source_steps=400, steps=200)
    assert set(table.selector) == {"linear_cka", "leep", "logme", "hscore", "nce"}
    assert len(table) == 5 * 3
    for _, group in table.groupby("selector"):
        chosen = group.loc[group.score.idxmax()]
        assert group.regret.iloc[0] == pytest.approx(group.best_acc.max() - chosen.best_acc)
        rho = group.score.rank().corr(group.best_acc.rank())  # Spearman by its definition
        assert group.spearman.iloc[0] == pytest.approx(rho)
    best = set(zip(table.best_transfer_depth, table.best_frozen_depth))
    assert best <= {(0, 0), (1, 1), (3, 0)} and table.best_transfer_depth.dtype.kind == "i"
    with pytest.raises(ValueError, match="unknown baseline 'gbc'"):
        source_selection("teacher", "alpha", [0.0, 1.0], [10], baselines=("gbc",))
    with pytest.raises(ValueError, match="n_target=99999"):
        source_selection("teacher", "alpha", [0.0, 1.0], [99999])


_SCORES = """
import json, sys
import numpy as np
from tlcore.transferability import BASELINES
rng = np.random.default_rng(7)
y = rng.integers(0, 4, 30)
out = {}
for s in range(3):  # three sources: rank-deficient features (30 examples, 32 ReLU features)
    f = np.maximum(rng.normal(size=(30, 32)) + (3 - s) * np.eye(4, 32)[y], 0)
    logits = f[:, :6] + rng.normal(size=(30, 6))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    out[s] = {name: score(probs, f, y) for name, score in BASELINES.items()}
print(json.dumps(out))
"""


def test_baseline_rankings_do_not_depend_on_the_blas_kernel():
    """The same rank-deficient features scored under two OpenBLAS kernels rank the sources alike."""
    import json
    import os
    import subprocess
    import sys

    runs = []
    for coretype in ("Haswell", None):
        env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
        if coretype:
            env["OPENBLAS_CORETYPE"] = coretype
        out = subprocess.run([sys.executable, "-c", _SCORES], env=env, capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout))
    for name in runs[0]["0"]:
        order = [sorted(r, key=lambda s: r[s][name]) for r in runs]
        assert order[0] == order[1], name
        # the ranking is decided by the data, not by rounding: the scores really differ (a pseudo-inverse
        # H-score gives C - 1 = 3 to 14 digits for every source here, ranked by rounding noise)
        scores = sorted(runs[0][s][name] for s in runs[0])
        assert min(b - a for a, b in zip(scores, scores[1:])) > 1e-6 * max(1.0, abs(scores[-1])), (name, scores)
        for s in runs[0]:
            assert runs[0][s][name] == pytest.approx(runs[1][s][name], rel=1e-6, abs=1e-9), (name, s)


# --------------------------------------------------------------------------- tie-aware quality

_TRUTH = {"a": 0.90, "b": 0.89, "c": 0.60, "u": 0.40}
_SEM = {name: 0.01 for name in _TRUTH}  # a and b are within 2 SE of each other: a tie


def test_a_source_tied_with_the_best_counts_as_a_hit():
    q = tie_aware_quality({"a": 1.0, "b": 2.0, "c": 0.0, "u": -1.0}, _TRUTH, _SEM, control="u")
    assert q["top1_hit"] == 1.0 and q["regret"] == pytest.approx(0.01)
    swapped = tie_aware_quality({"a": 2.0, "b": 1.0, "c": 0.0, "u": -1.0}, _TRUTH, _SEM, control="u")
    assert q["spearman"] == pytest.approx(swapped["spearman"]) and q["spearman"] > 0.9  # a and b share a rank: their order is noise
    assert q["control_rank"] == 4.0
    # the plain (tie-blind) yardstick calls the same choice a miss
    assert ranking_quality({"a": 1.0, "b": 2.0, "c": 0.0, "u": -1.0}, _TRUTH)["top1_hit"] is False


def test_identical_scores_earn_a_random_pick():
    q = tie_aware_quality(dict.fromkeys(_TRUTH, 0.3), _TRUTH, _SEM, control="u")
    assert q["spearman"] == 0.0  # no information, not NaN
    assert q["top1_hit"] == pytest.approx(0.5)  # a or b of four
    assert q["regret"] == pytest.approx(0.9 - np.mean(list(_TRUTH.values())))
    assert q["control_rank"] == 2.5
    half = tie_aware_quality({"a": 0, "b": 0, "c": 1, "u": 1}, _TRUTH, _SEM)
    assert half["top1_hit"] == 0.0 and half["regret"] == pytest.approx(0.9 - 0.5)
    with pytest.raises(ValueError, match="different sources"):
        tie_aware_quality({"a": 1, "x": 2}, {"a": 0.1, "b": 0.2}, {"a": 0.0, "b": 0.0})
    with pytest.raises(ValueError, match="control 'z'"):
        tie_aware_quality({"a": 1, "b": 2}, {"a": 0.1, "b": 0.2}, {"a": 0.0, "b": 0.0}, control="z")


def _table(noise, seeds=12, seed=0):
    """A selection table: truth as _TRUTH plus seed noise; 'good' scores follow the truth, 'coin' is noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(seeds):
        acc = {c: v + noise * rng.normal() for c, v in _TRUTH.items()}
        for c in _TRUTH:
            rows += [{"n_target": 30, "seed": s, "candidate": c, "best_acc": acc[c], "selector": "good",
                      "score": _TRUTH[c] + 0.05 * rng.normal()},
                     {"n_target": 30, "seed": s, "candidate": c, "best_acc": acc[c], "selector": "coin",
                      "score": rng.normal()}]
    return pd.DataFrame(rows)


def test_intervals_over_seeds_contain_their_estimate_and_separate_a_good_selector_from_a_coin():
    quality = selection_quality(_table(0.01), control="u")
    assert len(quality) == 2 * 12 and set(quality.columns) >= {"spearman", "top1_hit", "regret", "control_rank"}
    ci = quality_intervals(quality).set_index("selector")
    for metric in ("spearman", "top1_hit", "regret", "control_rank"):
        assert (ci[f"{metric}_low"] <= ci[metric]).all() and (ci[metric] <= ci[f"{metric}_high"]).all()
    assert ci.loc["good", "spearman_low"] > 0.5 and ci.loc["coin", "spearman_low"] < 0 < ci.loc["coin", "spearman_high"]
    assert (ci.n_seeds == 12).all()
    d = paired_quality_difference(quality, "good", "coin")
    assert d["side"] == "better" and d["low"] > 0 and d["n_seeds"] == 12
    assert paired_quality_difference(quality, "good", "good")["side"] == "tie"
    with pytest.raises(ValueError, match="unknown selector 'leep'"):
        paired_quality_difference(quality, "good", "leep")
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['best_acc'\]"):
        selection_quality(_table(0.01).drop(columns="best_acc"))


# --------------------------------------------------------------------------- the benchmark's settings

_SMALL = dict(family_params=dict(feature_mix=0.0, teacher_mix=0.0, n_source=1500, n_target_pool=1500, n_test=500),
              width=32, depth=3, source_steps=500, steps=150)


def test_bad_settings_fail_before_training_naming_the_value():
    args = ("hidden_manifold",)
    cands = dict(candidates=[{"teacher_mix": 0.1}, {"feature_mix": 0.5}], n_targets=[30], dry_run=True, **_SMALL)
    assert source_selection(*args, n_probe=[None, 100], k=[5, 10], **cands) is None
    with pytest.raises(ValueError, match=r"n_probe=8 is too small for k=10: .* k \+ 1 = 11"):
        source_selection(*args, n_probe=8, k=10, **cands)
    with pytest.raises(ValueError, match="n_probe=99999 is larger than the target's pool"):
        source_selection(*args, n_probe=99999, **cands)
    with pytest.raises(ValueError, match="unknown similarity measure 'cosine'"):
        source_selection(*args, measures=("cosine",), **cands)
    with pytest.raises(ValueError, match="unknown aggregate 'median'"):
        source_selection(*args, aggregate=["diagonal", "median"], **cands)
    with pytest.raises(ValueError, match="scratch_steps=-1"):
        source_selection(*args, scratch_steps=[-1], **cands)
    # CKA needs no neighbours: a probe smaller than k is fine for it alone
    assert source_selection(*args, n_probe=8, k=10, measures=("linear_cka",), **cands) is None


@pytest.fixture(scope="module")
def with_control():
    return source_selection("hidden_manifold", candidates=[{"teacher_mix": 0.1}, {"feature_mix": 0.6}],
                            untrained_control=True, n_targets=[30], seeds=[0, 1, 2], n_val=200,
                            protocols=[(1, 1), (1, 0), (3, 3), (3, 0)],
                            measures=("neighbourhood_overlap", "linear_cka"), baselines=("leep",),
                            n_probe=[None, 300], k=[5, 10], **_SMALL)


def test_the_untrained_control_transfers_worse_than_a_trained_related_source(with_control):
    truth = with_control.drop_duplicates(["candidate", "seed"]).pivot(index="seed", columns="candidate",
                                                                      values="best_acc")
    gain = truth["teacher_mix=0.1"] - truth[UNTRAINED]
    assert gain.mean() > 2 * gain.std(ddof=1) / np.sqrt(len(gain)) and gain.mean() > 0.05, truth
    control = with_control[with_control.candidate == UNTRAINED].iloc[0]
    assert control.knob == UNTRAINED and math.isnan(control.value)
    near = with_control[with_control.candidate == "teacher_mix=0.1"]
    assert (near.sim_label_agreement < 1).all() and (near.zero_shot_acc > 0.5).all()


def test_probe_size_and_k_change_what_is_computed(with_control):
    t = with_control
    assert set(t.n_probe) == {30, 300} and set(t.k) == {5, 10}
    assert t.groupby(["n_probe", "k", "selector"]).size().eq(3 * 3).all()  # 3 seeds x 3 candidates each
    key = ["seed", "candidate"]

    def scores(selector, n_probe, k):
        rows = t[(t.selector == selector) & (t.n_probe == n_probe) & (t.k == k)]
        return rows.set_index(key).score.sort_index()

    overlap = "neighbourhood_overlap"
    assert not np.allclose(scores(overlap, 30, 10), scores(overlap, 300, 10))
    assert not np.allclose(scores(overlap, 300, 5), scores(overlap, 300, 10))
    assert np.allclose(scores("linear_cka", 300, 5), scores("linear_cka", 300, 10))  # CKA ignores k
    assert not np.allclose(scores("linear_cka", 30, 5), scores("linear_cka", 300, 5))
    assert np.allclose(scores("leep", 30, 5), scores("leep", 300, 10))  # baselines read the labelled examples


def test_computing_only_the_pairs_an_aggregate_reads_gives_the_same_scores():
    x = torch.randn(120, 8, generator=torch.Generator().manual_seed(0))
    nets = {f"s{i}": MLP(8, 3, width=16, depth=3, seed=i) for i in range(3)}
    scratch = [MLP(8, 3, width=16, depth=3, seed=9)]
    for aggregate in ("diagonal", "first", "last", "max"):
        full = rank_sources(scratch, x, nets, "information_imbalance", aggregate)
        lean = rank_sources(scratch, x, nets, "information_imbalance", aggregate, full=False)
        assert list(full.source) == list(lean.source) and np.allclose(full.score, lean.score), aggregate
    lean = rank_sources(scratch, x, nets, "linear_cka", "last", full=False).attrs["layerwise"]["s0"]
    assert np.isfinite(lean[-1, -1]) and np.isnan(lean[0, 0])  # the unread pairs are not computed


def test_scratch_reference_accuracy_is_recorded_per_training_and_seed():
    """The scratch network behind the representation selectors: an untrained one (0 steps) scores
    what its initialisation scores on the target, a trained one learns, and every selector row of a
    (training, seed) carries the same accuracies, on the seed's held-out validation split."""
    from tlcore.models import build_like
    from tlcore.seeds import derive_seed
    from tlcore.train import accuracy
    table = source_selection("hidden_manifold", candidates=[{"teacher_mix": 0.1}, {"feature_mix": 0.6}],
                             n_targets=[100], seeds=[0, 1], n_val=200, protocols=[(1, 0), (3, 3)],
                             measures=("linear_cka",), baselines=("leep",), scratch_steps=[0, 300],
                             scratch_lr=[None, 3e-3], **_SMALL)
    assert set(zip(table.scratch_steps, table.scratch_lr)) == {(0, 1e-3), (0, 3e-3), (300, 1e-3), (300, 3e-3)}
    per_net = table.groupby(["scratch_steps", "scratch_lr", "seed"])[["scratch_val_acc", "scratch_test_acc"]].nunique()
    assert (per_net == 1).all().all()
    target, _ = candidate_sources("hidden_manifold", candidates=[{"teacher_mix": 0.1}, {"feature_mix": 0.6}], seed=0,
                                  family_params=_SMALL["family_params"])
    like = pretrain(target, [0], "hidden_manifold", width=32, depth=3, source_steps=0)[0][0]
    for seed in (0, 1):
        untrained = build_like(like, n_classes=target.n_classes, seed=derive_seed(seed, "scratch", "init"))
        val = target.subsample_indices(target.n_train, seed)[target.n_train - 200:]
        rows = table[(table.scratch_steps == 0) & (table.seed == seed)]
        assert rows.scratch_test_acc.iloc[0] == pytest.approx(accuracy([untrained], target.x_test, target.y_test)[0])
        assert rows.scratch_val_acc.iloc[0] == pytest.approx(
            accuracy([untrained], target.x_train[val], target.y_train[val])[0])
    nets = table.drop_duplicates(["scratch_steps", "scratch_lr", "seed"])
    trained, untrained = (nets[nets.scratch_steps == t].scratch_test_acc.mean() for t in (300, 0))
    assert trained > untrained + 0.1


def test_the_scratch_training_of_c4_is_chosen_on_validation_not_on_test():
    from tlcore import claims
    rows = []
    for steps, lr, val, test in ((250, 1e-3, 0.30, 0.40), (2000, 1e-3, 0.35, 0.30), (250, 3e-3, 0.35, 0.20),
                                 (2000, 3e-3, 0.20, 0.50)):
        for seed in (0, 1):
            for selector in ("linear_cka", "leep"):
                rows.append({"n_target": 50, "scratch_steps": steps, "scratch_lr": lr, "seed": seed,
                             "selector": selector, "scratch_val_acc": val, "scratch_test_acc": test})
    table = pd.DataFrame(rows)
    # (2000, 1e-3) and (250, 3e-3) tie on validation: the shorter training comes first in sorted order
    assert claims.scratch_on_validation(table) == {"scratch_steps": 250, "scratch_lr": 3e-3}
    acc = claims.scratch_accuracy(table).set_index(["scratch_steps", "scratch_lr"])
    assert acc.loc[(2000, 3e-3), "test_acc"] == pytest.approx(0.5) and acc.networks.eq(2).all()
    one = table[(table.scratch_steps == 250) & (table.scratch_lr == 1e-3)]
    assert claims.scratch_on_validation(one) == {}
    assert claims.scratch_on_validation(table.drop(columns="scratch_val_acc")) == {}
