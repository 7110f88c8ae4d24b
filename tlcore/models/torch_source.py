"""Any torch model as a block model: an ``nn.Sequential`` or a torchvision ResNet split into blocks."""
from __future__ import annotations

import copy

import torch
from torch import nn

from .. import user_models
from ..validation import check_int
from .base import BlockModel, _generator

__all__ = ["TorchBlockModel", "as_block_model", "load_torch_source"]


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
