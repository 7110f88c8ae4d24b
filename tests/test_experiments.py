"""The experiments end to end, in small sizes: depth sweep, validation split, shared training paths."""
import pytest
import torch

from tlcore.experiments import depth_sweep, pretrain, train_scratch
from tlcore.stats import paired_difference
from tlcore.tasks import digits_pair, mnist1d_pair, teacher_pair
from tlcore.transfer import Protocol

FAST = dict(width=32, depth=3, source_steps=300, steps=150)


@pytest.fixture(scope="module")
def pair():
    return teacher_pair(shared_depth=2, alpha=0.3, seed=0, n_source=3000, n_target_pool=1000, n_test=1000)


def test_depth_sweep_table(pair):
    protocols = [(0, 0), (2, 2), (3, 0), (3, 3)]
    table = depth_sweep(pair, n_targets=[20, 200], protocols=protocols, seeds=[0, 1, 2, 3], **FAST)
    assert len(table) == 4 * 2 * 4
    for col in ["family", "shared_depth", "alpha", "n_target", "transfer_depth", "frozen_depth", "seed",
                "test_acc", "source_test_acc"]:
        assert col in table.columns
    assert (table.source_test_acc > 0.5).all()  # the source network learned its task
    mean = table.groupby(["n_target", "transfer_depth", "frozen_depth"]).test_acc.mean()
    # a closely related source (alpha = 0.3) must help a 20-example target, beyond the seed noise
    gain = paired_difference(table[table.n_target == 20], (3, 0), (0, 0)).iloc[0]
    assert gain.mean_diff > 0.02 and gain.significant, gain
    assert mean[(200, 0, 0)] > mean[(20, 0, 0)]  # more target data helps scratch training
    again = depth_sweep(pair, n_targets=[20, 200], protocols=protocols, seeds=[0, 1, 2, 3], **FAST)
    assert again.equals(table)


def test_depth_sweep_reuses_pretrained_sources(pair):
    sources = pretrain(pair.source, [0], pair.family, **FAST)
    a = depth_sweep(pair, [30], [(0, 0), (1, 1)], seeds=[0], sources=sources, **FAST)
    b = depth_sweep(pair, [30], [(0, 0), (1, 1)], seeds=[0], **FAST)
    assert a.equals(b)


@pytest.mark.parametrize("make", [lambda: digits_pair(0.0, 0.0, seed=0),
                                  lambda: mnist1d_pair(0.0, 0.0, seed=0, num_samples=1500)])
def test_real_data_runs(make):
    pair = make()
    table = depth_sweep(pair, [25], [Protocol(0, 0), Protocol(2, 2)], seeds=[0], width=16, depth=2,
                        source_steps=200, steps=100)
    assert set(table.model) == {"cnn1d" if pair.family == "mnist1d" else "mlp"}
    assert (table.source_test_acc > 0.4).all()


def test_depth_sweep_errors(pair):
    with pytest.raises(ValueError, match="n_target=5000 is larger"):
        depth_sweep(pair, [5000], [(0, 0)], **FAST)
    with pytest.raises(ValueError, match="transfer_depth=4 > n_blocks=3"):
        depth_sweep(pair, [10], [(4, 0)], **FAST)
    with pytest.raises(ValueError, match="frozen_depth=2 > transfer_depth=1"):
        depth_sweep(pair, [10], [(1, 2)], **FAST)
    with pytest.raises(ValueError, match="unknown training parameter 'widht'"):
        depth_sweep(pair, [10], [(0, 0)], widht=3)
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        depth_sweep(pair, [10], [(0, 0)], model="vgg")
    with pytest.raises(ValueError, match=r"ResNet\) takes inputs of 4 dimensions \(\(N, C, H, W\)\), got x of shape"):
        depth_sweep(pair, [10], [(0, 0)], model="resnet", **FAST)
    other = teacher_pair(1, 0.1, seed=0, input_dim=8, n_source=200, n_target_pool=100, n_test=100)
    sources = pretrain(other.source, [0], **FAST)
    with pytest.raises(ValueError, match="input size mismatch"):
        depth_sweep(pair, [10], [(0, 0)], seeds=[0], sources=sources, **FAST)


def test_validation_split_is_carved_from_the_pool_and_paired(pair):
    protocols = [(0, 0), (3, 0), (3, 3)]
    with_val = depth_sweep(pair, [20, 100], protocols, seeds=[0, 1], n_val=300, **FAST)
    plain = depth_sweep(pair, [20, 100], protocols, seeds=[0, 1], **FAST)
    # the validation set only adds a column: the same networks are trained
    assert with_val.drop(columns="val_acc").equals(plain)
    assert with_val.val_acc.nunique() > 3
    # validation accuracy tracks test accuracy (the same task), network by network
    assert with_val[["val_acc", "test_acc"]].corr().iloc[0, 1] > 0.8
    with pytest.raises(ValueError, match="300 kept for validation"):
        depth_sweep(pair, [800], protocols, n_val=300, **FAST)


def test_scratch_networks_use_their_own_seed_keys(pair):
    sources, _ = pretrain(pair.source, [0], pair.family, **FAST)
    small = pair.target.subsample(50, seed=0)
    scratch = train_scratch(small, sources[0], [0], **FAST)[0]
    again = train_scratch(small, sources[0], [0], **FAST)[0]
    assert all(torch.equal(p, q) for p, q in zip(scratch.parameters(), again.parameters()))
    # same seed, other role: a scratch network does not start where the source did
    fresh_source = pretrain(pair.source, [0], pair.family, **{**FAST, "source_steps": 0})[0][0]
    assert not torch.equal(fresh_source.blocks[0][0].weight, scratch.blocks[0][0].weight)
