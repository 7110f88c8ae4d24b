"""Centred kernel alignment (Kornblith et al. 2019): linear, Gaussian (RBF) and debiased.

Each function takes two representations ``(N, features)`` of the same N points (tensors or
arrays; higher-rank inputs are flattened per point), runs on the GPU when present
(``device="auto"``) and returns a float in [0, 1] (the debiased one can dip below 0): 1 when the
representations agree up to rotation and isotropic scaling. ``debiased_cka`` uses the unbiased
HSIC estimator (Song et al. 2012), so independent data scores near 0 at any N.
"""
from __future__ import annotations

import torch

from ._distances import Distances, row_chunks
from .validation import check_paired_points

__all__ = ["linear_cka", "debiased_cka", "rbf_cka"]


def linear_cka(x, y, device="auto") -> float:
    """Linear CKA: ``||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)`` on column-centred features."""
    x, y = check_paired_points(x, y, device, torch.float64)
    x, y = x - x.mean(0), y - y.mean(0)
    cross = (y.T @ x).square().sum()
    return float(cross / ((x.T @ x).norm() * (y.T @ y).norm()))


def _debiased_dot(xty, rows_x, rows_y, norm_x, norm_y, n):
    # Unbiased HSIC numerator for centred features (Kornblith et al.'s feature-space form).
    return xty - n / (n - 2.0) * (rows_x @ rows_y) + norm_x * norm_y / ((n - 1) * (n - 2))


def debiased_cka(x, y, device="auto") -> float:
    """CKA with the unbiased HSIC estimator (Song et al. 2012): near 0 for independent data. N >= 4."""
    x, y = check_paired_points(x, y, device, torch.float64)
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



def _median_sq_distance(x: torch.Tensor, bins: int = 4096) -> torch.Tensor:
    """Exact median of all N^2 squared distances (diagonal zeros included, as ``np.median``), in O(N) memory.

    Three passes over row chunks: the largest distance, a histogram that locates the bin of each
    middle order statistic, then only the values in those bins are kept and sorted.
    """
    n = x.shape[0]
    dist = Distances(x)
    chunks = list(row_chunks(n, n, x.device))
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
    dist_x, dist_y = Distances(x), Distances(y)
    rows_k = torch.zeros(n, dtype=x.dtype, device=x.device)
    rows_l = torch.zeros_like(rows_k)
    kl = kk = ll = torch.zeros((), dtype=x.dtype, device=x.device)
    for a, b in row_chunks(n, n, x.device, per_row=2):
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
    x, y = check_paired_points(x, y, device, torch.float64)
    n = x.shape[0]
    rows_k, rows_l, kl, kk, ll = _rbf_sums(x, y, sigma_frac)
    tk, tl = rows_k.sum(), rows_l.sum()
    cross = kl - 2 / n * (rows_k @ rows_l) + tk * tl / n ** 2
    norm_k = kk - 2 / n * (rows_k @ rows_k) + tk ** 2 / n ** 2
    norm_l = ll - 2 / n * (rows_l @ rows_l) + tl ** 2 / n ** 2
    return float(cross / torch.sqrt(norm_k * norm_l))

