"""The synthetic families: a hierarchical random teacher and the correlated hidden-manifold model,
whose generative models label the same inputs with the source and the target rule."""
from __future__ import annotations

import math

import torch

from ..seeds import torch_generator
from ..validation import check_int, check_range
from .records import Task, TaskPair, _check_sizes

__all__ = ["teacher_pair", "hidden_manifold_pair", "DeepTeacher", "HiddenManifold"]


def _rotate(w: torch.Tensor, fresh: torch.Tensor, angle: float) -> torch.Tensor:
    """Mix a weight tensor with an independent one of the same law: norm kept, overlap cos(angle)."""
    return math.cos(angle) * w + math.sin(angle) * fresh


def _argmax_balanced(logits: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    return (logits - offset).argmax(dim=1)


class _Labeller:
    """Shared logic of the synthetic families: draw latents, observe inputs and labels."""

    latent_dim: int
    offset: torch.Tensor

    def latent(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, generator=generator)

    def logits(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def inputs(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def observe(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and labels for latents ``z`` of shape ``(N, latent_dim)``."""
        return self.inputs(z), _argmax_balanced(self.logits(z), self.offset)

    def _balance(self, reference_z: torch.Tensor) -> None:
        # Centre each class logit on a fixed reference sample so that no class dominates.
        self.offset = self.logits(reference_z).mean(dim=0, keepdim=True)


class DeepTeacher(_Labeller):
    """Gaussian inputs labelled by the argmax of a random deep ReLU network (He-scaled)."""

    def __init__(self, weights: list[torch.Tensor], readout: torch.Tensor):
        self.weights, self.readout = weights, readout
        self.latent_dim = weights[0].shape[1]

    def inputs(self, z):
        return z

    def logits(self, z):
        h = z
        for w in self.weights:
            h = torch.relu(h @ w.T * math.sqrt(2.0 / w.shape[1]))
        return h @ self.readout.T / math.sqrt(self.readout.shape[1])


class HiddenManifold(_Labeller):
    """Inputs ``x = tanh(F c / sqrt(d))`` on a d-dimensional manifold; a two-layer teacher on ``c``."""

    def __init__(self, features: torch.Tensor, teacher_in: torch.Tensor, teacher_out: torch.Tensor):
        self.features, self.teacher_in, self.teacher_out = features, teacher_in, teacher_out
        self.latent_dim = features.shape[1]

    def inputs(self, c):
        return torch.tanh(c @ self.features.T / math.sqrt(self.latent_dim))

    def logits(self, c):
        h = torch.tanh(c @ self.teacher_in.T / math.sqrt(self.latent_dim))
        return h @ self.teacher_out.T / math.sqrt(self.teacher_out.shape[1])


def _sample_task(labeller: _Labeller, name: str, n_classes: int, n_train: int, n_test: int,
                 seed: int, stream: str) -> Task:
    g = torch_generator(seed, stream)
    x_tr, y_tr = labeller.observe(labeller.latent(n_train, g))
    x_te, y_te = labeller.observe(labeller.latent(n_test, g))
    return Task(x_tr, y_tr, x_te, y_te, n_classes, name)


def _synthetic_pair(family, source: _Labeller, target: _Labeller, knobs, seed, n_classes,
                    n_source, n_target_pool, n_test) -> TaskPair:
    ref = source.latent(20_000, torch_generator(seed, "balance"))
    source._balance(ref)
    target._balance(ref)
    return TaskPair(
        source=_sample_task(source, f"{family}-source", n_classes, n_source, n_test, seed, "source-sample"),
        target=_sample_task(target, f"{family}-target", n_classes, n_target_pool, n_test, seed, "target-sample"),
        family=family,
        knobs=dict(knobs),
        seed=int(seed),
        generators=(source, target),
    )


def teacher_pair(shared_depth: int = 1, alpha: float = 1.0, seed: int = 0, *, input_dim: int = 16,
                 teacher_width: int = 64, teacher_depth: int = 3, n_classes: int = 4,
                 n_source: int = 10_000, n_target_pool: int = 5_000, n_test: int = 2_000) -> TaskPair:
    """Gaussian inputs labelled by a deep random teacher; the target teacher is a perturbed copy.

    The target teacher shares its first ``shared_depth`` hidden layers exactly (0 to ``teacher_depth``)
    and mixes each deeper layer and the readout with fresh weights by the angle ``alpha`` (radians,
    0 to pi/2): ``W_t = cos(alpha) W + sin(alpha) W_fresh``. ``alpha = 0`` gives the same task;
    ``alpha = pi/2`` with ``shared_depth = 0`` gives an unrelated one. The ground truth of what is
    transferable is thus known: the first ``shared_depth`` layers of the teacher.
    """
    check_int("teacher_depth", teacher_depth, low=1)
    check_int("shared_depth", shared_depth, low=0, high=teacher_depth)
    check_range("alpha", alpha, 0.0, math.pi / 2)
    _check_sizes(n_classes=n_classes, n_source=n_source, n_target_pool=n_target_pool, n_test=n_test)
    g = torch_generator(seed, "generative-model")
    dims = [input_dim] + [teacher_width] * teacher_depth
    src_w = [torch.randn(dims[i + 1], dims[i], generator=g) for i in range(teacher_depth)]
    src_out = torch.randn(n_classes, teacher_width, generator=g)
    fresh_w = [torch.randn(w.shape, generator=g) for w in src_w]
    fresh_out = torch.randn(src_out.shape, generator=g)
    tgt_w = [w if i < shared_depth else _rotate(w, f, alpha)
             for i, (w, f) in enumerate(zip(src_w, fresh_w))]
    tgt_out = _rotate(src_out, fresh_out, alpha)
    return _synthetic_pair("teacher", DeepTeacher(src_w, src_out), DeepTeacher(tgt_w, tgt_out),
                           {"shared_depth": shared_depth, "alpha": float(alpha)}, seed, n_classes,
                           n_source, n_target_pool, n_test)


def hidden_manifold_pair(feature_mix: float = 0.5, teacher_mix: float = 0.5, seed: int = 0, *,
                         input_dim: int = 64, latent_dim: int = 8, teacher_width: int = 32,
                         n_classes: int = 4, n_source: int = 10_000, n_target_pool: int = 5_000,
                         n_test: int = 2_000) -> TaskPair:
    """Correlated hidden-manifold model (Gerace et al. 2022): shared latents, perturbed features/teacher.

    Inputs are ``tanh(F c / sqrt(d))`` for latents ``c ~ N(0, I_d)``; labels are the argmax of a
    two-layer teacher on ``c``. The target mixes fresh directions into the features ``F`` by the
    angle ``feature_mix * pi/2`` and into the teacher by ``teacher_mix * pi/2``; both knobs lie in
    [0, 1], 0 meaning "as the source" and 1 "independent of the source".
    """
    check_range("feature_mix", feature_mix, 0.0, 1.0)
    check_range("teacher_mix", teacher_mix, 0.0, 1.0)
    check_int("latent_dim", latent_dim, low=1)
    check_int("input_dim", input_dim, low=1)
    _check_sizes(n_classes=n_classes, n_source=n_source, n_target_pool=n_target_pool, n_test=n_test)
    g = torch_generator(seed, "generative-model")
    F = torch.randn(input_dim, latent_dim, generator=g)
    w1 = torch.randn(teacher_width, latent_dim, generator=g)
    w2 = torch.randn(n_classes, teacher_width, generator=g)
    F2, w1b, w2b = (torch.randn(t.shape, generator=g) for t in (F, w1, w2))
    phi, theta = feature_mix * math.pi / 2, teacher_mix * math.pi / 2
    source = HiddenManifold(F, w1, w2)
    target = HiddenManifold(_rotate(F, F2, phi), _rotate(w1, w1b, theta), _rotate(w2, w2b, theta))
    return _synthetic_pair("hidden_manifold", source, target,
                           {"feature_mix": float(feature_mix), "teacher_mix": float(teacher_mix)},
                           seed, n_classes, n_source, n_target_pool, n_test)
