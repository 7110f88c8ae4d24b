"""Choices each network makes on its own validation data: when to stop, which training variant.

A stopping step or a learning-rate scale chosen per network on validation is part of the training
recipe, not of the protocol comparison. :func:`tlcore.experiments.depth_sweep` (``checkpoints=``)
chooses the stopping step on one half of each network's validation set and scores it on the other;
the same half decides here between variants of a sweep (for example the transferred blocks'
learning-rate scale 1 or 0.1). The result is an ordinary table (one row per network, ``val_acc`` and
``test_acc``), so every chooser, cross-fitted or not, reads it unchanged, and the validation score it
chooses a protocol on carries no luck from these per-network choices.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

__all__ = ["STOPPED_COLUMNS", "early_stopped", "choose_variant"]

STOPPED_COLUMNS = ("stop_step", "pick_acc_stopped", "val_acc_stopped", "test_acc_stopped")
_SCORES = {"val_acc", "test_acc", *STOPPED_COLUMNS}


def early_stopped(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``val_acc`` and ``test_acc`` of each network taken at its early-stopping step.

    Needs the columns of a sweep run with ``checkpoints`` (:data:`STOPPED_COLUMNS`); ``stop_step`` and
    ``pick_acc_stopped`` are kept, so a variant can still be chosen per network afterwards."""
    missing = [c for c in STOPPED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"early_stopped: the table has no {missing} columns; run the sweep with checkpoints")
    out = table.copy()
    out["val_acc"], out["test_acc"] = table["val_acc_stopped"], table["test_acc_stopped"]
    return out.drop(columns=["val_acc_stopped", "test_acc_stopped"])


def choose_variant(variants: Mapping[object, pd.DataFrame], column: str = "variant") -> pd.DataFrame:
    """Per network, the variant whose early-stopped accuracy on the choosing half of its validation set
    (``pick_acc_stopped``) is highest; ties go to the first variant given.

    ``variants`` maps a label to a table from :func:`early_stopped` over the same networks (the same
    cells, protocols and seeds in any order). Returns one row per network with the chosen variant's
    scores and its label in ``column``."""
    labels = list(variants)
    if len(labels) < 2:
        raise ValueError(f"choose_variant: {len(labels)} variant(s); give at least two")
    frames = [variants[label] for label in labels]
    for label, f in zip(labels, frames):
        if "pick_acc_stopped" not in f.columns:
            raise ValueError(f"choose_variant: variant {label!r} has no pick_acc_stopped column; pass early_stopped tables")
    key = [c for c in frames[0].columns if c not in _SCORES and c != "source_test_acc"]
    aligned = [f.set_index(key).sort_index() for f in frames]
    for label, f in zip(labels[1:], aligned[1:]):
        if not f.index.equals(aligned[0].index):
            raise ValueError(f"choose_variant: variant {label!r} does not hold the same networks as {labels[0]!r}")
    picks = np.stack([f["pick_acc_stopped"].to_numpy() for f in aligned])
    best = np.argmax(picks, axis=0)  # first maximum: the first variant given wins ties
    out = aligned[0].copy()
    for i, f in enumerate(aligned[1:], start=1):
        rows = best == i
        out.loc[rows, f.columns] = f.loc[rows, f.columns].to_numpy()
    out[column] = [labels[i] for i in best]
    return out.reset_index()
