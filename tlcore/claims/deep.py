"""Where the best transfer depth sits in a deep network, per family of protocols.

The paper's one known figure (a ResNet-18, 17 conv layers) peaks at depth 13 of 17; a 4-block MLP has
3 interior depths, too few to place an optimum. :func:`optimum_depths` reads a deeper network's
sweep (:func:`tlcore.claims.deep_sweep`) and says, per cell and family, which depth the cross-fitted
choice lands on and what fraction of the network that is.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from .cells import cross_fitted_cells

__all__ = ["DEPTH_FAMILIES", "optimum_depths"]

# The families whose optimum is placed: fine-tuned (l, 0) and frozen (l, l), scratch (0, 0) in both.
DEPTH_FAMILIES = {"fine-tuned": "fine-tuned (l, 0)", "frozen": "frozen (l, l)"}


def optimum_depths(table: pd.DataFrame, knob: str) -> pd.DataFrame:
    """Per cell (knob value, n_target) and family: the transfer depth chosen by cross-fitting.

    Each fold (one task instance held out, :func:`tlcore.claims.cross_fitted_cells`) picks the
    family's protocol with the best validation accuracy on the other instances. Columns ``knob``,
    ``n_target``, ``family``, ``depth`` (the median of the folds' chosen depths), ``depth_low`` and
    ``depth_high`` (their range), ``agree`` (folds choosing the most common depth, of ``folds``),
    ``fraction`` (``depth / L``) and ``score``/``score_sem`` (the held-out test accuracy of the folds'
    choices, mean and SE over the held-out units).
    """
    L = int(table.transfer_depth.max())
    if L < 1:
        raise ValueError("the table has no transferred protocol (transfer_depth is 0 everywhere)")
    rows = []
    for name, family in DEPTH_FAMILIES.items():
        for r in cross_fitted_cells(table, knob, family).itertuples(index=False):
            r = r._asdict()
            depths = np.array([w[0] for w in r["cf_winners"]])
            depth = float(np.median(depths))
            rows.append({knob: r[knob], "n_target": r["n_target"], "family": name, "depth": depth,
                         "depth_low": int(depths.min()), "depth_high": int(depths.max()),
                         "agree": Counter(depths.tolist()).most_common(1)[0][1], "folds": len(depths),
                         "fraction": depth / L, "score": r["cf_score"], "score_sem": r["cf_score_sem"]})
    return pd.DataFrame(rows)
