"""The gradients of one step of a batched ensemble (the engine of :mod:`tlcore.train`).

``autograd`` differentiates the members' ``vmap``-ed forward: any block model. ``linear_relu`` writes
out the same gradients for stacks of Linear+ReLU blocks with batched products, which removes
autograd's bookkeeping from every step; :mod:`tlcore.train` picks it by the model's structure, and
the tests hold it equal to the general path. Each takes ``(ensemble, names of the trained tensors)``
and returns ``gradients(xb, yb, weights)``: per-member batches ``(E, B, ...)``, labels ``(E, B)`` and
each slot's share of its member's loss ``(E, B)``, to one gradient per named tensor.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ENGINES", "autograd_gradients", "linear_relu_gradients", "linear_relu_layers"]


def autograd_gradients(ens, names: list[str]):
    """Gradients of the slot-weighted cross-entropy by autograd through ``vmap``: any block model."""
    params = [ens.params[k] for k in names]

    def gradients(xb, yb, weights):
        logits = ens.logits(xb)
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yb.reshape(-1),
                             reduction="none").view(weights.shape)
        return torch.autograd.grad((ce * weights).sum(), params)

    return gradients


def linear_relu_layers(template) -> list[str] | None:
    """Names of the Linear layers when every block is exactly ``Linear -> ReLU`` and the head is
    Linear (the structure the fast path differentiates by hand); None for any other model."""
    names = []
    for i, block in enumerate(template.blocks):
        if not isinstance(block, nn.Sequential):
            return None
        kinds = [type(m) for m in block]
        if kinds != [nn.Linear, nn.ReLU]:
            return None
        names.append(f"blocks.{i}.0")
    return names + ["head"] if type(template.head) is nn.Linear else None


def linear_relu_gradients(ens, names: list[str]):
    """The same gradients for a stack of Linear+ReLU blocks, written out with batched products.

    Forward ``h <- relu(b + h W^T)`` per layer with ``baddbmm``; backward ``dW = g^T h``,
    ``db = sum g``, ``g <- (g W) * [h > 0]``. Weight gradients come out in the weights' own
    layout, and layers below the lowest trained tensor are not back-propagated through.
    """
    layers = linear_relu_layers(ens.template)
    if layers is None:
        raise ValueError(f"the Linear+ReLU engine needs Linear+ReLU blocks, got {type(ens.template).__name__}")
    depth = len(layers) - 1
    layer_weights = [ens.params[f"{name}.weight"] for name in layers]
    biases = [ens.params[f"{name}.bias"].unsqueeze(1) for name in layers]
    wanted = set(names)
    lowest = min(i for i, name in enumerate(layers) if {f"{name}.weight", f"{name}.bias"} & wanted)

    @torch.no_grad()
    def gradients(xb, yb, weights):  # weights: each slot's share of its member's loss
        hs = [xb]
        for i, (w, b) in enumerate(zip(layer_weights, biases)):
            h = torch.baddbmm(b, hs[-1], w.transpose(1, 2))
            hs.append(h.clamp_min_(0) if i < depth else h)
        # d(weighted cross-entropy)/d(logits). (Softmax over a strided class axis is ~8x faster on
        # CPU than over a contiguous axis of 10; the values are the same.)
        g = torch.softmax(hs.pop().transpose(1, 2), dim=1).transpose(1, 2)
        g.scatter_add_(2, yb.unsqueeze(2), torch.full(yb.shape + (1,), -1.0, dtype=g.dtype,
                                                      device=g.device))
        g.mul_(weights.unsqueeze(2))
        out = {}
        for i in range(depth, lowest - 1, -1):
            h = hs.pop()
            out[f"{layers[i]}.weight"] = torch.bmm(g.transpose(1, 2), h)
            out[f"{layers[i]}.bias"] = g.sum(1)
            if i > lowest:
                g = torch.bmm(g, layer_weights[i]).mul_(h > 0)  # ReLU's derivative at its output
        return [out[k] for k in names]

    return gradients


ENGINES = {"autograd": autograd_gradients, "linear_relu": linear_relu_gradients}
