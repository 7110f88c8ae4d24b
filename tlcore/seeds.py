"""The one seed convention of tlcore: every random draw has its own generator, named by keys.

A draw is identified by a tuple of keys that says what it is for, for example
``(seed, "source-init")`` for the initial weights of a source network or ``(task_seed, "teacher")``
for the teacher of a task family. Keys are non-negative integers or short strings. The same keys
give the same numbers in any thread, process, Dask worker or machine; two different tuples give
independent streams (NumPy's ``SeedSequence`` mixes them). No code in tlcore reads or sets torch's
or NumPy's global random state, so cells computed side by side cannot disturb each other.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["derive_seed", "torch_generator", "numpy_generator"]


def _entropy(keys) -> list[int]:
    out = []
    for k in keys:
        if isinstance(k, (bool, np.bool_)):
            raise TypeError(f"seed key {k!r} must be an integer or a string, not a bool")
        if isinstance(k, (int, np.integer)):
            if k < 0:
                raise ValueError(f"seed key {k!r} must be non-negative")
            out.append(int(k))
        elif isinstance(k, str):
            out.append(int.from_bytes(k.encode(), "little"))
        else:
            raise TypeError(f"seed key {k!r} must be an integer or a string, got {type(k).__name__}")
    return out


def derive_seed(*keys) -> int:
    """A 31-bit seed for a tuple of keys (fits every library's seed argument, scikit-learn's too)."""
    if not keys:
        raise ValueError("derive_seed needs at least one key")
    return int(np.random.SeedSequence(_entropy(keys)).generate_state(1)[0] >> 1)


def torch_generator(*keys, device="cpu") -> torch.Generator:
    """A fresh ``torch.Generator`` seeded from ``keys`` (see :func:`derive_seed`)."""
    return torch.Generator(device=device).manual_seed(derive_seed(*keys))


def numpy_generator(*keys) -> np.random.Generator:
    """A fresh ``numpy.random.Generator`` seeded from ``keys``."""
    return np.random.default_rng(np.random.SeedSequence(_entropy(keys)))
