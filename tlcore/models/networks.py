"""The MLP and the 1-D CNN."""
from __future__ import annotations

from torch import nn

from ..validation import check_int
from .base import BlockModel

__all__ = ["MLP", "CNN1d"]


class MLP(BlockModel):
    """``depth`` fully connected ReLU blocks of ``width`` units, then a linear readout."""

    def __init__(self, in_dim: int, n_classes: int, width: int = 64, depth: int = 4,
                 seed: int | None = None):
        super().__init__()
        self._setup(dict(in_dim=in_dim, n_classes=n_classes, width=width, depth=depth), seed)

    @classmethod
    def _check_config(cls, config):
        return cls._check_size(config)

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
        c = dict(cls._check_size(config, min_in_dim=2),
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
