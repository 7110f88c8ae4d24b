"""Networks made of named blocks plus a readout, so that "the first l layers" is well defined.

Every model has ``.blocks`` (an ``nn.ModuleList``; one block is one hidden layer with its
nonlinearity), ``.head`` (the linear readout), ``.config`` (the keyword arguments that rebuild
it) and ``.representations(x)``, the list of per-block activations, flattened to ``(N, features)``.

Initialisation never reads or sets torch's global random state, so models built side by side in
threads, processes or Dask workers cannot disturb each other. The layers are first built on the
``meta`` device (no memory, no random draws), then given uninitialised CPU memory, then every
parameter is drawn from one private ``torch.Generator().manual_seed(seed)`` with PyTorch's default
distributions for ``nn.Linear`` and ``nn.Conv1d``: the weight by ``kaiming_uniform_(a=sqrt(5))``,
that is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias by U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
where ``fan_in`` is ``in_features`` (linear) or ``in_channels * kernel_size`` (conv). The order of
the draws is fixed: the blocks in order, in each its layer's weight then bias, then the head's
weight then bias (the order of ``model.parameters()``). This is exactly what PyTorch's own
constructors draw after ``torch.manual_seed(seed)``, so a seed gives the same weights as it did
when tlcore seeded the global generator. ``seed=None`` draws a fresh seed from OS entropy.
"""
from __future__ import annotations

import copy
import inspect
import io
import math
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import user_models
from .validation import check_int, check_known

__all__ = ["BlockModel", "MLP", "CNN1d", "ResNet", "TorchBlockModel", "MODELS", "build_model", "build_like",
           "model_kind", "conv_layers", "as_block_model", "load_torch_source", "save_model", "load_model", "MAX_LOAD_PARAMETERS"]

FORMAT = "tlcore-model/1"
# load_model refuses a file whose config asks for more parameters than this (checked from the
# config alone, before any tensor is allocated).
MAX_LOAD_PARAMETERS = 50_000_000
_SEED_MAX = 2 ** 64 - 1
_EMPTY = object()  # private seed value: leave the parameters uninitialised (load_model fills them)


def _generator(seed) -> torch.Generator:
    """The one generator that initialises a model; ``None`` takes a fresh seed from OS entropy."""
    if seed is None:
        seed = int(np.random.SeedSequence().entropy) & _SEED_MAX
    seed = check_int("seed", seed, low=0, high=_SEED_MAX)
    return torch.Generator(device="cpu").manual_seed(seed)


def _init_layer(layer: nn.Module, gen: torch.Generator) -> None:
    """PyTorch's default ``reset_parameters`` of ``nn.Linear`` or ``nn.Conv1d``, from ``gen``."""
    weight, bias = layer.weight, layer.bias
    fan_in = weight[0].numel()  # in_features, or in_channels * kernel_size
    with torch.no_grad():
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=gen)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        nn.init.uniform_(bias, -bound, bound, generator=gen)


class BlockModel(nn.Module):
    """Common behaviour: forward through the blocks then the head; expose representations.

    A subclass defines ``_check_config`` (validate and normalise its keyword arguments),
    ``_param_count`` and ``_param_shapes`` (arithmetic, from the config alone) and ``_layers``
    (build ``blocks`` and ``head`` on a given device); its ``__init__`` calls :meth:`_setup`.
    """

    blocks: nn.ModuleList
    head: nn.Module
    config: dict
    input_rank: int | None = 2  # inputs (N, D); the ResNet takes images (N, C, H, W); None: not checked

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    @property
    def in_dim(self) -> int:
        return int(self.config["in_dim"])

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def config_keys(cls) -> list[str]:
        """The accepted configuration keys: the constructor's arguments except ``seed``."""
        params = inspect.signature(cls.__init__).parameters
        return [name for name in params if name not in ("self", "seed")]

    @classmethod
    def _check_config(cls, config: dict) -> dict:
        raise NotImplementedError

    @classmethod
    def _param_count(cls, config: dict) -> int:
        raise NotImplementedError

    @classmethod
    def _param_shapes(cls, config: dict):
        """``(name, shape)`` of every parameter in ``state_dict`` order, lazily."""
        raise NotImplementedError

    def _layers(self, device) -> None:
        raise NotImplementedError

    def _setup(self, config: dict, seed) -> None:
        self.config = self._check_config(config)
        gen = None if seed is _EMPTY else _generator(seed)  # validate the seed before building
        self._layers(device="meta")  # shapes only: no memory, no random numbers
        # Uninitialised CPU memory in place of each meta parameter (what ``to_empty`` does, minus
        # its slow generic path through meta-tensor decompositions).
        for module in self.modules():
            for name, p in module._parameters.items():
                if p is not None:
                    module._parameters[name] = nn.Parameter(
                        torch.empty(p.shape, dtype=p.dtype), requires_grad=p.requires_grad)
        if gen is not None:
            self.reset_parameters(gen)

    def reset_parameters(self, seed_or_generator=None) -> "BlockModel":
        """(Re)initialise every parameter as documented in the module docstring; returns ``self``.

        Takes a seed (``None``: fresh from OS entropy) or a ``torch.Generator`` to draw from.
        """
        gen = (seed_or_generator if isinstance(seed_or_generator, torch.Generator)
               else _generator(seed_or_generator))
        for block in self.blocks:
            _init_layer(block[0], gen)
        _init_layer(self.head, gen)
        return self

    def like(self, n_classes: int | None = None, seed: int | None = None) -> "BlockModel":
        """A fresh model of this kind and configuration (see :func:`build_like`)."""
        config = dict(self.config)
        if n_classes is not None:
            config["n_classes"] = n_classes
        return build_model(model_kind(self), seed=seed, **config)

    # --- use ----------------------------------------------------------------------------------
    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self._prepare(x)
        for block in self.blocks:
            h = block(h)
        return self.head(h.flatten(start_dim=1))

    def representations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations after each block, each of shape ``(N, features)``."""
        reps, h = [], self._prepare(x)
        for block in self.blocks:
            h = block(h)
            reps.append(h.flatten(start_dim=1))
        return reps


class MLP(BlockModel):
    """``depth`` fully connected ReLU blocks of ``width`` units, then a linear readout."""

    def __init__(self, in_dim: int, n_classes: int, width: int = 64, depth: int = 4,
                 seed: int | None = None):
        super().__init__()
        self._setup(dict(in_dim=in_dim, n_classes=n_classes, width=width, depth=depth), seed)

    @classmethod
    def _check_config(cls, config):
        return dict(in_dim=check_int("in_dim", config["in_dim"], low=1),
                    n_classes=check_int("n_classes", config["n_classes"], low=2),
                    width=check_int("width", config["width"], low=1),
                    depth=check_int("depth", config["depth"], low=1))

    @classmethod
    def _param_count(cls, c):
        w = c["width"]
        return (c["in_dim"] + 1) * w + (c["depth"] - 1) * (w + 1) * w + (w + 1) * c["n_classes"]

    @classmethod
    def _param_shapes(cls, c):
        w = c["width"]
        for i in range(c["depth"]):
            yield f"blocks.{i}.0.weight", (w, c["in_dim"] if i == 0 else w)
            yield f"blocks.{i}.0.bias", (w,)
        yield "head.weight", (c["n_classes"], w)
        yield "head.bias", (c["n_classes"],)

    def _layers(self, device):
        c = self.config
        dims = [c["in_dim"]] + [c["width"]] * c["depth"]
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(dims[i], dims[i + 1], device=device), nn.ReLU())
            for i in range(c["depth"]))
        self.head = nn.Linear(c["width"], c["n_classes"], device=device)


class CNN1d(BlockModel):
    """A small 1-D CNN for sequences such as MNIST-1D: ``depth`` conv blocks that halve the length.

    Input ``(N, in_dim)`` is read as one channel of length ``in_dim``.
    """

    def __init__(self, in_dim: int, n_classes: int, width: int = 32, depth: int = 3,
                 kernel_size: int = 5, seed: int | None = None):
        super().__init__()
        self._setup(dict(in_dim=in_dim, n_classes=n_classes, width=width, depth=depth,
                         kernel_size=kernel_size), seed)

    @classmethod
    def _check_config(cls, config):
        c = dict(in_dim=check_int("in_dim", config["in_dim"], low=2),
                 n_classes=check_int("n_classes", config["n_classes"], low=2),
                 width=check_int("width", config["width"], low=1),
                 depth=check_int("depth", config["depth"], low=1),
                 kernel_size=check_int("kernel_size", config["kernel_size"], low=1))
        if c["in_dim"].bit_length() <= c["depth"]:  # in_dim < 2 ** depth, without the power
            raise ValueError(f"depth={c['depth']} halves in_dim={c['in_dim']} below one position")
        return c

    @staticmethod
    def _length(c) -> int:
        length = c["in_dim"]
        for _ in range(c["depth"]):  # depth < in_dim.bit_length(): a few dozen steps at most
            length = (length + 1) // 2
        return length

    @classmethod
    def _param_count(cls, c):
        w, k = c["width"], c["kernel_size"]
        return ((w * k + w) + (c["depth"] - 1) * (w * w * k + w)
                + (w * cls._length(c) + 1) * c["n_classes"])

    @classmethod
    def _param_shapes(cls, c):
        w, k = c["width"], c["kernel_size"]
        for i in range(c["depth"]):
            yield f"blocks.{i}.0.weight", (w, 1 if i == 0 else w, k)
            yield f"blocks.{i}.0.bias", (w,)
        yield "head.weight", (c["n_classes"], w * cls._length(c))
        yield "head.bias", (c["n_classes"],)

    def _layers(self, device):
        c = self.config
        k, chans = c["kernel_size"], [1] + [c["width"]] * c["depth"]
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(chans[i], chans[i + 1], k, stride=2, padding=k // 2,
                                    device=device), nn.ReLU())
            for i in range(c["depth"]))
        self.head = nn.Linear(c["width"] * self._length(c), c["n_classes"], device=device)

    def _prepare(self, x):
        return x.unsqueeze(-2)


class ResNet(BlockModel):
    """A ResNet-18 shape for small images: a stem and ``depth - 1`` basic residual blocks, then a readout.

    Block 0 is the stem (a 3x3 convolution of stride 2, norm, ReLU, 3x3 max-pooling of stride 2: like
    ResNet-18's stem, it lowers the resolution by 4 before the residual stages; 28x28 becomes 7x7). Blocks 1.. are basic
    residual blocks (conv-norm-ReLU-conv-norm, plus the input, ReLU), two per stage, the stages of
    ``width``, ``2 width``, ``4 width``, ``8 width`` channels, each later stage starting with stride 2
    and a 1x1 projection shortcut. The readout averages over positions and is linear. With
    ``depth = 9`` this is ResNet-18's layout: 1 + 2 * 8 = 17 conv layers before the readout, and a
    transfer depth of ``t`` blocks is :func:`conv_layers` ``(t)`` = 0, 1, 3, ..., 17 conv layers, the
    axis of the paper's ResNet-18 figure. Inputs ``(N, in_dim, H, W)``: ``in_dim`` is the channels.

    Normalisation is GroupNorm (``gcd(channels, 8)`` groups), not BatchNorm: its statistics are those
    of each example alone, so a member of the batched ensemble never sees another member's examples
    or the padding slots of a smaller subset, training and evaluation compute the same function
    (no running statistics), and the model has no buffers (the engine stacks parameters only).
    """

    input_rank = 4

    def __init__(self, in_dim: int = 1, n_classes: int = 10, width: int = 16, depth: int = 9,
                 seed: int | None = None):
        super().__init__()
        self._setup(dict(in_dim=in_dim, n_classes=n_classes, width=width, depth=depth), seed)

    @classmethod
    def _check_config(cls, config):
        return dict(in_dim=check_int("in_dim", config["in_dim"], low=1),
                    n_classes=check_int("n_classes", config["n_classes"], low=2),
                    width=check_int("width", config["width"], low=1, high=4096),
                    depth=check_int("depth", config["depth"], low=1, high=64))

    @staticmethod
    def _stages(c):
        """``(in_channels, out_channels, stride)`` of each residual block."""
        out, chans = [], c["width"]
        for b in range(c["depth"] - 1):
            stage = min(b // 2, 3)
            new = c["width"] * 2 ** stage
            out.append((chans, new, 2 if new != chans else 1))
            chans = new
        return out

    @classmethod
    def _meta(cls, config):
        model = cls.__new__(cls)
        nn.Module.__init__(model)
        model.config = config
        model._layers("meta")
        return model

    @classmethod
    def _param_shapes(cls, c):
        for name, p in cls._meta(c).named_parameters():
            yield name, tuple(p.shape)

    @classmethod
    def _param_count(cls, c):
        return sum(math.prod(shape) for _, shape in cls._param_shapes(c))

    def _layers(self, device):
        c = self.config
        w = c["width"]
        self.blocks = nn.ModuleList([nn.Sequential(
            nn.Conv2d(c["in_dim"], w, 3, stride=2, padding=1, bias=False, device=device), _norm(w, device), nn.ReLU(),
            nn.MaxPool2d(3, stride=2, padding=1))])
        self.blocks.extend(_BasicBlock(cin, cout, stride, device) for cin, cout, stride in self._stages(c))
        last = self._stages(c)[-1][1] if c["depth"] > 1 else w
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(last, c["n_classes"], device=device))

    def reset_parameters(self, seed_or_generator=None) -> "ResNet":
        """PyTorch's default initialisation of every layer, in order (:func:`tlcore.user_models.reset_module`)."""
        gen = (seed_or_generator if isinstance(seed_or_generator, torch.Generator)
               else _generator(seed_or_generator))
        user_models.reset_module(self, gen)
        return self

    def forward(self, x):
        h = x
        for block in self.blocks:
            h = block(h)
        return self.head(h)


def _norm(channels: int, device) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(channels, 8), channels, device=device)


class _BasicBlock(nn.Module):
    """ResNet's basic block with GroupNorm: ``relu(norm(conv(relu(norm(conv(x))))) + shortcut(x))``."""

    def __init__(self, cin: int, cout: int, stride: int, device):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False, device=device)
        self.norm1 = _norm(cout, device)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False, device=device)
        self.norm2 = _norm(cout, device)
        self.shortcut = nn.Sequential() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride=stride, bias=False, device=device), _norm(cout, device))

    def forward(self, x):
        h = torch.relu(self.norm1(self.conv1(x)))
        return torch.relu(self.norm2(self.conv2(h)) + self.shortcut(x))


def conv_layers(transfer_depth):
    """Conv layers in the first ``transfer_depth`` blocks of a ResNet shape (stem 1, each basic block 2):
    0, 1, 3, ..., 17 for 0..9 blocks, as the paper's ResNet-18 figure counts its transfer depth.
    Takes an int or an array of them."""
    t = np.asarray(transfer_depth)
    out = np.where(t > 0, 2 * t - 1, 0)
    return int(out) if out.ndim == 0 else out


class TorchBlockModel(BlockModel):
    """Any torch module read as blocks and a readout (:func:`as_block_model`); forward unchanged.

    Always in evaluation mode (BatchNorm on frozen running statistics, dropout off; see
    :mod:`tlcore.user_models`). ``config`` records ``in_dim``, ``n_classes`` and what the module was.
    Fresh copies (:meth:`like`) re-initialise every layer with PyTorch's defaults from the seed.
    Not written by :func:`save_model`: save its ``state_dict`` with ``torch.save``.
    """

    input_rank = None  # whatever the module reads (checked with an example by load_torch_source)

    def __init__(self, blocks, head: nn.Module, config: dict):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.head = head
        self.config = dict(config)
        self.eval()

    def train(self, mode: bool = True) -> "TorchBlockModel":
        return super().train(False)

    def forward(self, x):
        h = x
        for block in self.blocks:
            h = block(h)
        return self.head(h)

    def like(self, n_classes: int | None = None, seed: int | None = None) -> "TorchBlockModel":
        gen = _generator(seed)
        new = copy.deepcopy(self)
        new.__dict__.pop("lr_scale", None)
        if n_classes is not None and n_classes != self.config["n_classes"]:
            new.head = user_models.resize_readout(new.head, check_int("n_classes", n_classes, low=2))
            new.config["n_classes"] = int(n_classes)
        for module in new.modules():
            for name, p in module._parameters.items():
                if p is not None:
                    trainable = not (isinstance(module, user_models.FrozenStatsBatchNorm) and name.startswith("running_"))
                    module._parameters[name] = nn.Parameter(torch.empty(p.shape, dtype=p.dtype), requires_grad=trainable)
        user_models.reset_module(new, gen)
        return new


def as_block_model(module: nn.Module, in_dim: int | None = None) -> TorchBlockModel:
    """A block model whose forward equals ``module.eval()``'s: an ``nn.Sequential`` (its children are the
    blocks, the last one the readout) or a torchvision ResNet (stem, each BasicBlock/Bottleneck, readout).

    The module is copied (to float32 on the CPU), never changed. BatchNorm layers keep their running
    statistics frozen, per member, and train their scale and shift (see :mod:`tlcore.user_models`).
    ``in_dim`` (the size of the input's axis 1) is read from the first conv (channels) or linear layer
    (features) unless given. Raises ``ValueError`` when the blocks cannot be found (saying what was
    looked for), the readout has no ``nn.Linear``, or a layer cannot be re-initialised.
    """
    if not isinstance(module, nn.Module):
        raise ValueError(f"expected a torch nn.Module, got {type(module).__name__}")
    frozen = user_models.freeze_batchnorm(module).float().cpu()
    blocks, head, how = user_models.split_blocks(frozen)
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"the readout (last part of the {how}, a {type(head).__name__}) has no nn.Linear layer "
                         "to size for the target's classes")
    dim = user_models.first_in_dim(blocks) if in_dim is None else check_int("in_dim", in_dim, low=1)
    model = TorchBlockModel(blocks, head, dict(in_dim=dim, n_classes=int(linears[-1].out_features),
                                               module=type(module).__name__, blocks=how))
    user_models.check_resettable(model)
    for m in model.modules():  # the frozen statistics never train
        if isinstance(m, user_models.FrozenStatsBatchNorm):
            m.running_mean.requires_grad_(False)
            m.running_var.requires_grad_(False)
    return model


def load_torch_source(spec: str, weights: str | None = None, input_shape: tuple | None = None) -> TorchBlockModel:
    """A user's model as a block model: ``FILE.py:FACTORY`` called, ``weights`` (a ``state_dict``) loaded
    with ``weights_only=True``, split by :func:`as_block_model`, and checked to map inputs of
    ``input_shape`` (one example, e.g. ``(C, H, W)``) to logits as the module itself does (in
    evaluation mode). Each problem is a one-line ``ValueError``."""
    module = user_models.load_factory(spec, weights)
    try:
        model = as_block_model(module)
    except ValueError as exc:
        raise ValueError(f"source {spec!r}: {exc}") from None
    if input_shape is not None:
        user_models.check_images_fit(model, tuple(input_shape), name=f"the model of {spec!r}")
        user_models.check_same_forward(module, model, tuple(input_shape), name=f"the model of {spec!r}")
        model.config["in_dim"] = int(input_shape[0])  # it reads these inputs (a Flatten may come first)
    return model


MODELS = {"mlp": MLP, "cnn1d": CNN1d, "resnet": ResNet}


def build_model(kind: str, seed: int | None = None, **config) -> BlockModel:
    """A model by name (``"mlp"``, ``"cnn1d"`` or ``"resnet"``) from its configuration."""
    check_known("model", kind, MODELS)
    return MODELS[kind](**config, seed=seed)


def build_like(model: BlockModel, n_classes: int | None = None,
               seed: int | None = None) -> BlockModel:
    """A fresh model with ``model``'s kind and configuration, initialised from ``seed``.

    ``n_classes`` replaces the readout size when given. Nothing is copied from ``model``.
    """
    return model.like(n_classes=n_classes, seed=seed)


def model_kind(model: BlockModel) -> str:
    for name, cls in MODELS.items():
        if type(model) is cls:
            return name
    raise TypeError(f"{type(model).__name__} is not a tlcore model")


def save_model(model: BlockModel, path: str | Path) -> None:
    """Save architecture and weights in one file that :func:`load_model` reads back."""
    torch.save({"format": FORMAT, "kind": model_kind(model), "config": model.config,
                "state_dict": model.state_dict()}, path)


def _check_state(fail, cls, config, state) -> None:
    """Names, shapes, dtypes and finiteness of ``state`` against the config, before building."""
    if not isinstance(state, dict):
        fail(f"state_dict is a {type(state).__name__}, not a dict")
    for name, t in state.items():
        if not isinstance(name, str):
            fail(f"state_dict key {name!r} is not a string")
        if not isinstance(t, torch.Tensor):
            fail(f"state_dict[{name!r}] is a {type(t).__name__}, not a tensor")
    # The expected names are generated lazily and each must be in the file, so this walks at most
    # as many names as the file holds, however large a depth the config names.
    expected = {}
    for name, shape in cls._param_shapes(config):
        if name not in state:
            fail(f"parameter {name!r} is missing from state_dict")
        expected[name] = shape
    extra = [name for name in state if name not in expected]
    if extra:
        fail(f"unexpected parameter(s) in state_dict: {extra[:5]}"
             + (f" and {len(extra) - 5} more" if len(extra) > 5 else ""))
    for name, shape in expected.items():
        t = state[name]
        if tuple(t.shape) != shape:
            fail(f"parameter {name!r} has shape {tuple(t.shape)}, the config needs {shape}")
        if t.layout != torch.strided or not t.dtype.is_floating_point:
            fail(f"parameter {name!r} is a {t.layout} {t.dtype} tensor, not a dense float one")
    for name in expected:
        bad = int((~torch.isfinite(state[name])).sum())
        if bad:
            fail(f"parameter {name!r} holds {bad} NaN or inf value(s)")


def load_model(path: str | Path, max_parameters: int = MAX_LOAD_PARAMETERS) -> BlockModel:
    """Load a model saved by :func:`save_model`; anything else is rejected with a clear error.

    Checked before any model is built: the file is a torch zip archive whose entries unpack to at
    most ``8 * max_parameters`` bytes plus 1 MiB; it is read with ``weights_only=True`` (no
    arbitrary objects are unpickled); then field by field, the header, ``kind``, ``config`` (keys,
    types and ranges, and a parameter count, worked out from the config, of at most
    ``max_parameters``) and the ``state_dict`` (names, shapes, dtypes, finite values). Each
    problem is a ``ValueError`` of one line naming the file; a missing file is a
    ``FileNotFoundError``.
    """
    max_parameters = check_int("max_parameters", max_parameters, low=1)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {str(path)!r}")
    where = repr(str(path))

    def fail(problem: str):
        raise ValueError(f"model file {where}: {problem}")

    data = path.read_bytes()
    # save_model writes torch's zip format. Its entries may be stored compressed, and torch
    # allocates each one at its declared unpacked size, so a small file could ask for gigabytes:
    # bound the unpacked total (by what ``max_parameters`` float64 values need, plus 1 MiB)
    # before torch reads anything. Torch's older non-zip format is refused outright.
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ValueError(f"{where} is not a tlcore model file (not a torch zip archive)") from None
    limit = 8 * max_parameters + 2 ** 20
    if unpacked > limit:
        fail(f"the archive unpacks to {unpacked:,} bytes, more than the {limit:,} allowed "
             f"for {max_parameters:,} parameters")
    try:
        blob = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a file that is not a checkpoint
        raise ValueError(f"{where} is not a tlcore model file ({type(exc).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ValueError(f"{where} is not a tlcore model file (no {FORMAT} header)")

    if "kind" not in blob:
        fail("no 'kind' field")
    kind = blob["kind"]
    if not isinstance(kind, str) or kind not in MODELS:
        fail(f"unknown kind {kind!r}; known kinds: {sorted(MODELS)}")
    cls = MODELS[kind]

    if "config" not in blob:
        fail("no 'config' field")
    raw = blob["config"]
    if not isinstance(raw, dict):
        fail(f"config is a {type(raw).__name__}, not a dict")
    accepted = cls.config_keys()
    unknown = [key for key in raw if key not in accepted]
    if unknown:
        fail(f"unknown config key(s) {unknown} for {kind!r}; accepted: {accepted}")
    defaults = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
                if name in accepted and p.default is not inspect.Parameter.empty}
    missing = [key for key in accepted if key not in raw and key not in defaults]
    if missing:
        fail(f"config lacks required key(s) {missing} for {kind!r}")
    try:
        config, problem = cls._check_config({**defaults, **raw}), None
    except (TypeError, ValueError) as exc:
        config, problem = None, str(exc)
    if problem is not None:
        fail(f"bad config: {problem}")
    n_params = cls._param_count(config)
    if n_params > max_parameters:
        fail(f"config asks for {n_params:,} parameters, more than the limit of {max_parameters:,}")

    if "state_dict" not in blob:
        fail("no 'state_dict' field")
    state = blob["state_dict"]
    _check_state(fail, cls, config, state)

    model = cls(**config, seed=_EMPTY)
    model.load_state_dict(state, strict=True)
    return model
