"""How alike are two representations of the same inputs? CKA variants and neighbourhood measures.

All functions take ``(N, features)`` tensors or arrays of the same N points (higher-rank inputs
are flattened per point), run on the GPU when present (``device="auto"``), and return floats.

* ``linear_cka``, ``rbf_cka``, ``debiased_cka``: centred kernel alignment (Kornblith et al. 2019);
  the debiased one uses the unbiased HSIC estimator (Song et al. 2012), so independent data
  scores near 0 at any N.
* ``neighbourhood_overlap``, ``label_overlap``: the fraction of k nearest neighbours shared by two
  representations, or sharing the point's label (Doimo et al. 2020).
* ``information_imbalance``: Delta(A -> B) = (2/N) <rank in B of the k nearest neighbours in A>,
  (Glielmo et al. 2022): near 0 when A predicts B's neighbourhoods, near 1 when it does not.

Neighbourhoods exclude the point itself and are found with exact distances computed in chunks of
rows (memory O(chunk x N), not O(N^2)). Ties in distance go to the lower index, so results are
deterministic. kNN measures compute distances in float64 by default so that ranks agree with
exact references; pass ``dtype=torch.float32`` for speed on large GPU problems.
"""
from __future__ import annotations

import threading
from typing import Callable, Sequence

import numpy as np
import torch

from .validation import as_tensor, check_int, check_known, resolve_device

__all__ = ["linear_cka", "rbf_cka", "debiased_cka", "neighbourhood_overlap", "label_overlap",
           "information_imbalance", "layerwise", "knn_indices", "MEASURES"]

# Distance entries held at once. On a CPU a chunk that stays in the last-level cache (8 MB in
# float64) is about 2.5x faster end to end than a large one (benchmarks/similarity.py); a GPU wants
# large launches.
_CHUNK_ELEMENTS = {"cpu": 2 ** 20, "accelerator": 2 ** 25}


# --------------------------------------------------------------------------- validation


def _points(name, x, device, dtype) -> torch.Tensor:
    t = as_tensor(name, x, device=device, dtype=dtype)
    if t.ndim < 2:
        raise ValueError(f"{name} must have shape (N, features), got {tuple(t.shape)}")
    return t.reshape(t.shape[0], -1)


def _pair(x, y, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    dev = resolve_device(device)
    x, y = _points("x", x, dev, dtype), _points("y", y, dev, dtype)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must hold the same points: x has {x.shape[0]} rows "
                         f"{tuple(x.shape)}, y has {y.shape[0]} {tuple(y.shape)}")
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 points, got {x.shape[0]}")
    return x, y


def _check_k(k, n) -> int:
    check_int("k", k, low=1)
    if k >= n:
        raise ValueError(f"k={k} must be smaller than the number of points N={n}")
    return int(k)


# --------------------------------------------------------------------------- CKA


def linear_cka(x, y, device="auto") -> float:
    """Linear CKA: ``||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)`` on column-centred features."""
    x, y = _pair(x, y, device, torch.float64)
    x, y = x - x.mean(0), y - y.mean(0)
    cross = (y.T @ x).square().sum()
    return float(cross / ((x.T @ x).norm() * (y.T @ y).norm()))


def _debiased_dot(xty, rows_x, rows_y, norm_x, norm_y, n):
    # Unbiased HSIC numerator for centred features (Kornblith et al.'s feature-space form).
    return xty - n / (n - 2.0) * (rows_x @ rows_y) + norm_x * norm_y / ((n - 1) * (n - 2))


def debiased_cka(x, y, device="auto") -> float:
    """CKA with the unbiased HSIC estimator (Song et al. 2012): near 0 for independent data. N >= 4."""
    x, y = _pair(x, y, device, torch.float64)
    n = x.shape[0]
    if n < 4:
        raise ValueError(f"debiased_cka needs at least 4 points, got N={n}")
    x, y = x - x.mean(0), y - y.mean(0)
    rows_x, rows_y = x.square().sum(1), y.square().sum(1)
    nx, ny = rows_x.sum(), rows_y.sum()
    xy = _debiased_dot((y.T @ x).square().sum(), rows_x, rows_y, nx, ny, n)
    xx = _debiased_dot((x.T @ x).square().sum(), rows_x, rows_x, nx, nx, n)
    yy = _debiased_dot((y.T @ y).square().sum(), rows_y, rows_y, ny, ny, n)
    return float(xy / torch.sqrt(xx * yy))


def _row_chunks(n_rows: int, n_cols: int, device: torch.device, per_row: int = 1):
    budget = _CHUNK_ELEMENTS["cpu" if device.type == "cpu" else "accelerator"]
    size = max(1, budget // max(1, n_cols * per_row))
    for start in range(0, n_rows, size):
        yield start, min(n_rows, start + size)


class _Distances:
    """Squared Euclidean distances of row chunks of ``x`` to all of ``x`` (norms computed once)."""

    def __init__(self, x: torch.Tensor):
        self.x, self.sq = x, x.square().sum(1)

    def ordering(self, a: int, b: int) -> torch.Tensor:
        """Rows ``a:b`` less each row's own constant ``|x_i|^2``, with self at +inf.

        The constant does not change the order of a row, so neighbours and ranks are those of the
        true distances; leaving it out saves two passes over the chunk (one fused ``addmm``).
        """
        d = torch.addmm(self.sq.unsqueeze(0), self.x[a:b], self.x.T, alpha=-2.0)
        rows = torch.arange(b - a, device=d.device)
        d[rows, rows + a] = float("inf")
        return d

    def rows(self, a: int, b: int) -> torch.Tensor:
        """The true squared distances of rows ``a:b`` (self included, at 0 up to rounding)."""
        d = torch.addmm(self.sq.unsqueeze(0), self.x[a:b], self.x.T, alpha=-2.0)
        return d.add_(self.sq[a:b].unsqueeze(1)).clamp_min_(0)


def _median_sq_distance(x: torch.Tensor, bins: int = 4096) -> torch.Tensor:
    """Exact median of all N^2 squared distances (diagonal zeros included, as ``np.median``), in O(N) memory.

    Three passes over row chunks: the largest distance, a histogram that locates the bin of each
    middle order statistic, then only the values in those bins are kept and sorted.
    """
    n = x.shape[0]
    dist = _Distances(x)
    chunks = list(_row_chunks(n, n, x.device))
    top = max(float(dist.rows(a, b).max()) for a, b in chunks)
    if top <= 0:
        return torch.zeros((), dtype=x.dtype, device=x.device)
    scale = bins / top

    def bin_of(d):
        return (d * scale).floor_().clamp_(max=bins - 1).long()

    counts = torch.zeros(bins, dtype=torch.long, device=x.device)
    for a, b in chunks:
        counts += torch.bincount(bin_of(dist.rows(a, b)).flatten(), minlength=bins)
    cumulative = torch.cumsum(counts, 0)
    ranks = sorted({(n * n - 1) // 2, n * n // 2})  # 0-based order statistics of the median
    wanted = [int(torch.searchsorted(cumulative, torch.tensor(r, device=x.device), right=True)) for r in ranks]
    low, high = min(wanted), max(wanted)  # adjacent or equal bins: keep both in one pass
    kept = []
    for a, b in chunks:
        d = dist.rows(a, b)
        where = bin_of(d)
        kept.append(d[(where >= low) & (where <= high)])
    inside = torch.cat(kept).sort().values
    below = int(cumulative[low] - counts[low])  # values in bins under `low`
    return sum(inside[r - below] for r in ranks) / len(ranks)


def _rbf_sums(x: torch.Tensor, y: torch.Tensor, sigma_frac: float) -> tuple:
    """Row sums and Frobenius products of the two Gaussian Gram matrices, built chunk by chunk."""
    n = x.shape[0]
    med_x, med_y = _median_sq_distance(x), _median_sq_distance(y)
    if med_x <= 0 or med_y <= 0:
        raise ValueError("rbf_cka: the median pairwise distance is 0 (most points coincide)")
    dist_x, dist_y = _Distances(x), _Distances(y)
    rows_k = torch.zeros(n, dtype=x.dtype, device=x.device)
    rows_l = torch.zeros_like(rows_k)
    kl = kk = ll = torch.zeros((), dtype=x.dtype, device=x.device)
    for a, b in _row_chunks(n, n, x.device, per_row=2):
        k = torch.exp_(dist_x.rows(a, b).div_(-2 * sigma_frac ** 2 * med_x))
        l = torch.exp_(dist_y.rows(a, b).div_(-2 * sigma_frac ** 2 * med_y))
        rows_k[a:b], rows_l[a:b] = k.sum(1), l.sum(1)
        kl, kk, ll = kl + (k * l).sum(), kk + k.square().sum(), ll + l.square().sum()
    return rows_k, rows_l, kl, kk, ll


def rbf_cka(x, y, sigma_frac: float = 0.8, device="auto") -> float:
    """CKA with Gaussian kernels of bandwidth ``sigma_frac`` x the median pairwise distance.

    As in Kornblith et al. (2019), ``sigma^2 = sigma_frac^2 * median(squared distances)``, the median
    taken over all N^2 entries. The centred Gram matrices are never formed: with row sums ``K1``,
    ``<HKH, HLH> = sum(K * L) - 2/N (K1).(L1) + (1'K1)(1'L1)/N^2``, accumulated over row chunks,
    so memory grows as O(N).
    """
    if not sigma_frac > 0:
        raise ValueError(f"sigma_frac={sigma_frac!r} must be positive")
    x, y = _pair(x, y, device, torch.float64)
    n = x.shape[0]
    rows_k, rows_l, kl, kk, ll = _rbf_sums(x, y, sigma_frac)
    tk, tl = rows_k.sum(), rows_l.sum()
    cross = kl - 2 / n * (rows_k @ rows_l) + tk * tl / n ** 2
    norm_k = kk - 2 / n * (rows_k @ rows_k) + tk ** 2 / n ** 2
    norm_l = ll - 2 / n * (rows_l @ rows_l) + tl ** 2 / n ** 2
    return float(cross / torch.sqrt(norm_k * norm_l))


# --------------------------------------------------------------------------- neighbourhoods


def _k_smallest(d: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k smallest entries per row, ordered by (distance, index): ties to the lower index."""
    vals, idx = torch.topk(d, min(k + 1, d.shape[1]), dim=1, largest=False, sorted=True)
    boundary = vals[:, k - 1] == vals[:, k] if vals.shape[1] > k else torch.zeros_like(vals[:, 0], dtype=torch.bool)
    idx = idx[:, :k]
    if bool(boundary.any()):  # a tie straddles the k-th place: choose the tied points by index
        rows = boundary.nonzero().squeeze(1)
        sub = d[rows]
        kth = vals[rows, k - 1 : k]
        tied = sub == kth
        room = k - (sub < kth).sum(1, keepdim=True)
        chosen = (sub < kth) | (tied & (tied.cumsum(1) <= room))
        idx[rows] = chosen.nonzero()[:, 1].view(len(rows), k)
    # topk orders by distance only: rows with equal distances inside the k (or just re-chosen ones)
    # are put in (distance, index) order with two stable sorts
    rows = (boundary | (vals[:, 1:k] == vals[:, : k - 1]).any(1)).nonzero().squeeze(1)
    if len(rows):
        sub = idx[rows]
        sub = sub.gather(1, torch.sort(sub, dim=1, stable=True).indices)
        idx[rows] = sub.gather(1, torch.sort(d[rows].gather(1, sub), dim=1, stable=True).indices)
    return idx


def knn_indices(x, k: int, device="auto", dtype=torch.float64) -> torch.Tensor:
    """The k nearest neighbours of every point (self excluded), shape ``(N, k)``, nearest first."""
    x = _points("x", x, resolve_device(device), dtype)
    k = _check_k(k, x.shape[0])
    dist = _Distances(x)
    return torch.cat([_k_smallest(dist.ordering(a, b), k)
                      for a, b in _row_chunks(x.shape[0], x.shape[0], x.device)])


def _overlap_of_indices(ia: torch.Tensor, ib: torch.Tensor) -> float:
    k = ia.shape[1]
    shared = (ia.unsqueeze(2) == ib.unsqueeze(1)).any(2).sum(1)
    return float(shared.double().mean() / k)


def neighbourhood_overlap(x, y, k: int = 10, device="auto", dtype=torch.float64) -> float:
    """Mean fraction of each point's k nearest neighbours that are the same in ``x`` and in ``y``."""
    x, y = _pair(x, y, device, dtype)
    k = _check_k(k, x.shape[0])
    return _overlap_of_indices(knn_indices(x, k, x.device, dtype), knn_indices(y, k, y.device, dtype))


def label_overlap(x, labels, k: int = 10, device="auto", dtype=torch.float64) -> float:
    """Mean fraction of each point's k nearest neighbours in ``x`` that share its label (unweighted)."""
    dev = resolve_device(device)
    x = _points("x", x, dev, dtype)
    labels = torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels)
    if labels.shape != (x.shape[0],):
        raise ValueError(f"labels must have shape ({x.shape[0]},) to match x {tuple(x.shape)}, "
                         f"got {tuple(labels.shape)}")
    k = _check_k(k, x.shape[0])
    labels = labels.to(dev)
    idx = knn_indices(x, k, dev, dtype)
    return float((labels[idx] == labels.unsqueeze(1)).double().mean())


def _ranks_by_sorting(d: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    """Ranks of columns ``j`` (c, k) within rows of ``d`` (c, N): sort each row once, binary-search.

    The rank of ``j`` is 1 + #{l: d_l < d_j} + #{l < j: d_l == d_j} (ties to the lower index);
    self must already be +inf in ``d``. Used on GPUs, where sorting is cheap.
    """
    n = d.shape[1]
    dj = d.gather(1, j)
    ordered = torch.sort(d, dim=1).values
    closer = torch.searchsorted(ordered, dj)
    at_most = torch.searchsorted(ordered, dj, right=True)
    ranks = closer + 1
    tied = (at_most - closer) > 1  # another point at exactly the same distance: break by index
    if bool(tied.any()):
        rows, cols = tied.nonzero(as_tuple=True)
        same = d[rows] == dj[rows, cols].unsqueeze(1)
        before = torch.arange(n, device=d.device) < j[rows, cols].unsqueeze(1)
        ranks[rows, cols] += (same & before).sum(1)
    return ranks


def _rank_kernel(parallel: bool):
    """Compile (numba, cached on disk) the loop that counts, per row, the points before each neighbour."""
    import numba

    @numba.njit(parallel=parallel, cache=True)
    def count_ranks(d, j, out):
        for r in numba.prange(d.shape[0]):  # a plain range when not parallel
            row = d[r]
            for m in range(j.shape[1]):
                jm = j[r, m]
                t = row[jm]
                count = 1
                for l in range(jm):  # lower indices: a tie comes first
                    count += row[l] <= t
                for l in range(jm, row.shape[0]):
                    count += row[l] < t
                out[r, m] = count

    return count_ranks


_rank_kernels: dict = {}


def _ranks_by_counting(d: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    """The same ranks as :func:`_ranks_by_sorting`, counted in one compiled pass per neighbour.

    On a CPU counting the points closer than each of k neighbours (k vectorised passes over a
    row that sits in cache) is about 8x faster than sorting the row; compiled with numba. Rows run
    in parallel on numba's threads when called from the main thread, serially from other threads
    (numba's fallback thread pool must not be entered by two threads at once). As with torch's
    own CPU kernels, processes that use it should be started with "spawn", not forked after use.
    """
    parallel = threading.current_thread() is threading.main_thread()
    if parallel not in _rank_kernels:
        _rank_kernels[parallel] = _rank_kernel(parallel)
    out = np.empty(j.shape, dtype=np.int64)
    _rank_kernels[parallel](d.contiguous().numpy(), j.contiguous().numpy(), out)
    return torch.from_numpy(out)


def _ranks(d: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    return _ranks_by_counting(d, j) if d.device.type == "cpu" else _ranks_by_sorting(d, j)


def information_imbalance(x, y, k: int = 1, device="auto", dtype=torch.float64) -> tuple[float, float]:
    """The pair ``(Delta(x -> y), Delta(y -> x))`` with full neighbour ranks (Glielmo et al. 2022).

    ``Delta(x -> y) = 2/N * mean rank in y of the k nearest neighbours in x``: 0 when distances in
    ``x`` predict neighbourhoods in ``y`` perfectly, about 1 when they carry no information on them.
    Each chunk of distance rows is computed once per space and serves both the neighbour search
    and the ranks.
    """
    x, y = _pair(x, y, device, dtype)
    n = x.shape[0]
    k = _check_k(k, n)
    dist_x, dist_y = _Distances(x), _Distances(y)
    x_to_y = y_to_x = 0
    for a, b in _row_chunks(n, n, x.device, per_row=2):
        dx, dy = dist_x.ordering(a, b), dist_y.ordering(a, b)
        x_to_y += int(_ranks(dy, _k_smallest(dx, k)).sum())
        y_to_x += int(_ranks(dx, _k_smallest(dy, k)).sum())
    return 2 * x_to_y / (n * n * k), 2 * y_to_x / (n * n * k)


# --------------------------------------------------------------------------- layer by layer

MEASURES: dict[str, Callable] = {
    "linear_cka": linear_cka,
    "rbf_cka": rbf_cka,
    "debiased_cka": debiased_cka,
    "neighbourhood_overlap": neighbourhood_overlap,
    "information_imbalance": information_imbalance,
}


def layerwise(reps_a: Sequence, reps_b: Sequence, measure: str | Callable = "linear_cka",
              **kw) -> np.ndarray:
    """The matrix of a measure between every layer of one model and every layer of another.

    ``reps_a``/``reps_b`` are the lists returned by ``model.representations(x)`` on the same inputs.
    Returns ``(len(reps_a), len(reps_b))``; for ``information_imbalance`` the last axis holds the
    pair ``(Delta(a -> b), Delta(b -> a))``, so the shape is ``(La, Lb, 2)``. Neighbour lists are
    computed once per layer for ``neighbourhood_overlap``.
    """
    if isinstance(measure, str):
        check_known("similarity measure", measure, MEASURES)
        name, fn = measure, MEASURES[measure]
    else:
        name, fn = getattr(measure, "__name__", "custom"), measure
    if len(reps_a) == 0 or len(reps_b) == 0:
        raise ValueError("layerwise needs at least one layer on each side")
    if name == "neighbourhood_overlap":
        k = kw.pop("k", 10)
        device, dtype = kw.pop("device", "auto"), kw.pop("dtype", torch.float64)
        pairs_checked = [_pair(a, reps_b[0], device, dtype)[0] for a in reps_a]
        ia = [knn_indices(a, k, a.device, dtype) for a in pairs_checked]
        ib = [knn_indices(_pair(reps_a[0], b, device, dtype)[1], k, device, dtype) for b in reps_b]
        return np.array([[_overlap_of_indices(a, b) for b in ib] for a in ia])
    return np.array([[fn(a, b, **kw) for b in reps_b] for a in reps_a])
