"""One registry of representation similarities: every measure answers "how alike?", higher = more alike.

The metric families live in their own modules (:mod:`tlcore.cka`, :mod:`tlcore.neighbours`); this
module turns each into a :class:`Measure` with one orientation, so that callers (source ranking,
representation profiles, the advisor) never branch on a measure's name. Information imbalance,
a distance-like quantity, enters as ``1 - Delta``: ``"information_imbalance"`` is
``1 - Delta(a -> b)`` (how well distances in ``a`` predict neighbourhoods in ``b``) and
``"information_imbalance_reverse"`` is ``1 - Delta(b -> a)``.

A measure is two steps: ``prepare`` (once per representation: validation, and for kNN measures
the neighbour lists) and ``compare`` (once per pair). :func:`layerwise` prepares every layer once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .cka import debiased_cka, linear_cka, rbf_cka
from .neighbours import information_imbalance, knn_indices, overlap_of_indices
from .validation import check_k, check_known, check_points, resolve_device

__all__ = ["Measure", "MEASURES", "similarity", "layerwise"]


@dataclass(frozen=True)
class Measure:
    """A similarity: ``compare(prepare(a, k), prepare(b, k), k)`` is a float, higher = more alike."""

    name: str
    description: str
    prepare: Callable[[torch.Tensor, int], Any]
    compare: Callable[[Any, Any, int], float]
    uses_k: bool = False


def _points(x: torch.Tensor, k: int) -> torch.Tensor:
    return x


def _neighbours(x: torch.Tensor, k: int) -> torch.Tensor:
    return knn_indices(x, k, x.device, x.dtype)


MEASURES: dict[str, Measure] = {m.name: m for m in [
    Measure("linear_cka", "linear CKA", _points, lambda a, b, k: linear_cka(a, b, a.device)),
    Measure("debiased_cka", "CKA with the unbiased HSIC estimator", _points,
            lambda a, b, k: debiased_cka(a, b, a.device)),
    Measure("rbf_cka", "CKA with Gaussian kernels (bandwidth 0.8 x median distance)", _points,
            lambda a, b, k: rbf_cka(a, b, device=a.device)),
    Measure("neighbourhood_overlap", "fraction of k nearest neighbours shared", _neighbours,
            lambda a, b, k: overlap_of_indices(a, b), uses_k=True),
    Measure("information_imbalance", "1 - Delta(a -> b): a's distances predict b's neighbours", _points,
            lambda a, b, k: 1.0 - information_imbalance(a, b, k, a.device, a.dtype)[0], uses_k=True),
    Measure("information_imbalance_reverse", "1 - Delta(b -> a): b's distances predict a's neighbours",
            _points, lambda a, b, k: 1.0 - information_imbalance(a, b, k, a.device, a.dtype)[1], uses_k=True),
]}


def _measure(measure: str) -> Measure:
    check_known("similarity measure", measure, MEASURES)
    return MEASURES[measure]


def _prepare(measure: Measure, reps: Sequence, n: int, k: int, device, dtype) -> list:
    out = []
    for i, r in enumerate(reps):
        x = check_points(f"layer {i + 1}", r, device, dtype)
        if x.shape[0] != n:
            raise ValueError(f"every representation must hold the same {n} points; "
                             f"layer {i + 1} has {x.shape[0]} ({tuple(x.shape)})")
        out.append(measure.prepare(x, k))
    return out


def layerwise(reps_a: Sequence, reps_b: Sequence, measure: str = "linear_cka", k: int = 10,
              device="auto", dtype=torch.float64) -> np.ndarray:
    """The matrix ``(len(reps_a), len(reps_b))`` of a measure between every pair of layers.

    ``reps_a`` and ``reps_b`` are lists of representations of the same N points, as returned by
    ``model.representations(x)``. ``k`` is the neighbourhood size of the kNN measures (unused by
    CKA, and then not checked). Each layer is validated and prepared once.
    """
    m = _measure(measure)
    if len(reps_a) == 0 or len(reps_b) == 0:
        raise ValueError("layerwise needs at least one layer on each side")
    dev = resolve_device(device)
    n = check_points("layer 1", reps_a[0], dev, dtype).shape[0]
    if n < 2:
        raise ValueError(f"need at least 2 points, got {n}")
    if m.uses_k:
        k = check_k(k, n)
    prep_a = _prepare(m, reps_a, n, k, dev, dtype)
    prep_b = _prepare(m, reps_b, n, k, dev, dtype)
    return np.array([[float(m.compare(a, b, k)) for b in prep_b] for a in prep_a])


def similarity(x, y, measure: str = "linear_cka", k: int = 10, device="auto") -> float:
    """One measure between two representations ``(N, features)`` of the same points."""
    return float(layerwise([x], [y], measure, k, device)[0, 0])
