"""Train many networks of one architecture at once, as one batched ensemble.

A transfer-depth map needs thousands of small networks. Trained one after another, each step of
each network pays Python and kernel-launch overhead for a tiny amount of arithmetic. Here the
members' weights are stacked along a leading axis and the forward pass is ``torch.func.vmap`` of
the model's own ``forward`` over that axis, so one step of the whole ensemble is one set of batched
kernels. For stacks of Linear+ReLU blocks (the MLP) a private fast path computes the same
gradients with hand-written batched products, which removes autograd's bookkeeping from every
step; it is chosen by the model's structure and tested equal to the general path. Members may differ in
initial weights, frozen blocks (read from ``requires_grad``), training subset (and its size) and
data-order seed; each member sees exactly the batches and the Adam updates it would see if
trained alone.
"""
from __future__ import annotations

import contextlib
import contextvars
import copy
import time
from typing import Mapping, Sequence

import numpy as np
import torch
from torch.func import functional_call, vmap

from ._gradients import ENGINES as _ENGINES, linear_relu_layers as _linear_relu_layers
from .models import BlockModel, build_like
from .validation import as_tensor, check_int, check_known, check_positive, resolve_device

__all__ = ["Ensemble", "BatchStream", "fit", "accuracy", "time_limit", "TimeLimitReached"]

_DEADLINE: contextvars.ContextVar = contextvars.ContextVar("tlcore_fit_deadline", default=None)


class TimeLimitReached(RuntimeError):
    """A training call stopped at the deadline of :func:`time_limit`."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Every :func:`fit` inside the block stops with :class:`TimeLimitReached` once ``seconds`` have
    passed (checked at every step), so a time budget holds inside one long training call too."""
    token = _DEADLINE.set(time.monotonic() + float(seconds))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


class BatchStream:
    """The data order of one member: reshuffled epochs of its subset cut into fixed-size batches.

    A subset no larger than ``batch_size`` is used whole at every step (full-batch training);
    otherwise each epoch is a fresh permutation (from ``seed``) cut into ``n // batch_size``
    batches, the remainder dropped, so every step has the same batch size.
    """

    def __init__(self, subset: torch.Tensor, batch_size: int, seed: int):
        self.subset = subset
        self.batch = min(batch_size, len(subset))
        self.full_batch = len(subset) <= batch_size
        self.generator = torch.Generator().manual_seed(int(seed))
        self._pending = torch.empty(0, self.batch, dtype=torch.long)

    def take(self, steps: int) -> torch.Tensor:
        """The next ``steps`` batches, shape ``(steps, batch)`` (indices into the data)."""
        if self.full_batch:
            return self.subset.expand(steps, -1)
        chunks = [self._pending]
        have = len(self._pending)
        per_epoch = len(self.subset) // self.batch
        while have < steps:
            order = self.subset[torch.randperm(len(self.subset), generator=self.generator)]
            chunks.append(order[: per_epoch * self.batch].view(per_epoch, self.batch))
            have += per_epoch
        out = torch.cat(chunks)
        self._pending = out[steps:]
        return out[:steps]


class Ensemble:
    """``E`` networks of one architecture held as stacked tensors on one device."""

    def __init__(self, models: Sequence[BlockModel], device="auto"):
        if len(models) == 0:
            raise ValueError("an ensemble needs at least one model")
        self.device = resolve_device(device)
        first = models[0]
        named = [dict(m.named_parameters()) for m in models]  # once: get_parameter is slow
        shapes = {n: p.shape for n, p in named[0].items()}
        for i, (m, params) in enumerate(zip(models, named)):
            if type(m) is not type(first) or {n: p.shape for n, p in params.items()} != shapes:
                raise ValueError(f"model {i} ({type(m).__name__}, {m.config}) does not share the "
                                 f"architecture of model 0 ({type(first).__name__}, {first.config})")
        self.template = copy.deepcopy(first).to("meta")
        self.config = dict(first.config)
        self.names = list(shapes)
        self.params = {n: torch.stack([p[n].detach() for p in named]).to(self.device)
                       for n in self.names}
        # Each member's learning-rate factor per tensor, shape (E, 1, ..., 1): 0 where it is frozen
        # (requires_grad False), else the model's ``lr_scale`` entry for it (1 unless a protocol set one).
        factors = [getattr(m, "lr_scale", {}) for m in models]
        self.lr_scale = {
            n: torch.tensor([float(p[n].requires_grad) * f.get(n, 1.0) for p, f in zip(named, factors)],
                            device=self.device).view(-1, *[1] * len(shapes[n]))
            for n in self.names}
        # Accuracies recorded during training by fit(checkpoints=...): {name: (len(checkpoints), E)}.
        self.checkpoints: list[int] = []
        self.history: dict[str, np.ndarray] = {}
        self._forward = vmap(self._single_forward)
        self._forward_shared = vmap(self._single_forward, in_dims=(0, None))

    @classmethod
    def concat(cls, parts: Sequence["Ensemble"]) -> "Ensemble":
        """One ensemble holding the members of several, in order."""
        if len(parts) == 1:
            return parts[0]
        out = copy.copy(parts[0])
        out.params = {n: torch.cat([p.params[n] for p in parts]) for n in out.names}
        out.lr_scale = {n: torch.cat([p.lr_scale[n] for p in parts]) for n in out.names}
        out.history = {k: np.concatenate([p.history[k] for p in parts], axis=1) for k in parts[0].history}
        return out

    def select(self, members) -> "Ensemble":
        """The ensemble of the given members, in the order given."""
        index = torch.as_tensor(np.asarray(members), dtype=torch.long)
        out = copy.copy(self)
        out.params = {n: p[index.to(p.device)] for n, p in self.params.items()}
        out.lr_scale = {n: s[index.to(s.device)] for n, s in self.lr_scale.items()}
        out.history = {k: h[:, index.numpy()] for k, h in self.history.items()}
        return out

    @property
    def trainable(self) -> dict[str, torch.Tensor]:
        """1.0 where a member trains a tensor, 0.0 where it is frozen, shape (E, 1, ..., 1)."""
        return {n: (s > 0).to(s.dtype) for n, s in self.lr_scale.items()}

    def __len__(self) -> int:
        return int(next(iter(self.params.values())).shape[0])

    def _single_forward(self, params, x):
        return functional_call(self.template, params, (x,))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Per-member inputs ``(E, B, D)`` (or ``(E, B, C, H, W)``) to logits ``(E, B, classes)``."""
        return self._forward(self.params, x)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """Shared inputs ``(N, D)`` to predicted labels ``(E, N)`` on the ensemble's device."""
        x = x.to(self.device)
        return torch.cat([self._forward_shared(self.params, x[i:i + chunk]).argmax(-1)
                          for i in range(0, len(x), chunk)], dim=1)

    def accuracy(self, x: torch.Tensor, y: torch.Tensor, chunk: int = 4096) -> np.ndarray:
        """Fraction of correct predictions of every member on shared data, shape ``(E,)`` (NaN if no data)."""
        if len(x) == 0:
            return np.full(len(self), np.nan)
        x = as_tensor("evaluation inputs", x)  # a NaN would be scored as a prediction of one class
        y = y.to(self.device)
        return (self.predict(x, chunk) == y).float().mean(dim=1).cpu().numpy()

    def to_models(self) -> list[BlockModel]:
        """Back to independent CPU modules, frozen flags and learning-rate factors preserved."""
        out = []
        for e in range(len(self)):
            model = build_like(self.template, seed=0)
            with torch.no_grad():
                for n, p in model.named_parameters():
                    p.copy_(self.params[n][e].cpu())
                    scale = float(self.lr_scale[n].view(-1)[e])
                    p.requires_grad_(scale > 0)
                    if scale not in (0.0, 1.0):
                        model.lr_scale = {**getattr(model, "lr_scale", {}), n: scale}
            out.append(model)
        return out


def fit(models: Sequence[BlockModel], x, y, subsets: Sequence, seeds: Sequence[int], *,
        steps: int = 500, batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 0.0,
        device="auto", chunk_steps: int = 64, max_members: int | None = None,
        checkpoints: Sequence[int] = (), evaluate: Mapping[str, tuple] | None = None) -> Ensemble:
    """Train every model on its own subset of ``(x, y)`` with Adam, all in one batched ensemble.

    ``models[e]`` trains on ``x[subsets[e]]`` for ``steps`` steps of ``min(batch_size, len(subset))``
    examples in the order given by ``BatchStream(subsets[e], batch_size, seeds[e])``, with Adam
    (PyTorch's defaults, L2 ``weight_decay`` added to the gradient as ``torch.optim.Adam`` does).
    Parameters with ``requires_grad = False`` in a member stay exactly as they are in that member.
    Members are trained in groups of at most ``max_members`` (default: all at once on a GPU; on a
    CPU, groups whose weights fit in cache, about 4M parameters, which is faster than one huge
    stack). Returns the trained :class:`Ensemble`; the input models are not modified.

    ``checkpoints`` (step counts in ``0..steps``) and ``evaluate`` (``{name: (x, y)}``, data shared by
    every member) record each member's accuracy on each set after that many steps, so that a
    stopping point can be chosen on validation without training again: the returned ensemble's
    ``history[name]`` has shape ``(len(checkpoints), len(models))``, rows in the order of
    ``ensemble.checkpoints`` (sorted). Recording changes no weight and no random draw.
    """
    return _fit(models, x, y, subsets, seeds, steps=steps, batch_size=batch_size, lr=lr,
                weight_decay=weight_decay, device=device, chunk_steps=chunk_steps,
                max_members=max_members, checkpoints=checkpoints, evaluate=evaluate)


def _fit(models, x, y, subsets, seeds, *, steps, batch_size, lr, weight_decay, device, chunk_steps,
         max_members, checkpoints=(), evaluate=None, engine: str | None = None) -> Ensemble:
    """:func:`fit` with the gradient engine forced (``"autograd"`` or ``"linear_relu"``) for tests."""
    n = len(models)
    if not (len(subsets) == len(seeds) == n):
        raise ValueError(f"got {n} models, {len(subsets)} subsets and {len(seeds)} seeds; "
                         "one of each per member is needed")
    check_int("steps", steps, low=0)
    check_int("batch_size", batch_size, low=1)
    check_positive("lr", lr)
    check_positive("weight_decay", weight_decay, zero_ok=True)
    if engine is not None:
        check_known("engine", engine, _ENGINES)
    x = as_tensor("x", x)
    y = torch.as_tensor(y)
    if x.ndim < 2 or y.shape != (x.shape[0],):
        raise ValueError(f"x must be (N, D) or images (N, C, H, W) and y (N,), got x {tuple(x.shape)} "
                         f"and y {tuple(y.shape)}")
    for i, m in enumerate(models):
        rank = getattr(m, "input_rank", None)
        if rank is not None and rank != x.ndim:
            raise ValueError(f"model {i} ({type(m).__name__}) takes inputs of {rank} dimensions "
                             f"({'(N, D)' if rank == 2 else '(N, C, H, W)'}), got x of shape {tuple(x.shape)}")
        if m.in_dim != x.shape[1]:
            raise ValueError(f"input size mismatch: model {i} expects in_dim={m.in_dim}, "
                             f"the data has {x.shape[1]} {'features' if x.ndim == 2 else 'channels'}")
        if int(y.max()) >= m.config["n_classes"]:
            raise ValueError(f"label {int(y.max())} does not fit model {i} with "
                             f"n_classes={m.config['n_classes']}")
    subsets = [torch.as_tensor(s, dtype=torch.long) for s in subsets]
    for i, s in enumerate(subsets):
        if len(s) == 0 or int(s.min()) < 0 or int(s.max()) >= len(x):
            raise ValueError(f"subset {i} is empty or indexes outside the {len(x)} examples")
    checkpoints = sorted({check_int("checkpoint", c, low=0) for c in checkpoints})
    if checkpoints and checkpoints[-1] > steps:
        raise ValueError(f"checkpoint {checkpoints[-1]} is beyond the {steps} training steps")
    if checkpoints and not evaluate:
        raise ValueError("checkpoints need evaluate={name: (x, y)}: the data to score the members on")
    evaluate = {name: (as_tensor(f"evaluate[{name!r}] inputs", ex), torch.as_tensor(ey))
                for name, (ex, ey) in (evaluate or {}).items()} if checkpoints else {}

    dev = resolve_device(device)
    if max_members is None:
        per_member = sum(p.numel() for p in models[0].parameters())
        max_members = n if dev.type == "cuda" else max(1, _CPU_GROUP_PARAMETERS // per_member)
    check_int("max_members", max_members, low=1)
    x, y = x.to(dev), y.to(dev, torch.long)
    # Members are grouped by their batch size (small target subsets train full-batch), so that a
    # group pads few slots: padding a subset of 10 to a batch of 128 would cost 13x its arithmetic.
    # Within a batch size, members with the same frozen prefix sit together, so that a group's
    # backward pass stops at its lowest trained layer.
    order = sorted(range(n), key=lambda i: (min(batch_size, len(subsets[i])), -_frozen_prefix(models[i])))
    size = -(-n // -(-n // max_members))  # groups of equal size, none larger than max_members
    groups = [order[a:a + size] for a in range(0, n, size)]
    trained = Ensemble.concat([
        _fit_group([models[i] for i in g], x, y, [subsets[i] for i in g], [seeds[i] for i in g],
                   steps, batch_size, lr, weight_decay, dev, chunk_steps, engine, checkpoints, evaluate)
        for g in groups])
    return trained if order == list(range(n)) else trained.select(np.argsort(order))


_CPU_GROUP_PARAMETERS = 4_000_000


def _frozen_prefix(model: BlockModel) -> int:
    """How many of the model's parameter tensors, from the input on, are frozen."""
    count = 0
    for p in model.parameters():
        if p.requires_grad:
            break
        count += 1
    return count


def _fit_group(models, x, y, subsets, seeds, steps, batch_size, lr, weight_decay, dev, chunk_steps,
               engine, checkpoints=(), evaluate=None):
    n = len(models)
    ens = Ensemble(models, dev)
    ens.checkpoints = list(checkpoints)
    records = {name: [] for name in (evaluate or {})}

    def record():
        for name, (ex, ey) in evaluate.items():
            records[name].append(ens.accuracy(ex, ey))

    if 0 in checkpoints:
        record()
    streams = [BatchStream(s, batch_size, seed) for s, seed in zip(subsets, seeds)]
    width = max(st.batch for st in streams)
    # Each member's loss is the mean over its own batch: weight 1/b on its b real slots, 0 on padding.
    weights = torch.zeros(n, width, device=dev)
    for e, st in enumerate(streams):
        weights[e, : st.batch] = 1.0 / st.batch

    scale = ens.lr_scale
    names = [k for k in ens.names if bool((scale[k] > 0).any())]
    params = [ens.params[k].requires_grad_(True) for k in names]
    # A mask multiplies the gradient only where some member freezes that tensor. A frozen member's
    # gradient is then 0 from the first step, so its Adam moments stay 0 and its update is exactly 0.
    masks = [None if bool((scale[k] > 0).all()) else (scale[k] > 0).to(scale[k].dtype) for k in names]
    # A learning-rate factor s scales Adam's update of that member's tensor (as a parameter group
    # with lr * s would): p <- p_old + s (p_adam - p_old). Only tensors where some s is not 0 or 1.
    factors = [None if bool(((scale[k] == 0) | (scale[k] == 1)).all())
               else torch.where(scale[k] == 0, torch.ones_like(scale[k]), scale[k]) for k in names]
    scaled = [i for i, f in enumerate(factors) if f is not None]
    optimiser = _adam(params, lr)
    if engine is None:
        engine = "linear_relu" if _linear_relu_layers(ens.template) else "autograd"
    gradients = _ENGINES[engine](ens, names)

    done, deadline = 0, _DEADLINE.get()
    while done < steps:
        block = min(chunk_steps, steps - done)
        idx = torch.zeros(block, n, width, dtype=torch.long)
        for e, st in enumerate(streams):
            idx[:, e, : st.batch] = st.take(block)
        idx = idx.to(dev)
        for s in range(block):
            if deadline is not None and time.monotonic() > deadline:
                raise TimeLimitReached(f"training of {n} network(s) stopped at the time limit after "
                                       f"{done + s:,} of {steps:,} steps")
            grads = gradients(x[idx[s]], y[idx[s]], weights)
            with torch.no_grad():
                for p, g, m in zip(params, grads, masks):
                    if weight_decay:
                        g = g.add_(p, alpha=weight_decay)  # L2 in the gradient, as torch.optim.Adam
                    g = g.contiguous()  # vmap can return transposed strides; the fused kernel wants dense
                    p.grad = g if m is None else g.mul_(m)
                before = [params[i].detach().clone() for i in scaled]
            optimiser.step()
            with torch.no_grad():
                for i, old in zip(scaled, before):
                    params[i].sub_(old).mul_(factors[i]).add_(old)
            if done + s + 1 in checkpoints:
                record()
        done += block
    for p in params:
        p.grad = None
        p.requires_grad_(False)
    ens.history = {name: np.stack(r) for name, r in records.items()}
    return ens


def _adam(params, lr):
    """``torch.optim.Adam`` with PyTorch's defaults, fused into one kernel where the device has one."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, ValueError):  # no fused kernel for this device or dtype
        return torch.optim.Adam(params, lr=lr, foreach=True)


def accuracy(models: Sequence[BlockModel], x, y, device="auto") -> np.ndarray:
    """Test accuracy of each model on shared data, computed as one batched ensemble."""
    return Ensemble(models, device).accuracy(as_tensor("x", x), torch.as_tensor(y))
