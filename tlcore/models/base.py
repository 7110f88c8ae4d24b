"""The block model every network is: named blocks plus a readout, seeded without global state."""
from __future__ import annotations

import inspect
import math

import numpy as np
import torch
from torch import nn

from ..validation import check_int

__all__ = ["BlockModel", "FORMAT", "MAX_LOAD_PARAMETERS"]


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

    @staticmethod
    def _check_size(config: dict, min_in_dim: int = 1, max_width: int | None = None,
                    max_depth: int | None = None) -> dict:
        """The four settings every block model has (inputs, classes, width, depth), checked."""
        return dict(in_dim=check_int("in_dim", config["in_dim"], low=min_in_dim),
                    n_classes=check_int("n_classes", config["n_classes"], low=2),
                    width=check_int("width", config["width"], low=1, high=max_width),
                    depth=check_int("depth", config["depth"], low=1, high=max_depth))

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
        from .registry import build_model, model_kind  # the registry knows every kind

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
