"""The batched engine against the idiomatic one-network-at-a-time PyTorch loop."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tlcore.models import CNN1d, MLP
from tlcore.train import BatchStream, _fit, accuracy, fit
from tlcore.transfer import Protocol, initialise_target


def _alone(model, x, y, subset, seed, steps, batch_size, lr, weight_decay=0.0):
    """Reference: nn.Module + torch.optim.Adam, one network, the same batches; a parameter's
    ``lr_scale`` entry becomes a parameter group with that multiple of the learning rate."""
    model = copy.deepcopy(model)
    groups = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            groups.setdefault(getattr(model, "lr_scale", {}).get(name, 1.0), []).append(p)
    opt = torch.optim.Adam([{"params": ps, "lr": lr * s} for s, ps in groups.items()], lr=lr,
                           weight_decay=weight_decay)
    for batch in BatchStream(torch.as_tensor(subset), batch_size, seed).take(steps):
        opt.zero_grad()
        F.cross_entropy(model(x[batch]), y[batch]).backward()
        opt.step()
    return model


def groups_of(model):
    return {model.lr_scale.get(n, 1.0) for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("arch", ["mlp", "cnn1d"])
def test_members_match_networks_trained_alone(arch):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 16, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long() + (x[:, 2] > 0.5).long()
    make = (lambda s: MLP(16, 3, width=12, depth=3, seed=s)) if arch == "mlp" else \
        (lambda s: CNN1d(16, 3, width=4, depth=2, seed=s))
    source = make(100)
    models = [make(1), initialise_target(source, Protocol(2, 2), 3, seed=2),
              initialise_target(source, Protocol(1, 0), 3, seed=3), make(4),
              initialise_target(source, Protocol(2, 1), 3, seed=5, transferred_lr_scale=0.1)]
    subsets = [torch.arange(30), torch.arange(200), torch.arange(50, 250), torch.arange(64), torch.arange(100)]
    seeds = [11, 12, 13, 14, 15]
    ens = fit(models, x, y, subsets, seeds, steps=60, batch_size=64, lr=3e-3, weight_decay=1e-3,
              device="cpu", chunk_steps=25)
    trained = ens.to_models()
    for e, model in enumerate(models):
        ref = _alone(model, x, y, subsets[e], seeds[e], 60, 64, 3e-3, 1e-3)
        for (name, p), q in zip(ref.named_parameters(), trained[e].parameters()):
            assert torch.allclose(p, q, atol=2e-5), (e, name, (p - q).abs().max())
            assert p.requires_grad == q.requires_grad
    # frozen blocks did not move at all; trained ones did
    assert torch.equal(trained[1].blocks[1][0].weight, source.blocks[1][0].weight)
    assert not torch.equal(trained[2].blocks[0][0].weight, source.blocks[0][0].weight)
    # the input models are untouched
    assert torch.equal(models[0].head.weight, make(1).head.weight)
    acc = accuracy(trained, x, y, device="cpu")
    with torch.no_grad():
        by_hand = [float((m(x).argmax(1) == y).float().mean()) for m in trained]
    assert np.allclose(acc, by_hand) and np.allclose(acc, ens.accuracy(x, y))
    untrained = accuracy(models, x, y, device="cpu")
    assert (acc > untrained).sum() >= 3 and acc.max() > 0.6  # training learned something
    # the gently fine-tuned block moved less than the same block at the full rate would
    assert trained[4].lr_scale == pytest.approx({"blocks.1.0.weight": 0.1, "blocks.1.0.bias": 0.1})
    assert len(groups_of(models[4])) == 2  # the reference really used two learning rates


def test_batch_stream_covers_each_epoch_once():
    stream = BatchStream(torch.arange(10, 20), batch_size=3, seed=0)
    batches = stream.take(6)  # 3 batches per epoch, remainder dropped
    for epoch in (batches[:3], batches[3:]):
        values = epoch.flatten().tolist()
        assert len(set(values)) == 9 and set(values) <= set(range(10, 20))
    assert torch.equal(BatchStream(torch.arange(5), 8, 0).take(2), torch.arange(5).expand(2, 5))
    again = BatchStream(torch.arange(10, 20), batch_size=3, seed=0)
    assert torch.equal(torch.cat([again.take(2), again.take(4)]), batches)


def test_fit_is_deterministic():
    x, y = torch.randn(100, 5), torch.randint(0, 2, (100,))
    models = [MLP(5, 2, width=8, depth=2, seed=s) for s in range(3)]
    runs = [fit(models, x, y, [torch.arange(40)] * 3, [1, 2, 3], steps=20, device="cpu") for _ in range(2)]
    for n in runs[0].names:
        assert torch.equal(runs[0].params[n], runs[1].params[n])


def test_fit_rejects_bad_input():
    x, y = torch.randn(50, 5), torch.randint(0, 2, (50,))
    m = MLP(5, 2, width=4, depth=2)
    with pytest.raises(ValueError, match="input size mismatch: model 0 expects in_dim=6"):
        fit([MLP(6, 2)], x, y, [torch.arange(5)], [0])
    with pytest.raises(ValueError, match="1 models, 2 subsets"):
        fit([m], x, y, [torch.arange(5)] * 2, [0])
    with pytest.raises(ValueError, match="NaN"):
        fit([m], torch.full((50, 5), float("nan")), y, [torch.arange(5)], [0])
    with pytest.raises(ValueError, match="outside the 50 examples"):
        fit([m], x, y, [torch.arange(45, 55)], [0])
    with pytest.raises(ValueError, match="does not share the architecture"):
        fit([m, MLP(5, 2, width=5, depth=2)], x, y, [torch.arange(5)] * 2, [0, 1])
    with pytest.raises(ValueError, match="label 2 does not fit"):
        fit([m], x, torch.full((50,), 2), [torch.arange(5)], [0])


def test_groups_of_members_train_as_one_ensemble():
    x, y = torch.randn(120, 6), torch.randint(0, 3, (120,))
    source = MLP(6, 3, width=8, depth=3, seed=0)
    models = [initialise_target(source, Protocol(t, f), 3, seed=t) for t, f in [(0, 0), (1, 1), (2, 0), (3, 3), (3, 1)]]
    subsets = [torch.arange(10 * (i + 2)) for i in range(5)]
    whole = fit(models, x, y, subsets, range(5), steps=30, batch_size=32, device="cpu")
    grouped = fit(models, x, y, subsets, range(5), steps=30, batch_size=32, device="cpu", max_members=2)
    assert len(grouped) == 5
    for n in whole.names:
        assert torch.allclose(whole.params[n], grouped.params[n], atol=1e-6)
        assert torch.equal(whole.trainable[n], grouped.trainable[n])


def _forced(models, x, y, subsets, seeds, engine, steps=25, batch_size=32, lr=2e-3, weight_decay=1e-3):
    return _fit(models, x, y, subsets, seeds, steps=steps, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                device="cpu", chunk_steps=64, max_members=None, engine=engine)


def test_linear_relu_fast_path_equals_autograd():
    """The private hand-written backward (chosen for Linear+ReLU stacks) against autograd through vmap."""
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(200, 10, generator=g), torch.randint(0, 4, (200,), generator=g)
    source = MLP(10, 4, width=16, depth=3, seed=0)
    # fully frozen features (only the head trains), partly frozen, defrosted, scratch
    models = [initialise_target(source, Protocol(t, f), 4, seed=t) for t, f in [(3, 3), (2, 1), (3, 0), (0, 0)]]
    subsets = [torch.arange(20), torch.arange(150), torch.arange(40, 200), torch.arange(33)]
    kw = dict(steps=25, batch_size=32, lr=2e-3, weight_decay=1e-3, device="cpu")
    auto = fit(models, x, y, subsets, range(4), **kw)
    general = _forced(models, x, y, subsets, range(4), "autograd")
    for n in auto.names:
        assert torch.allclose(auto.params[n], general.params[n], atol=1e-5), n
    assert torch.equal(auto.params["blocks.0.0.weight"][0], general.params["blocks.0.0.weight"][0])
    # nobody trains the lower blocks: the hand-written pass stops back-propagating above them
    heads_only = [initialise_target(source, Protocol(3, 3), 4, seed=s) for s in range(2)]
    auto = fit(heads_only, x, y, subsets[:2], range(2), **kw)
    general = _forced(heads_only, x, y, subsets[:2], range(2), "autograd")
    assert torch.allclose(auto.params["head.weight"], general.params["head.weight"], atol=1e-5)
    assert torch.equal(auto.params["blocks.2.0.weight"], general.params["blocks.2.0.weight"])
    with pytest.raises(ValueError, match="unknown engine 'fast'"):
        _forced(models, x, y, subsets, range(4), "fast")
    cnn = CNN1d(16, 3, width=4, depth=2, seed=0)
    with pytest.raises(ValueError, match=r"needs Linear\+ReLU blocks, got CNN1d"):
        _forced([cnn], torch.randn(20, 16), torch.randint(0, 3, (20,)), [torch.arange(20)], [0], "linear_relu")
    assert "engine" not in fit.__code__.co_varnames[:fit.__code__.co_argcount + fit.__code__.co_kwonlyargcount]


def test_checkpoints_record_the_accuracy_a_shorter_training_would_reach():
    """The accuracy recorded after k steps equals that of the same members trained for k steps alone
    (same batches, same Adam state), and recording moves no weight."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(400, 12, generator=g)
    y = (x[:, 0] - x[:, 3] > 0).long() + (x[:, 5] > 0.7).long()
    xv, yv = x[300:], y[300:]
    source = MLP(12, 3, width=10, depth=3, seed=7)
    models = [MLP(12, 3, width=10, depth=3, seed=1), initialise_target(source, Protocol(2, 1), 3, seed=2),
              initialise_target(source, Protocol(3, 0), 3, seed=3, transferred_lr_scale=0.1)]
    subsets = [torch.arange(20), torch.arange(150), torch.arange(40, 300)]
    options = dict(batch_size=32, lr=5e-3, device="cpu", chunk_steps=7, max_members=2)
    ens = fit(models, x, y, subsets, [4, 5, 6], steps=30, checkpoints=[30, 0, 10, 25],
              evaluate={"val": (xv, yv), "train": (x[:300], y[:300])}, **options)
    assert ens.checkpoints == [0, 10, 25, 30]
    assert ens.history["val"].shape == (4, 3) and ens.history["train"].shape == (4, 3)
    for row, k in enumerate(ens.checkpoints):
        shorter = fit(models, x, y, subsets, [4, 5, 6], steps=k, **options)
        assert np.array_equal(ens.history["val"][row], shorter.accuracy(xv, yv)), k
        assert np.array_equal(ens.history["train"][row], shorter.accuracy(x[:300], y[:300])), k
    plain = fit(models, x, y, subsets, [4, 5, 6], steps=30, **options)
    for name in plain.params:
        assert torch.equal(plain.params[name], ens.params[name]), name
    assert plain.history == {} and plain.checkpoints == []
    assert ens.history["train"][-1].mean() > ens.history["train"][0].mean()  # it learned


@pytest.mark.parametrize("checkpoints, evaluate, message", [
    ([5, 31], {"val": None}, "checkpoint 31 is beyond the 30 training steps"),
    ([-1], {"val": None}, "checkpoint"),
    ([10], None, "checkpoints need evaluate"),
])
def test_bad_checkpoints_are_refused_before_training(checkpoints, evaluate, message):
    x, y = torch.randn(50, 4), torch.randint(0, 2, (50,))
    evaluate = None if evaluate is None else {"val": (x, y)}
    with pytest.raises(ValueError, match=message):
        fit([MLP(4, 2, width=3, depth=1, seed=0)], x, y, [torch.arange(50)], [0], steps=30,
            checkpoints=checkpoints, evaluate=evaluate, device="cpu")
