"""Input checks shared by the public entry points.

Validate once where the user calls in, with a message that names the offending value,
then let the inner code assume clean inputs.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import torch


def check_range(name: str, value, low, high) -> None:
    """Raise ValueError unless ``low <= value <= high`` (and value is a finite number)."""
    try:
        ok = math.isfinite(float(value)) and low <= value <= high
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not ok:
        raise ValueError(f"{name}={value!r} is out of range [{low}, {high}]")


def check_int(name: str, value, low: int = 0, high: int | None = None) -> int:
    """Return ``value`` as int, raising if it is not an integer in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name}={value!r} is out of range {bound}")
    return int(value)


def check_positive(name: str, value, zero_ok: bool = False) -> float:
    """``value`` as float, raising unless it is a finite number > 0 (>= 0 with ``zero_ok``).

    A training setting such as ``lr=inf`` or ``weight_decay=nan`` trains networks that predict one
    class, which look like results: refused where they enter, like any bad argument."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not zero_ok):
        raise ValueError(f"{name}={value!r} must be a finite {'non-negative' if zero_ok else 'positive'} number")
    return v


def check_known(kind: str, name: str, known: Iterable[str]) -> None:
    """Raise ValueError for a name that is not among the known ones, listing them."""
    known = list(known)
    if name not in known:
        raise ValueError(f"unknown {kind} {name!r}; expected one of {sorted(known)}")


def as_tensor(name: str, x, device=None, dtype=torch.float32) -> torch.Tensor:
    """A float tensor from an array or tensor, rejecting NaN and inf values, complex numbers (whose
    imaginary part a cast would drop) and finite values too large for ``dtype`` (which a cast would
    turn into inf)."""
    src = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if src.is_complex():
        raise ValueError(f"{name} holds complex numbers ({src.dtype}); real values are needed")
    t = src.to(device=device, dtype=dtype)
    # A NaN or inf makes the sum non-finite, so one cheap reduction clears finite data; only then
    # (or when a sum of huge values overflows) are the bad entries counted.
    if t.numel() and not bool(torch.isfinite(t.sum())):
        bad = int((~torch.isfinite(t)).sum())
        given = int((~torch.isfinite(src)).sum()) if src.is_floating_point() else 0
        if given:
            raise ValueError(f"{name} holds {given} NaN or inf value(s)")
        if bad:
            largest = float(src[torch.isfinite(src)].abs().max())
            raise ValueError(f"{name} holds {bad} value(s) too large for {str(dtype).replace('torch.', '')} "
                             f"(up to {largest:.3g}, the limit is {torch.finfo(dtype).max:.3g}); rescale them")
    return t


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when present, else the CPU; ``"cpu"`` and ``"cuda[:N]"`` are checked.

    An unknown name or a CUDA device on a machine without one is a ValueError, not a late crash.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"unknown device {device!r}; expected 'auto', 'cpu' or 'cuda[:N]'") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {str(device)!r} was asked for, but CUDA is not available on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(device)!r} does not exist: {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type != "cpu":
        raise ValueError(f"unsupported device {str(device)!r}; expected 'auto', 'cpu' or 'cuda[:N]'")
    return dev


def check_points(name: str, x, device, dtype) -> torch.Tensor:
    """Points ``(N, features)`` as a tensor (higher-rank inputs flattened per point), finite."""
    t = as_tensor(name, x, device=device, dtype=dtype)
    if t.ndim < 2:
        raise ValueError(f"{name} must have shape (N, features), got {tuple(t.shape)}")
    return t.reshape(t.shape[0], -1)


def check_paired_points(x, y, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Two representations of the same N >= 2 points, on one resolved device."""
    dev = resolve_device(device)
    x, y = check_points("x", x, dev, dtype), check_points("y", y, dev, dtype)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must hold the same points: x has {x.shape[0]} rows "
                         f"{tuple(x.shape)}, y has {y.shape[0]} {tuple(y.shape)}")
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 points, got {x.shape[0]}")
    return x, y


def check_k(k, n) -> int:
    """A neighbourhood size ``1 <= k < N``."""
    check_int("k", k, low=1)
    if k >= n:
        raise ValueError(f"k={k} must be smaller than the number of points N={n}")
    return int(k)
