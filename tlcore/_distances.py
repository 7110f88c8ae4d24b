"""Squared Euclidean distances of point clouds, computed in row chunks (the shared helper of
the CKA and neighbourhood measures).

Memory is O(chunk x N), never O(N^2). On a CPU a chunk that stays in the last-level cache (8 MB in
float64) is about 2.5x faster end to end than a large one (benchmarks/similarity.py); a GPU wants
large launches.
"""
from __future__ import annotations

import torch

_CHUNK_ELEMENTS = {"cpu": 2 ** 20, "accelerator": 2 ** 25}


def row_chunks(n_rows: int, n_cols: int, device: torch.device, per_row: int = 1):
    budget = _CHUNK_ELEMENTS["cpu" if device.type == "cpu" else "accelerator"]
    size = max(1, budget // max(1, n_cols * per_row))
    for start in range(0, n_rows, size):
        yield start, min(n_rows, start + size)


class Distances:
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

