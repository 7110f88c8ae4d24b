"""Calibrated similarity profiles: how far up a source network do the target's features reach?

A layer-by-layer similarity between a source network and a network trained from scratch on the
target means little on its own: two networks trained on the *same* data from different seeds do
not agree perfectly either, and even an untrained network scores well above zero on most
measures. So every profile comes with references, networks compared with the same scratch
network on the same probe inputs:

- ``"twin"``: a network trained on the same target examples from another initialisation, the
  seed-to-seed baseline a user can always compute;
- ``"reference"``: a network trained on the target *task* with the source's own budget, from
  another seed: the profile an identical source would have (computable only in a controlled set-up);
- ``"floor"``: an untrained network of the same architecture: no shared features at all.

:func:`divergence_depth` counts the blocks, from the input, where the source recovers most of the
distance from the floor to a baseline, and :func:`predict_protocol` turns that count into a
protocol without training any candidate. Nothing here trains a network.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from .models import BlockModel
from .similarity import layerwise
from .transfer import Protocol
from .validation import as_tensor, check_int

__all__ = ["block_similarity", "calibrated_profile", "depths_from_curves", "divergence_depth", "normalised_profile",
           "predict_protocol", "recovered_fraction"]


def block_similarity(reps_a: Sequence, reps_b: Sequence, measure: str, k: int = 10) -> np.ndarray:
    """The measure between block ``l`` of one network and block ``l`` of another, for every ``l``."""
    if len(reps_a) != len(reps_b):
        raise ValueError(f"profiles compare networks of equal depth, got {len(reps_a)} and {len(reps_b)} blocks")
    return np.array([layerwise([a], [b], measure, k=k)[0, 0] for a, b in zip(reps_a, reps_b)])


@torch.no_grad()
def calibrated_profile(source: BlockModel, scratch: Sequence[BlockModel], references: Mapping[str, Sequence[BlockModel]],
                       probe_x, measure: str, k: int = 10) -> pd.DataFrame:
    """The source's profile and its references' profiles, one row per (pair, curve, block).

    Pair ``i`` is ``scratch[i]`` (a network trained on the target); the source and
    ``references[name][i]`` for every name (e.g. ``"twin"``, ``"reference"``, ``"floor"``) are each
    compared with it, block ``l`` with block ``l``. The curves of a pair share its scratch network,
    so differences between curves are paired by ``pair``. Columns: ``pair``, ``curve`` (``"source"``
    or a reference's name), ``block`` (1 = nearest the input), ``value`` (higher = more alike).
    """
    if not scratch:
        raise ValueError("no scratch networks given")
    for name, nets in references.items():
        if name == "source" or len(nets) != len(scratch):
            raise ValueError(f"reference {name!r}: need one network per scratch network ({len(scratch)}), "
                             f"got {len(nets)}" if name != "source" else "'source' cannot name a reference")
    probe = as_tensor("probe_x", probe_x)
    source_reps = source.representations(probe)
    rows = []
    for i, net in enumerate(scratch):
        reps = net.representations(probe)
        others = {"source": source_reps, **{name: nets[i].representations(probe) for name, nets in references.items()}}
        for curve, other in others.items():
            values = block_similarity(other, reps, measure, k)
            rows += [{"pair": i, "curve": curve, "block": b, "value": float(v)} for b, v in enumerate(values, 1)]
    return pd.DataFrame(rows)


def _mean_curve(profile: pd.DataFrame, curve: str) -> np.ndarray:
    """The curve's mean over pairs, one value per block."""
    missing = {"pair", "curve", "block", "value"} - set(profile.columns)
    if missing:
        raise ValueError(f"a profile needs the columns pair, curve, block, value; missing {sorted(missing)}")
    rows = profile[profile.curve == curve]
    if rows.empty:
        raise ValueError(f"the profile has no {curve!r} curve; it has {sorted(profile.curve.unique())}")
    return rows.groupby("block").value.mean().sort_index().to_numpy()


def recovered_fraction(source, baseline, floor) -> np.ndarray:
    """How much of the floor-to-baseline gap the source recovers: ``(source - floor) / (baseline - floor)``,
    elementwise; NaN where the baseline is not above the floor."""
    source, baseline, floor = (np.asarray(v, dtype=float) for v in (source, baseline, floor))
    gap = baseline - floor
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(gap > 0, (source - floor) / np.where(gap > 0, gap, 1.0), np.nan)


def normalised_profile(profile: pd.DataFrame, baseline: str = "twin", floor: str = "floor") -> np.ndarray:
    """Per block, where the source sits between the floor (0) and the baseline (1), from pair means.

    ``(source - floor) / (baseline - floor)``; a block whose baseline is not above its floor (the
    measure cannot tell trained from untrained features there) gets NaN.
    """
    s, b, f = (_mean_curve(profile, c) for c in ("source", baseline, floor))
    if not len(s) == len(b) == len(f):
        raise ValueError("the source, baseline and floor curves cover different blocks")
    return recovered_fraction(s, b, f)


def depths_from_curves(source, baseline, floor, level: float = 0.5) -> np.ndarray:
    """The rule of :func:`divergence_depth` on mean curves of shape ``(..., blocks)``, one depth per row."""
    if not 0 < level <= 1.5:
        raise ValueError(f"level={level!r} must lie in (0, 1.5] (a fraction of the floor-to-baseline gap)")
    # a block where the baseline is not above the floor holds no evidence against the source: it matches
    matches = np.nan_to_num(recovered_fraction(source, baseline, floor), nan=np.inf) >= level
    return np.where(matches.all(axis=-1), matches.shape[-1], np.argmin(matches, axis=-1))


def divergence_depth(profile: pd.DataFrame, baseline: str = "twin", floor: str = "floor", level: float = 0.5) -> int:
    """How many blocks, from the input, the source's features stay close to the target's own.

    Block ``l`` matches when the source recovers at least ``level`` of the distance from the floor
    to the baseline (:func:`normalised_profile` >= ``level``); ``level=1`` asks for the baseline
    itself. The count stops at the first block that does not match, as a protocol transfers a
    prefix. A block where the baseline does not rise above the floor (the scratch network learned
    nothing there that the measure can see, as with very few target examples) holds no evidence
    against the source, and matches.
    """
    s, b, f = (_mean_curve(profile, c) for c in ("source", baseline, floor))
    return int(depths_from_curves(s, b, f, level))


def predict_protocol(profile: pd.DataFrame, baseline: str = "twin", floor: str = "floor", level: float = 0.5,
                     freeze: bool = True) -> Protocol:
    """The protocol a profile recommends: transfer the matching blocks (:func:`divergence_depth`).

    ``freeze=True`` keeps them fixed, ``(d, d)``, the paper's transfer-and-freeze family;
    ``freeze=False`` fine-tunes them, ``(d, 0)``. A source that matches nowhere gives scratch
    training ``(0, 0)``; one that matches at every block gives ``(L, L)`` (or ``(L, 0)``).
    """
    d = check_int("depth", divergence_depth(profile, baseline, floor, level), low=0)
    return Protocol(d, d if freeze else 0)
