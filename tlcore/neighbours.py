"""Neighbourhood measures: do two representations of the same points agree on who is close to whom?

* ``neighbourhood_overlap``: the mean fraction of each point's k nearest neighbours that are the
  same in both representations (Doimo et al. 2020); ``label_overlap``: the fraction that share the
  point's label.
* ``information_imbalance``: Delta(A -> B) = (2/N) <rank in B of the k nearest neighbours in A>
  (Glielmo et al. 2022): near 0 when A's distances predict B's neighbourhoods, near 1 when they
  carry no information on them. It is asymmetric: Delta(A -> B) small and Delta(B -> A) large
  means A contains the information of B, and more.

Neighbourhoods exclude the point itself and are found with exact distances computed in chunks of
rows (``tlcore._distances``). Ties in distance go to the lower index, so results are
deterministic. Distances are computed in float64 by default so that ranks agree with exact
references; pass ``dtype=torch.float32`` for speed on large GPU problems.
"""
from __future__ import annotations

import threading

import numpy as np
import torch

from ._distances import Distances, row_chunks
from .validation import check_k, check_paired_points, check_points, resolve_device

__all__ = ["knn_indices", "overlap_of_indices", "neighbourhood_overlap", "label_overlap",
           "information_imbalance"]


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
    x = check_points("x", x, resolve_device(device), dtype)
    k = check_k(k, x.shape[0])
    dist = Distances(x)
    return torch.cat([_k_smallest(dist.ordering(a, b), k)
                      for a, b in row_chunks(x.shape[0], x.shape[0], x.device)])


def overlap_of_indices(ia: torch.Tensor, ib: torch.Tensor) -> float:
    k = ia.shape[1]
    shared = (ia.unsqueeze(2) == ib.unsqueeze(1)).any(2).sum(1)
    return float(shared.double().mean() / k)


def neighbourhood_overlap(x, y, k: int = 10, device="auto", dtype=torch.float64) -> float:
    """Mean fraction of each point's k nearest neighbours that are the same in ``x`` and in ``y``."""
    x, y = check_paired_points(x, y, device, dtype)
    k = check_k(k, x.shape[0])
    return overlap_of_indices(knn_indices(x, k, x.device, dtype), knn_indices(y, k, y.device, dtype))


def label_overlap(x, labels, k: int = 10, device="auto", dtype=torch.float64) -> float:
    """Mean fraction of each point's k nearest neighbours in ``x`` that share its label (unweighted)."""
    dev = resolve_device(device)
    x = check_points("x", x, dev, dtype)
    labels = torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels)
    if labels.shape != (x.shape[0],):
        raise ValueError(f"labels must have shape ({x.shape[0]},) to match x {tuple(x.shape)}, "
                         f"got {tuple(labels.shape)}")
    k = check_k(k, x.shape[0])
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
    x, y = check_paired_points(x, y, device, dtype)
    n = x.shape[0]
    k = check_k(k, n)
    dist_x, dist_y = Distances(x), Distances(y)
    x_to_y = y_to_x = 0
    for a, b in row_chunks(n, n, x.device, per_row=2):
        dx, dy = dist_x.ordering(a, b), dist_y.ordering(a, b)
        x_to_y += int(_ranks(dy, _k_smallest(dx, k)).sum())
        y_to_x += int(_ranks(dx, _k_smallest(dy, k)).sum())
    return 2 * x_to_y / (n * n * k), 2 * y_to_x / (n * n * k)

