"""The advisor on a user's own torch model: ``--source FILE.py:FACTORY --weights FILE`` and image targets."""
import json
import textwrap

import numpy as np
import pytest
import torch

from tlcore.__main__ import main

torchvision = pytest.importorskip("torchvision")

USER_FILE = textwrap.dedent('''
    import torch
    from torch import nn
    from torchvision.models.resnet import BasicBlock, ResNet


    def tiny_resnet():
        """A torchvision ResNet with one BasicBlock per stage: 1 + 4 blocks, 9 conv layers."""
        return ResNet(BasicBlock, [1, 1, 1, 1], num_classes=4)


    def other_classes():
        return ResNet(BasicBlock, [1, 1, 1, 1], num_classes=7)


    def not_a_model():
        return {"weights": 1}


    def broken():
        raise KeyError("no such layer")


    def linear():
        return nn.Linear(3, 2)


    class ShiftedResNet(ResNet):
        def forward(self, x):
            return super().forward(x) + 1.0  # a step the blocks do not hold


    def shifted():
        return ShiftedResNet(BasicBlock, [1, 1, 1, 1], num_classes=4)


    def flat_mlp():
        return nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(3 * 16 * 16, 32), nn.ReLU()), nn.Linear(32, 4))
''')


def _images(n, seed, channels=3):
    """Class c = which quadrant of a 16x16 image is bright (plus noise): learnable in a few steps."""
    g = np.random.default_rng(seed)
    y = np.arange(n) % 4
    x = g.normal(0, 0.3, size=(n, channels, 16, 16)).astype(np.float32)
    for i, c in enumerate(y):
        r, q = divmod(int(c), 2)
        x[i, :, 8 * r:8 * r + 8, 8 * q:8 * q + 8] += 1.0
    return x, y


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user")
    (folder / "nets.py").write_text(USER_FILE)
    (folder / "raises.py").write_text("import torch\nraise RuntimeError('the file is broken')\n")
    from torchvision.models.resnet import BasicBlock, ResNet

    net = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=4)
    torch.manual_seed(0)
    x, y = _images(64, seed=0)
    optimiser = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    net.train()
    for step in range(8):  # a few steps of ordinary training: BatchNorm's running statistics move
        batch = slice(8 * (step % 8), 8 * (step % 8) + 8)
        loss = torch.nn.functional.cross_entropy(net(torch.as_tensor(x[batch])), torch.as_tensor(y[batch]))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    torch.save(net.state_dict(), folder / "tiny.pt")
    torch.save({"model": net}, folder / "pickled.pt")  # a whole module: refused by weights_only=True
    x, y = _images(48, seed=1)
    x_test, y_test = _images(24, seed=2)
    np.savez(folder / "images.npz", x=x, y=y, x_test=x_test, y_test=y_test)
    x1, y1 = _images(48, seed=1, channels=1)
    np.savez(folder / "gray.npz", x=x1, y=y1)
    return folder


def test_advisor_runs_on_a_torchvision_resnet_from_a_users_file(user, capsys):
    out = user / "advice.json"
    code = main(["advise", "--target", str(user / "images.npz"), "--source", f"{user / 'nets.py'}:tiny_resnet",
                 "--weights", str(user / "tiny.pt"), "--steps", "4", "--seeds", "2", "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Recommendation:" in captured.out
    advice = json.loads(out.read_text())
    rec = advice["recommendation"]
    assert rec["source"] in ("nets", "") and 0 <= rec["frozen_depth"] <= rec["transfer_depth"] <= 5
    protocols = {p["plan"] for p in advice["protocols"]}
    assert {"RRRRR", "FFFFF", "TTTTT"} <= protocols  # 5 blocks: the stem and one BasicBlock per stage
    assert 0 <= rec["test_acc"] <= 1 and rec["networks_trained"] >= 2 * len(protocols)


def test_a_flattening_sequential_reads_images_and_keeps_its_forward(user):
    from tlcore.models import load_torch_source
    from tlcore.user_models import load_factory

    spec = f"{user / 'nets.py'}:flat_mlp"
    torch.manual_seed(0)
    original = load_factory(spec)
    torch.manual_seed(0)  # the factory draws from torch's global generator: the same module twice
    model = load_torch_source(spec, input_shape=(3, 16, 16))
    assert model.in_dim == 3 and model.n_blocks == 2  # the images' channels, not the Linear's 768 inputs
    x = torch.as_tensor(_images(5, seed=3)[0])
    with torch.no_grad():
        assert torch.allclose(model(x), original(x), atol=1e-6)
    with pytest.raises(ValueError, match=r"inputs of shape \(3, 8, 8\) do not fit"):
        load_torch_source(spec, input_shape=(3, 8, 8))


def _advise(user, *args):
    return main(["advise", "--target", str(user / "images.npz"), "--steps", "3", "--seeds", "1", *args])


@pytest.mark.parametrize("what,args,message", [
    ("factory returns no module", ["--source", "{u}/nets.py:not_a_model"], "not_a_model() returned a dict, not a torch nn.Module"),
    ("file raises", ["--source", "{u}/raises.py:anything"], "running '{u}/raises.py' raised RuntimeError: the file is broken"),
    ("factory raises", ["--source", "{u}/nets.py:broken"], "broken() raised KeyError: 'no such layer'"),
    ("no such factory", ["--source", "{u}/nets.py:resnet99"], "defines no function 'resnet99' (it defines ['ShiftedResNet', 'broken', "),
    ("no such file", ["--source", "{u}/missing.py:f"], "no file '{u}/missing.py'"),
    ("no factory named", ["--source", "{u}/nets.py"], "expected FILE.py:FACTORY"),
    ("forward is not the blocks", ["--source", "{u}/nets.py:shifted"],
     "do not reproduce its forward (largest difference 1): its forward must be the blocks in order, then the readout"),
    ("blocks not found", ["--source", "{u}/nets.py:linear"],
     "cannot find the blocks of a Linear: looked for an nn.Sequential (its children are the blocks"),
    ("images do not fit", ["--target", "{u}/gray.npz", "--source", "{u}/nets.py:tiny_resnet"],
     "inputs of shape (1, 16, 16) do not fit the model of"),
    ("weights of another model", ["--source", "{u}/nets.py:other_classes", "--weights", "{u}/tiny.pt"],
     "do not match the model of '{u}/nets.py:other_classes': 'fc.weight' is (4, 512) in the file, (7, 512) in the model"),
    ("weights not a state_dict", ["--source", "{u}/nets.py:tiny_resnet", "--weights", "{u}/pickled.pt"],
     "is not a state_dict torch can read with weights_only=True"),
    ("weights file missing", ["--source", "{u}/nets.py:tiny_resnet", "--weights", "{u}/nope.pt"], "no such file"),
    ("weights without a factory", ["--source", "{u}/tiny.pt", "--weights", "{u}/tiny.pt"],
     "1 --weights file(s) for 0 FILE.py:FACTORY source(s)"),
])
def test_bad_user_sources_fail_in_one_line_before_training(what, args, message, user, capsys, monkeypatch):
    from tlcore import train

    def no_training(*a, **k):
        raise AssertionError("training started before the input was checked")

    monkeypatch.setattr(train, "_fit_group", no_training)
    args = [a.format(u=user) for a in args]
    if "--target" in args:
        code = main(["advise", *args, "--steps", "3", "--seeds", "1"])
    else:
        code = _advise(user, *args)
    err = capsys.readouterr().err
    assert code == 2, (what, err)
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert message.format(u=user) in err, err
