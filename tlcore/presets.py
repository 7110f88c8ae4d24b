"""The sizes the book runs at, in one place: quick (a 2-core CPU, minutes) and paper-like.

Every chapter takes ``quick`` as a parameter and asks :func:`sizes` for its training settings and
its task family's data sizes, so both modes are one parameter away and no chapter repeats them.
The quick sizes keep the shapes of the experiments (the same knobs, protocols and target sizes)
with smaller networks, shorter training and smaller data pools.
"""
from __future__ import annotations

__all__ = ["sizes", "SIZES"]

_SYNTHETIC = {
    "quick": dict(width=32, depth=3, source_steps=800, steps=200,
                  n_source=4000, n_target_pool=3000, n_test=1000),
    "paper": dict(width=128, depth=4, source_steps=2000, steps=500,
                  n_source=20000, n_target_pool=3000, n_test=5000),
}

SIZES = {
    "teacher": _SYNTHETIC,
    "hidden_manifold": _SYNTHETIC,
    "mnist1d": {  # a 1-D CNN (see experiments.default_model_kind)
        "quick": dict(width=16, depth=3, source_steps=800, steps=250, num_samples=4000),
        "paper": dict(width=32, depth=3, source_steps=3000, steps=600, num_samples=10000),
    },
    "mnist": {  # 28x28 images and the ResNet-18 shape (9 blocks, 17 conv layers); the data size is fixed
        "quick": dict(width=4, depth=9, source_steps=500, steps=60, lr=3e-3, batch_size=16),
        # paper: twice quick's width and longer training, sized so the 1,140 networks of the images
        # sweep (5 instances x 2 seeds) fit what is left of the 3-h paper-scale budget on 2 cores
        "paper": dict(width=8, depth=9, source_steps=800, steps=120, lr=3e-3, batch_size=32),
    },
    "digits": {  # 1,797 images: the data size is fixed
        "quick": dict(width=64, depth=3, source_steps=800, steps=250),
        "paper": dict(width=128, depth=4, source_steps=2000, steps=500),
    },
}

_DATA_KEYS = {"n_source", "n_target_pool", "n_test", "num_samples"}


def sizes(quick: bool, family: str = "hidden_manifold", part: str = "all") -> dict:
    """Training settings and data sizes of ``family`` in quick or paper mode.

    ``part="all"`` gives both (what :func:`tlcore.sweep.run` takes), ``"training"`` only the
    network and optimisation settings, ``"data"`` only the family's data sizes.
    """
    if family not in SIZES:
        raise ValueError(f"unknown task family {family!r}; expected one of {sorted(SIZES)}")
    if part not in ("all", "training", "data"):
        raise ValueError(f"part={part!r}; expected 'all', 'training' or 'data'")
    chosen = dict(SIZES[family]["quick" if quick else "paper"])
    if part == "training":
        return {k: v for k, v in chosen.items() if k not in _DATA_KEYS}
    if part == "data":
        return {k: v for k, v in chosen.items() if k in _DATA_KEYS}
    return chosen
