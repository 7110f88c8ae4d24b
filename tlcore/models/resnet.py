"""A ResNet-18-shaped block model (a stem and 8 basic blocks: 17 conv layers) for images."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .. import user_models
from .base import BlockModel, _generator

__all__ = ["ResNet", "conv_layers"]


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
        return cls._check_size(config, max_width=4096, max_depth=64)

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
