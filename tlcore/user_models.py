"""Someone else's torch module read as blocks plus a readout, and loaded from a user's file.

This module knows torch modules, not tlcore's model classes (:func:`tlcore.models.as_block_model`
wraps what :func:`split_blocks` finds). It holds four ideas, each a few functions:

- **where the blocks are**: an ``nn.Sequential`` is its children, the last one the readout; a
  torchvision-style ResNet (``conv1, bn1, relu, maxpool, layer1..layer4, avgpool, fc``) is its stem
  (``conv1 bn1 relu maxpool``), each residual block of ``layer1..layer4`` (``BasicBlock`` or
  ``Bottleneck``), and the readout (``avgpool``, flatten, ``fc``). The forward is unchanged.
- **BatchNorm with frozen running statistics**: the batched engine trains many networks as stacked
  parameters and carries no buffers, and a batch statistic would mix a member's examples with the
  padding slots of smaller members. So every ``BatchNorm`` becomes :class:`FrozenStatsBatchNorm`:
  normalised with the running mean and variance it holds (what ``module.eval()`` computes), those
  statistics fixed per member (transferred ones are the source's, re-initialised ones are mean 0,
  variance 1), the affine scale and shift trained as usual. The wrapped forward thus equals the
  original's forward in ``eval()`` mode. Dropout is off for the same reason (evaluation mode).
- **re-initialisation from a private generator** (:func:`reset_module`): PyTorch's default
  initialisation of each layer kind, drawn from a ``torch.Generator`` so that no global random
  state is read; the readout can be resized for another number of classes (:func:`resize_readout`).
- **loading**: ``FILE.py:FACTORY`` and a ``state_dict`` file (``weights_only=True``), each problem
  one ``ValueError`` line (:func:`load_factory`, :func:`check_images_fit`).
"""
from __future__ import annotations

import copy
import importlib.util
import math
import sys
from pathlib import Path

import torch
from torch import nn

__all__ = ["FrozenStatsBatchNorm", "split_blocks", "freeze_batchnorm", "reset_module", "resize_readout",
           "check_resettable", "first_in_dim", "load_factory", "check_images_fit", "check_same_forward", "LOOKED_FOR"]

LOOKED_FOR = ("an nn.Sequential (its children are the blocks, the last child the readout) or a torchvision-style "
              "ResNet (conv1, bn1, relu, maxpool, layer1..layer4 of BasicBlock/Bottleneck blocks, avgpool, fc)")

_RESNET_PARTS = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc")


class FrozenStatsBatchNorm(nn.Module):
    """``BatchNorm`` as evaluated in ``eval()`` mode: fixed running statistics, trainable affine.

    ``running_mean`` and ``running_var`` are parameters with ``requires_grad = False`` (not buffers),
    so the batched engine stacks and carries them per member and never changes them.
    """

    def __init__(self, bn: nn.modules.batchnorm._BatchNorm):
        super().__init__()
        c = bn.num_features
        like = bn.weight if bn.weight is not None else bn.running_mean
        device = like.device if like is not None else None
        self.eps = bn.eps
        self.weight = nn.Parameter(torch.ones(c, device=device) if bn.weight is None else bn.weight.detach().clone())
        self.bias = nn.Parameter(torch.zeros(c, device=device) if bn.bias is None else bn.bias.detach().clone())
        mean = torch.zeros(c, device=device) if bn.running_mean is None else bn.running_mean.detach().clone()
        var = torch.ones(c, device=device) if bn.running_var is None else bn.running_var.detach().clone()
        self.running_mean = nn.Parameter(mean, requires_grad=False)
        self.running_var = nn.Parameter(var, requires_grad=False)

    def forward(self, x):
        shape = (1, -1) + (1,) * (x.dim() - 2)
        scale = self.weight * torch.rsqrt(self.running_var + self.eps)
        return x * scale.view(shape) + (self.bias - self.running_mean * scale).view(shape)


def freeze_batchnorm(module: nn.Module) -> nn.Module:
    """A copy of ``module`` (in ``eval()`` mode) with every BatchNorm replaced by :class:`FrozenStatsBatchNorm`."""
    module = copy.deepcopy(module).eval()

    def swap(parent):
        for name, child in parent.named_children():
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                if child.running_mean is None or child.running_var is None:
                    raise ValueError(f"{type(child).__name__} {name!r} keeps no running statistics "
                                     "(track_running_stats=False): it normalises with batch statistics, which "
                                     "the batched engine cannot compute per network")
                setattr(parent, name, FrozenStatsBatchNorm(child))
            else:
                swap(child)

    swap(module)
    return module


def _is_resnet_block(module: nn.Module) -> bool:
    # torchvision's BasicBlock / Bottleneck (matched by name and shape, so torchvision need not be installed)
    return type(module).__name__ in ("BasicBlock", "Bottleneck") and hasattr(module, "conv1") and hasattr(module, "conv2")


class _ResNetStem(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool

    def forward(self, x):
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))


class _ResNetReadout(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.avgpool, self.fc = net.avgpool, net.fc

    def forward(self, x):
        return self.fc(torch.flatten(self.avgpool(x), 1))


def split_blocks(module: nn.Module) -> tuple[list[nn.Module], nn.Module, str]:
    """``(blocks, readout, how)`` of a module whose forward is the blocks in order then the readout.

    Raises ``ValueError`` naming what was looked for (:data:`LOOKED_FOR`) when neither shape matches.
    The modules returned are the module's own (not copies).
    """
    if not isinstance(module, nn.Module):
        raise ValueError(f"expected a torch nn.Module, got {type(module).__name__}")
    if type(module) is nn.Sequential:
        children = list(module.children())
        if len(children) < 2:
            raise ValueError(f"an nn.Sequential needs at least 2 children (blocks, then the readout); "
                             f"this one has {len(children)}")
        return children[:-1], children[-1], "nn.Sequential"
    if all(hasattr(module, part) for part in _RESNET_PARTS):
        blocks = [_ResNetStem(module)]
        for stage in ("layer1", "layer2", "layer3", "layer4"):
            layer = getattr(module, stage)
            if not isinstance(layer, nn.Sequential) or not all(_is_resnet_block(b) for b in layer):
                raise ValueError(f"{type(module).__name__}.{stage} is not an nn.Sequential of BasicBlock/Bottleneck "
                                 f"blocks; looked for {LOOKED_FOR}")
            blocks += list(layer)
        return blocks, _ResNetReadout(module), f"torchvision-style {type(module).__name__}"
    raise ValueError(f"cannot find the blocks of a {type(module).__name__}: looked for {LOOKED_FOR}")


def first_in_dim(blocks) -> int:
    """The size of the input's axis 1 the first layer with weights reads: channels of a conv, features of a linear."""
    for block in blocks:
        for m in block.modules():
            if isinstance(m, nn.modules.conv._ConvNd):
                return int(m.in_channels)
            if isinstance(m, nn.Linear):
                return int(m.in_features)
    raise ValueError("found no convolution or linear layer in the blocks, so the input size is unknown")


# --------------------------------------------------------------------------- re-initialisation

_NORMS = (nn.GroupNorm, nn.LayerNorm, FrozenStatsBatchNorm, nn.modules.instancenorm._InstanceNorm)


def _owns_parameters(m: nn.Module) -> bool:
    return any(p is not None for p in m._parameters.values())


def check_resettable(module: nn.Module) -> None:
    """Raise ``ValueError`` unless every layer with parameters is one :func:`reset_module` re-initialises,
    and no buffers are left (the batched engine carries parameters only)."""
    for name, m in module.named_modules():
        if _owns_parameters(m) and not isinstance(m, (nn.Linear, nn.modules.conv._ConvNd) + _NORMS):
            raise ValueError(f"layer {name or '(top)'} ({type(m).__name__}) has parameters that tlcore cannot "
                             "re-initialise; supported: Linear, Conv, BatchNorm, GroupNorm, LayerNorm, InstanceNorm")
    buffers = [name for name, _ in module.named_buffers()]
    if buffers:
        raise ValueError(f"buffer(s) {buffers[:3]} cannot be carried by the batched engine (parameters only)")


def reset_module(module: nn.Module, gen: torch.Generator) -> None:
    """PyTorch's default initialisation of every layer, in module order, drawn from ``gen``.

    Linear and conv layers: weight ``kaiming_uniform_(a=sqrt(5))``, i.e. U(-1/sqrt(fan_in),
    1/sqrt(fan_in)), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)); norms: scale 1, shift 0, frozen
    running statistics mean 0 and variance 1. (A factory's own scheme, e.g. torchvision's
    ``kaiming_normal_`` for ResNet convs, is not reproduced: fresh layers are PyTorch's defaults.)
    """
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd)):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=gen)
                if m.bias is not None:
                    fan_in = m.weight[0].numel()
                    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                    nn.init.uniform_(m.bias, -bound, bound, generator=gen)
            elif isinstance(m, _NORMS):
                for name, value in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
                    p = getattr(m, name, None)
                    if isinstance(p, torch.Tensor):
                        p.fill_(value)


def resize_readout(readout: nn.Module, n_classes: int) -> nn.Module:
    """A copy of ``readout`` whose last ``nn.Linear`` has ``n_classes`` outputs (re-initialise it after)."""
    readout = copy.deepcopy(readout)
    if isinstance(readout, nn.Linear):
        return nn.Linear(readout.in_features, n_classes, bias=readout.bias is not None, device=readout.weight.device)
    last = [(name, m) for name, m in readout.named_modules() if isinstance(m, nn.Linear)]
    if not last:
        raise ValueError(f"the readout ({type(readout).__name__}) has no nn.Linear layer to size for the target's classes")
    name, old = last[-1]
    parent = readout.get_submodule(name.rpartition(".")[0])
    setattr(parent, name.rpartition(".")[2],
            nn.Linear(old.in_features, n_classes, bias=old.bias is not None, device=old.weight.device))
    return readout


# --------------------------------------------------------------------------- loading from a user's files


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def load_factory(spec: str, weights: str | None = None) -> nn.Module:
    """The module that ``FACTORY()`` in ``FILE.py`` returns (``spec = "FILE.py:FACTORY"``), weights loaded.

    ``weights`` is a file holding a ``state_dict`` of that module, read with ``torch.load(...,
    weights_only=True)`` (no arbitrary objects are unpickled) and loaded strictly. Every problem (no
    such file, the file or the factory raising, a factory returning no module, weights that do not
    match) is a one-line ``ValueError`` naming it. Running the file runs the user's code: only give it
    files you trust.
    """
    path_text, sep, factory = spec.rpartition(":")
    if not sep or not path_text.endswith(".py") or not factory.isidentifier():
        raise ValueError(f"source {spec!r}: expected FILE.py:FACTORY (a Python file and the name of a function in it)")
    path = Path(path_text)
    if not path.is_file():
        raise ValueError(f"source {spec!r}: no file {path_text!r}")
    name = f"tlcore_user_source_{path.stem}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    code = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = code  # as an import would (dataclasses and pickling look the module up there)
    try:
        module_spec.loader.exec_module(code)
    except BaseException as exc:  # the user's file may raise anything, SystemExit included
        sys.modules.pop(name, None)
        raise ValueError(f"source {spec!r}: running {path_text!r} raised {_first_line(exc)}") from None
    if not callable(getattr(code, factory, None)):
        found = sorted(n for n, v in vars(code).items() if callable(v) and not n.startswith("_")
                       and getattr(v, "__module__", None) == code.__name__)
        raise ValueError(f"source {spec!r}: {path_text!r} defines no function {factory!r} (it defines {found[:6]})")
    try:
        model = getattr(code, factory)()
    except BaseException as exc:
        raise ValueError(f"source {spec!r}: {factory}() raised {_first_line(exc)}") from None
    if not isinstance(model, nn.Module):
        raise ValueError(f"source {spec!r}: {factory}() returned a {type(model).__name__}, not a torch nn.Module")
    if weights is not None:
        _load_weights(model, spec, weights)
    return model


def _load_weights(model: nn.Module, spec: str, weights: str) -> None:
    if not Path(weights).is_file():
        raise ValueError(f"--weights {weights!r}: no such file")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"--weights {weights!r} is not a state_dict torch can read with weights_only=True "
                         f"({_first_line(exc)})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"--weights {weights!r} holds a {type(state).__name__}, not a state_dict (names -> tensors)")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    problems = ([f"missing {missing[:3]}" + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")] if missing else []) + \
               ([f"unexpected {extra[:3]}" + (f" and {len(extra) - 3} more" if len(extra) > 3 else "")] if extra else []) + \
               ([f"{shapes[0]!r} is {tuple(state[shapes[0]].shape)} in the file, {tuple(own[shapes[0]].shape)} in the model"
                 + (f" (and {len(shapes) - 1} more shapes differ)" if len(shapes) > 1 else "")] if shapes else [])
    if problems:
        raise ValueError(f"--weights {weights!r} do not match the model of {spec!r}: " + "; ".join(problems))
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ValueError(f"--weights {weights!r}: tensor {bad[0]!r} holds NaN or inf values")
    model.load_state_dict(state, strict=True)


def check_images_fit(model: nn.Module, shape: tuple, n_classes: int | None = None, name: str = "the model") -> None:
    """Raise a one-line ``ValueError`` unless inputs of ``shape`` (one example, e.g. ``(C, H, W)``) run
    through ``model`` (two zero examples, no gradients) to logits ``(2, K)``."""
    try:
        with torch.no_grad():
            out = model(torch.zeros((2, *shape)))
    except Exception as exc:
        raise ValueError(f"inputs of shape {tuple(shape)} do not fit {name} ({_first_line(exc)})") from None
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != 2:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"{name} maps inputs of shape {tuple(shape)} to {got}, not to logits (N, classes)")


def check_same_forward(original: nn.Module, wrapped: nn.Module, shape: tuple, name: str = "the model") -> None:
    """Raise a one-line ``ValueError`` unless ``wrapped`` computes ``original.eval()``'s forward on two
    random examples of ``shape``: a module whose own ``forward`` does more than run its blocks in
    order then the readout (a ResNet subclass with extra steps, say) is caught here."""
    x = torch.rand((2, *shape), generator=torch.Generator().manual_seed(0))
    reference = copy.deepcopy(original).float().cpu().eval()
    with torch.no_grad():
        a, b = reference(x), wrapped(x)
    if not isinstance(a, torch.Tensor) or a.shape != b.shape or not torch.allclose(a, b, rtol=1e-3, atol=1e-4):
        gap = float((a - b).abs().max()) if isinstance(a, torch.Tensor) and a.shape == b.shape else float("nan")
        raise ValueError(f"the blocks found in {name} do not reproduce its forward (largest difference {gap:.3g}): "
                         "its forward must be the blocks in order, then the readout")
