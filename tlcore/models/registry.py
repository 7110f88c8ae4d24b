"""The model kinds by name: building, rebuilding, saving and loading (weights only, checked)."""
from __future__ import annotations

import inspect
import io
import zipfile
from pathlib import Path

import torch

from ..validation import check_int, check_known
from .base import _EMPTY, FORMAT, MAX_LOAD_PARAMETERS, BlockModel
from .networks import CNN1d, MLP
from .resnet import ResNet

__all__ = ["MODELS", "build_model", "build_like", "model_kind", "save_model", "load_model"]


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
