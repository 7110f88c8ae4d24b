"""Networks made of named blocks plus a readout, so that "the first l layers" is well defined.

Every model has ``.blocks`` (an ``nn.ModuleList``; one block is one hidden layer with its
nonlinearity), ``.head`` (the linear readout), ``.config`` (the keyword arguments that rebuild
it) and ``.representations(x)``, the list of per-block activations, flattened to ``(N, features)``.
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import torch
from torch import nn

from .validation import check_int, check_known

__all__ = ["MLP", "CNN1d", "build_model", "save_model", "load_model", "MODELS"]


class BlockModel(nn.Module):
    """Common behaviour: forward through the blocks then the head; expose representations."""

    blocks: nn.ModuleList
    head: nn.Module
    config: dict

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    @property
    def in_dim(self) -> int:
        return int(self.config["in_dim"])

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


@contextlib.contextmanager
def _seeded(seed: int | None):
    """Initialise under a fixed seed without touching the caller's global random state."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


class MLP(BlockModel):
    """``depth`` fully connected ReLU blocks of ``width`` units, then a linear readout."""

    def __init__(self, in_dim: int, n_classes: int, width: int = 64, depth: int = 4,
                 seed: int | None = None):
        super().__init__()
        check_int("in_dim", in_dim, low=1)
        check_int("n_classes", n_classes, low=2)
        check_int("width", width, low=1)
        check_int("depth", depth, low=1)
        self.config = dict(in_dim=in_dim, n_classes=n_classes, width=width, depth=depth)
        with _seeded(seed):
            dims = [in_dim] + [width] * depth
            self.blocks = nn.ModuleList(
                nn.Sequential(nn.Linear(dims[i], dims[i + 1]), nn.ReLU()) for i in range(depth))
            self.head = nn.Linear(width, n_classes)


class CNN1d(BlockModel):
    """A small 1-D CNN for sequences such as MNIST-1D: ``depth`` conv blocks that halve the length.

    Input ``(N, in_dim)`` is read as one channel of length ``in_dim``.
    """

    def __init__(self, in_dim: int, n_classes: int, width: int = 32, depth: int = 3,
                 kernel_size: int = 5, seed: int | None = None):
        super().__init__()
        check_int("in_dim", in_dim, low=2)
        check_int("n_classes", n_classes, low=2)
        check_int("width", width, low=1)
        check_int("depth", depth, low=1)
        check_int("kernel_size", kernel_size, low=1)
        length = in_dim
        for _ in range(depth):
            length = (length + 1) // 2
        if length < 1 or in_dim < 2 ** depth:
            raise ValueError(f"depth={depth} halves in_dim={in_dim} below one position")
        self.config = dict(in_dim=in_dim, n_classes=n_classes, width=width, depth=depth,
                           kernel_size=kernel_size)
        with _seeded(seed):
            chans = [1] + [width] * depth
            self.blocks = nn.ModuleList(
                nn.Sequential(nn.Conv1d(chans[i], chans[i + 1], kernel_size, stride=2,
                                        padding=kernel_size // 2), nn.ReLU())
                for i in range(depth))
            self.head = nn.Linear(width * length, n_classes)

    def _prepare(self, x):
        return x.unsqueeze(-2)


MODELS = {"mlp": MLP, "cnn1d": CNN1d}


def build_model(kind: str, seed: int | None = None, **config) -> BlockModel:
    """A model by name (``"mlp"`` or ``"cnn1d"``) from its configuration."""
    check_known("model", kind, MODELS)
    return MODELS[kind](**config, seed=seed)


def model_kind(model: BlockModel) -> str:
    for name, cls in MODELS.items():
        if type(model) is cls:
            return name
    raise TypeError(f"{type(model).__name__} is not a tlcore model")


def save_model(model: BlockModel, path: str | Path) -> None:
    """Save architecture and weights in one file that :func:`load_model` reads back."""
    torch.save({"format": "tlcore-model/1", "kind": model_kind(model), "config": model.config,
                "state_dict": model.state_dict()}, path)


def load_model(path: str | Path) -> BlockModel:
    """Load a model saved by :func:`save_model`; anything else is rejected with a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {str(path)!r}")
    try:
        blob = torch.load(io.BytesIO(path.read_bytes()), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a file that is not a checkpoint
        raise ValueError(f"{str(path)!r} is not a tlcore model file ({type(exc).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != "tlcore-model/1":
        raise ValueError(f"{str(path)!r} is not a tlcore model file (no tlcore-model/1 header)")
    model = build_model(blob["kind"], **blob["config"])
    model.load_state_dict(blob["state_dict"])
    return model
