"""Model construction without global random state, build_like, and the checks of load_model."""
import math
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from torch import nn

from tlcore.models import (CNN1d, MLP, MODELS, build_like, build_model, load_model, model_kind,
                           save_model)


def flat(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def same_weights(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


# --- no global random state -------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda s: MLP(20, 3, width=32, depth=3, seed=s),
                                  lambda s: CNN1d(32, 3, width=8, depth=2, seed=s)],
                         ids=["mlp", "cnn1d"])
def test_threads_build_the_same_weights_as_one_thread(make):
    seeds = range(200)
    reference = [flat(make(s)) for s in seeds]
    start = threading.Barrier(2)

    def build_all():
        start.wait()  # both threads build at the same time, so their draws interleave
        return [flat(make(s)) for s in seeds]

    with ThreadPoolExecutor(2) as pool:
        results = [f.result() for f in [pool.submit(build_all) for _ in range(2)]]
    for built in results:
        differing = sum(not torch.equal(w, r) for w, r in zip(built, reference))
        assert differing == 0, f"{differing} of {len(reference)} models differ from a single-threaded build"


def test_building_and_loading_leave_the_global_rng_alone(tmp_path):
    torch.manual_seed(123)
    state = torch.get_rng_state()
    models = [MLP(5, 2, seed=1), MLP(5, 2), CNN1d(16, 3, width=4, depth=2),
              CNN1d(16, 3, width=4, depth=2, seed=7), build_model("mlp", in_dim=3, n_classes=2)]
    models.append(build_like(models[0], n_classes=4))
    save_model(models[2], tmp_path / "m.pt")
    load_model(tmp_path / "m.pt")
    models[0].reset_parameters(5)
    assert torch.equal(torch.get_rng_state(), state)


def test_seeds_are_reproducible_and_distinct():
    for make in (lambda s: MLP(6, 3, width=8, depth=2, seed=s),
                 lambda s: CNN1d(16, 3, width=4, depth=2, seed=s)):
        assert same_weights(make(4), make(4))
        assert not torch.equal(flat(make(4)), flat(make(5)))
        # seed=None takes fresh OS entropy: two builds differ, and torch.manual_seed has no say
        torch.manual_seed(0)
        a = make(None)
        torch.manual_seed(0)
        assert not torch.equal(flat(a), flat(make(None)))
    # reset_parameters(seed) re-draws exactly what the constructor drew
    m = MLP(6, 3, width=8, depth=2, seed=4)
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
    assert same_weights(m.reset_parameters(4), MLP(6, 3, width=8, depth=2, seed=4))


def test_bad_seeds_are_rejected():
    with pytest.raises(ValueError, match="seed=-1"):
        MLP(5, 2, seed=-1)
    with pytest.raises(TypeError, match="seed must be an integer"):
        MLP(5, 2, seed=1.5)
    assert same_weights(MLP(5, 2, seed=2 ** 64 - 1), MLP(5, 2, seed=2 ** 64 - 1))


def test_init_is_pytorchs_default_drawn_in_the_documented_order():
    """Same numbers as PyTorch's own constructors after torch.manual_seed(seed), in parameters() order."""
    for seed in (0, 1, 12345):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            ref_mlp = [nn.Linear(7, 9), nn.Linear(9, 9), nn.Linear(9, 3)]
            torch.manual_seed(seed)
            ref_cnn = [nn.Conv1d(1, 4, 5, stride=2, padding=2), nn.Conv1d(4, 4, 5, stride=2, padding=2),
                       nn.Linear(4 * 4, 3)]
        for model, ref in [(MLP(7, 3, width=9, depth=2, seed=seed), ref_mlp),
                           (CNN1d(16, 3, width=4, depth=2, kernel_size=5, seed=seed), ref_cnn)]:
            expected = [p for layer in ref for p in (layer.weight, layer.bias)]
            assert [n for n, _ in model.named_parameters()][-2:] == ["head.weight", "head.bias"]
            assert all(torch.equal(p, q) for p, q in zip(model.parameters(), expected, strict=True))


def test_init_distributions_match_pytorch_defaults():
    model = MLP(1000, 2, width=1000, depth=2, seed=0)
    conv = CNN1d(64, 2, width=64, depth=2, kernel_size=7, seed=0)
    layers = [b[0] for b in model.blocks] + [model.head] + [b[0] for b in conv.blocks] + [conv.head]
    for layer in layers:
        bound = 1 / math.sqrt(layer.weight[0].numel())  # fan_in (times kernel_size for a conv)
        for p in (layer.weight.detach(), layer.bias.detach()):
            assert float(p.abs().max()) <= bound
            assert float(p.abs().max()) > 0.5 * bound  # the whole range is used, not a narrower one
    # a big layer: uniform on [-b, b] has standard deviation b / sqrt(3)
    for w in (model.blocks[1][0].weight.detach(), conv.blocks[1][0].weight.detach()):
        bound = 1 / math.sqrt(w[0].numel())
        assert abs(float(w.std()) / (bound / math.sqrt(3)) - 1) < 0.05
        assert abs(float(w.mean())) < 0.01 * bound


# --- build_like ----------------------------------------------------------------------------------

@pytest.mark.parametrize("model", [MLP(6, 3, width=8, depth=2, seed=0),
                                   CNN1d(16, 3, width=4, depth=2, kernel_size=3, seed=0)],
                         ids=["mlp", "cnn1d"])
def test_build_like_keeps_the_architecture(model):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    same = build_like(model, seed=1)
    assert model_kind(same) == model_kind(model) and same.config == model.config
    assert {k: v.shape for k, v in same.state_dict().items()} == {k: v.shape for k, v in before.items()}
    assert same_weights(same, type(model)(**model.config, seed=1))  # freshly drawn from the seed
    assert not torch.equal(flat(same), flat(model))
    assert same_weights(build_like(model, seed=1), same)

    wider = build_like(model, n_classes=7, seed=2)
    assert wider.config == {**model.config, "n_classes": 7} and wider.head.out_features == 7
    assert model_kind(wider) == model_kind(model)
    for a, b in zip(wider.blocks, model.blocks):
        assert [p.shape for p in a.parameters()] == [p.shape for p in b.parameters()]
    assert wider(torch.randn(2, model.in_dim)).shape == (2, 7)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # source untouched
    assert model.config["n_classes"] == 3
    with pytest.raises(ValueError, match="n_classes=1"):
        build_like(model, n_classes=1)


# --- parameter counts worked out from the config ---------------------------------------------

@pytest.mark.parametrize("kind,config", [
    ("mlp", dict(in_dim=5, n_classes=2, width=3, depth=1)),
    ("mlp", dict(in_dim=40, n_classes=10, width=64, depth=4)),
    ("cnn1d", dict(in_dim=40, n_classes=4, width=8, depth=3, kernel_size=5)),
    ("cnn1d", dict(in_dim=17, n_classes=3, width=2, depth=4, kernel_size=4)),
])
def test_param_count_and_shapes_from_the_config(kind, config):
    cls, model = MODELS[kind], build_model(kind, seed=0, **config)
    assert cls._param_count(config) == sum(p.numel() for p in model.parameters())
    assert list(cls._param_shapes(config)) == [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


# --- load_model ---------------------------------------------------------------------------------

class _Payload:
    """Unpickling this calls ``open(path, "w")``, which creates the file: proof of code execution."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _good_blob():
    model = MLP(6, 3, width=4, depth=2, seed=0)
    return {"format": "tlcore-model/1", "kind": "mlp", "config": dict(model.config),
            "state_dict": {k: v.clone() for k, v in model.state_dict().items()}}


def _set(*path_and_value):
    *path, value = path_and_value

    def mutate(blob, tmp):
        target = blob
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value(tmp) if callable(value) else value
        return blob
    return mutate


def _drop(*path):
    def mutate(blob, tmp):
        target = blob
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        return blob
    return mutate


def _nan(blob, tmp):
    blob["state_dict"]["blocks.1.0.weight"][2, 1] = float("nan")
    return blob


def _huge_depth(blob, tmp):
    # under the parameter limit (about 40 million) but far more tensors than the file holds
    blob["config"] = dict(in_dim=1, n_classes=2, width=1, depth=20_000_000)
    return blob


MALFORMED = [
    ("wrong header", _set("format", "tlcore-model/2"), r"is not a tlcore model file \(no tlcore-model/1 header\)"),
    ("not a dict", lambda blob, tmp: [blob], r"is not a tlcore model file \(no tlcore-model/1 header\)"),
    ("missing kind", _drop("kind"), r"no 'kind' field"),
    ("unknown kind", _set("kind", "vgg"), r"unknown kind 'vgg'; known kinds: \['cnn1d', 'mlp', 'resnet'\]"),
    ("kind not a string", _set("kind", ["mlp"]), r"unknown kind \['mlp'\]"),
    ("missing config", _drop("config"), r"no 'config' field"),
    ("config not a dict", _set("config", [6, 3, 4, 2]), r"config is a list, not a dict"),
    ("unknown config key", _set("config", "widht", 4),
     r"unknown config key\(s\) \['widht'\] for 'mlp'; accepted: \['in_dim', 'n_classes', 'width', 'depth'\]"),
    ("seed in config", _set("config", "seed", 0), r"unknown config key\(s\) \['seed'\]"),
    ("missing config key", _drop("config", "in_dim"), r"config lacks required key\(s\) \['in_dim'\]"),
    ("width a string", _set("config", "width", "4"), r"bad config: width must be an integer, got '4'"),
    ("width a float", _set("config", "width", 4.0), r"bad config: width must be an integer, got 4.0"),
    ("negative depth", _set("config", "depth", -1), r"bad config: depth=-1 is out of range >= 1"),
    ("width 10**7", _set("config", "width", 10 ** 7),
     r"config asks for 100,000,110,000,003 parameters, more than the limit of 50,000,000"),
    ("cnn too deep", lambda blob, tmp: {**blob, "kind": "cnn1d",
                                        "config": dict(in_dim=40, n_classes=3, depth=10 ** 9)},
     r"bad config: depth=1000000000 halves in_dim=40 below one position"),
    ("deep config, few tensors", _huge_depth, r"parameter 'blocks.2.0.weight' is missing from state_dict"),
    ("missing state_dict", _drop("state_dict"), r"no 'state_dict' field"),
    ("state_dict not a dict", _set("state_dict", [torch.zeros(2)]), r"state_dict is a list, not a dict"),
    ("value not a tensor", _set("state_dict", "head.bias", [0.0, 0.0, 0.0]),
     r"state_dict\['head.bias'\] is a list, not a tensor"),
    ("missing tensor", _drop("state_dict", "head.bias"), r"parameter 'head.bias' is missing from state_dict"),
    ("extra tensor", _set("state_dict", "blocks.2.0.weight", torch.zeros(4, 4)),
     r"unexpected parameter\(s\) in state_dict: \['blocks.2.0.weight'\]"),
    ("shape mismatch", _set("state_dict", "head.weight", torch.zeros(3, 5)),
     r"parameter 'head.weight' has shape \(3, 5\), the config needs \(3, 4\)"),
    ("integer tensor", _set("state_dict", "head.bias", torch.zeros(3, dtype=torch.int64)),
     r"parameter 'head.bias' is a torch.strided torch.int64 tensor, not a dense float one"),
    ("NaN weight", _nan, r"parameter 'blocks.1.0.weight' holds 1 NaN or inf value\(s\)"),
    ("inf bias", _set("state_dict", "head.bias", torch.tensor([0.0, float("inf"), 0.0])),
     r"parameter 'head.bias' holds 1 NaN or inf value\(s\)"),
    ("pickled object", _set("config", lambda tmp: _Payload(tmp / "marker")),
     r"is not a tlcore model file \(UnpicklingError\)"),
]


@pytest.mark.parametrize("mutate,message", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_model_files_are_rejected(tmp_path, mutate, message):
    path = tmp_path / "model.pt"
    torch.save(mutate(_good_blob(), tmp_path), path)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=message) as err:
        load_model(path)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5, f"rejecting the file took {elapsed:.2f}s"  # fast: nothing big allocated
    text = str(err.value)
    assert "\n" not in text and str(path) in text  # one line, naming the file
    assert not (tmp_path / "marker").exists()  # nothing in the file was executed
    if "UnpicklingError" in message:  # the payload is live: unpickled unsafely, it leaves its marker
        torch.load(path, weights_only=False)
        assert (tmp_path / "marker").exists()


def test_parameter_limit_is_a_keyword(tmp_path):
    save_model(MLP(6, 3, width=4, depth=2, seed=0), tmp_path / "m.pt")
    with pytest.raises(ValueError, match="config asks for 63 parameters, more than the limit of 10"):
        load_model(tmp_path / "m.pt", max_parameters=10)


@pytest.mark.parametrize("model", [MLP(6, 3, width=8, depth=3, seed=3),
                                   CNN1d(40, 4, width=4, depth=2, kernel_size=3, seed=3)],
                         ids=["mlp", "cnn1d"])
def test_save_load_roundtrip(tmp_path, model):
    save_model(model, tmp_path / "m.pt")
    back = load_model(tmp_path / "m.pt")
    assert type(back) is type(model) and back.config == model.config
    assert back.state_dict().keys() == model.state_dict().keys()
    assert all(torch.equal(v, back.state_dict()[k]) for k, v in model.state_dict().items())
    assert all(p.requires_grad and p.dtype == torch.float32 for p in back.parameters())
    x = torch.randn(3, model.in_dim)
    assert torch.equal(back(x), model(x))


def test_config_defaults_may_be_left_out(tmp_path):
    model = CNN1d(40, 4, seed=0)  # default width, depth and kernel_size
    blob = {"format": "tlcore-model/1", "kind": "cnn1d", "config": {"in_dim": 40, "n_classes": 4},
            "state_dict": model.state_dict()}
    torch.save(blob, tmp_path / "m.pt")
    assert same_weights(load_model(tmp_path / "m.pt"), model)


def test_a_compressed_archive_cannot_ask_for_more_memory_than_the_limit(tmp_path):
    """A deflated entry is small on disk but torch allocates its full unpacked size on load."""
    plain, bomb = tmp_path / "plain.pt", tmp_path / "bomb.pt"
    blob = _good_blob()
    blob["state_dict"]["padding"] = torch.zeros(1_000_000)  # 4 MB of zeros, deflated to ~4 KB
    torch.save(blob, plain)
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    assert bomb.stat().st_size < 100_000
    assert torch.load(bomb, weights_only=True)["state_dict"]["padding"].numel() == 1_000_000  # live
    with pytest.raises(ValueError, match=r"unpacks to 4,00\d,\d{3} bytes, more than the 1,056,576 "
                                         r"allowed for 1,000 parameters"):
        load_model(bomb, max_parameters=1000)


def test_non_zip_torch_files_are_refused(tmp_path):
    torch.save(_good_blob(), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match=r"is not a tlcore model file \(not a torch zip archive\)"):
        load_model(tmp_path / "legacy.pt")
    with pytest.raises(ValueError, match="max_parameters=0"):
        load_model(tmp_path / "legacy.pt", max_parameters=0)
