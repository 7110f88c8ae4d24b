"""Calibrated similarity profiles and the protocol they predict: properties that must hold on any CPU."""
import numpy as np
import pandas as pd
import pytest
import torch

from tlcore.experiments import TrainingConfig, similarity_profiles, train_fresh
from tlcore.models import build_like
from tlcore.profiles import calibrated_profile, divergence_depth, normalised_profile, predict_protocol
from tlcore.seeds import derive_seed
from tlcore.tasks import hidden_manifold_pair
from tlcore.transfer import Protocol

SIZES = dict(n_source=2000, n_target_pool=1200, n_test=400)
FAST = dict(width=32, depth=3, source_steps=400, steps=200)
SEEDS = [0, 1, 2, 3, 4, 5]


def _curve(values, pairs=1):
    return [{"pair": p, "block": b, "value": v} for p in range(pairs) for b, v in enumerate(values, 1)]


def _profile(**curves):
    return pd.DataFrame([dict(row, curve=name) for name, values in curves.items() for row in _curve(values)])


def test_divergence_depth_counts_the_matching_prefix():
    p = _profile(source=[0.9, 0.7, 0.3, 0.9], twin=[1.0] * 4, floor=[0.0] * 4)
    assert list(normalised_profile(p)) == pytest.approx([0.9, 0.7, 0.3, 0.9])
    assert divergence_depth(p, level=0.5) == 2   # block 3 fails; block 4 does not count after it
    assert divergence_depth(p, level=0.75) == 1
    assert divergence_depth(p, level=0.95) == 0
    assert predict_protocol(p, level=0.5) == Protocol(2, 2)
    assert predict_protocol(p, level=0.5, freeze=False) == Protocol(2, 0)
    # a block where the measure cannot tell trained from untrained features holds no evidence against
    # the source: it matches, and the count goes on
    flat = _profile(source=[0.9, 0.1, 0.2], twin=[1.0, 0.3, 1.0], floor=[0.0, 0.3, 0.0])
    assert np.isnan(normalised_profile(flat)[1]) and divergence_depth(flat) == 2


@pytest.mark.parametrize("kwargs, message", [
    (dict(level=0.0), "level=0.0"), (dict(level=float("nan")), "level=nan"), (dict(baseline="reference"), "'reference'"),
])
def test_divergence_depth_refuses_bad_input(kwargs, message):
    p = _profile(source=[0.9], twin=[1.0], floor=[0.0])
    with pytest.raises(ValueError, match=message):
        divergence_depth(p, **kwargs)


@pytest.fixture(scope="module")
def networks():
    """Scratch networks on one target subset, their twins, third networks like them, and untrained ones."""
    pair = hidden_manifold_pair(feature_mix=0.0, teacher_mix=0.0, seed=0, **SIZES)
    unrelated = hidden_manifold_pair(feature_mix=1.0, teacher_mix=1.0, seed=0, **SIZES)
    cfg = TrainingConfig(**FAST, device="cpu")
    subset = [torch.arange(300)] * len(SEEDS)
    like = train_fresh(pair.target, [0], "like", 1, cfg=cfg)[0][0]
    nets = {role: train_fresh(pair.target, SEEDS, role, cfg.steps, like=like, subsets=subset, cfg=cfg)[0]
            for role in ("scratch", "scratch-twin", "third")}
    nets["floor"] = [build_like(like, seed=derive_seed(s, "untrained", "init")) for s in SEEDS]
    nets["unrelated"] = train_fresh(unrelated.target, [0], "source", cfg.source_steps, like=like, cfg=cfg)[0][0]
    return pair, nets


def _profile_of(source, nets, probe, measure):
    refs = {"twin": nets["scratch-twin"], "floor": nets["floor"]}
    return calibrated_profile(source, nets["scratch"], refs, probe, measure)


@pytest.mark.parametrize("measure", ["linear_cka", "neighbourhood_overlap", "information_imbalance",
                                     "information_imbalance_reverse"])
def test_baseline_above_floor_and_an_identical_source_sits_on_the_baseline(networks, measure):
    pair, nets = networks
    probe = pair.target.x_train[600:1000]
    # an "identical source": a third network trained like the scratch one on the same examples
    p = calibrated_profile(nets["third"][0], nets["scratch"][1:], {"twin": nets["scratch-twin"][1:],
                                                                   "floor": nets["floor"][1:]}, probe, measure)
    wide = p.pivot_table(index=["pair", "block"], columns="curve", values="value")
    gap = (wide.twin - wide.floor).groupby("block")
    assert (gap.mean() > 4 * gap.sem()).all(), gap.mean()  # the baseline is clearly above the floor
    diff = (wide.source - wide.twin).groupby("block")
    assert (diff.mean().abs() <= 3 * diff.sem() + 0.02).all(), diff.mean()  # within the baseline's band
    assert divergence_depth(p) == 3 and predict_protocol(p) == Protocol(3, 3)


def test_an_unrelated_source_predicts_scratch(networks):
    pair, nets = networks
    probe = pair.target.x_train[600:1000]
    for measure in ("linear_cka", "information_imbalance"):
        p = _profile_of(nets["unrelated"], nets, probe, measure)
        assert predict_protocol(p) == Protocol(0, 0), normalised_profile(p)


def test_calibrated_profile_refuses_mismatched_references(networks):
    pair, nets = networks
    with pytest.raises(ValueError, match="reference 'twin'"):
        calibrated_profile(nets["third"][0], nets["scratch"], {"twin": nets["scratch-twin"][:2]},
                           pair.target.x_train[:50], "linear_cka")
    with pytest.raises(ValueError, match="NaN"):
        bad = pair.target.x_train[:50].clone()
        bad[3, 2] = float("nan")
        calibrated_profile(nets["third"][0], nets["scratch"][:1], {}, bad, "linear_cka")


def test_similarity_profiles_table_and_its_checks():
    pair = hidden_manifold_pair(feature_mix=0.0, teacher_mix=0.5, seed=0, **SIZES)
    small = dict(width=16, depth=2, source_steps=100, steps=50, device="cpu")
    table = similarity_profiles(pair, [20, 80], seeds=[0, 1], measures=["linear_cka"], n_probe=200, **small)
    assert len(table) == 2 * 2 * 1 * 4 * 2  # n_targets x seeds x measures x curves x blocks
    assert set(table.curve) == {"source", "twin", "reference", "floor"}
    assert {"feature_mix", "teacher_mix", "task_seed"} <= set(table.columns)
    assert table.equals(similarity_profiles(pair, [20, 80], seeds=[0, 1], measures=["linear_cka"], n_probe=200,
                                            **small))
    for kwargs, message in [(dict(n_probe=1100), "n_probe=1100"), (dict(measures=["cosine"]), "'cosine'"),
                            (dict(k=200), "k=200"), (dict(seeds=[]), "seeds is empty")]:
        with pytest.raises(ValueError, match=message):
            similarity_profiles(pair, [80], **{"seeds": [0], "n_probe": 200, **kwargs}, dry_run=True, **small)
