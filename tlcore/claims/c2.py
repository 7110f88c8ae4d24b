"""C2: transferring only the first layers often beats both scratch and full transfer."""
from __future__ import annotations

import pandas as pd

from .verdict import Verdict, claim_word

__all__ = ["verdict_c2", "OFTEN"]

OFTEN = 1 / 6  # the share of a map's cells that makes "often", fixed before any map was judged


def verdict_c2(cells: dict[str, pd.DataFrame]) -> Verdict:
    """C2: transferring only the first layers often beats both scratch and full transfer.

    Per map, the cells whose validation-chosen protocol is interior and beats scratch, (L, L) and
    (L, 0) on test by more than two standard errors each. Reproduced when such cells make at least
    ``OFTEN`` (a sixth) of a map, partly when there is at least one, not reproduced otherwise.
    """
    numbers, share = {}, 0.0
    for knob, c in cells.items():
        hits = c[c.c2]
        entry = {"cells": int(len(c)), "c2_cells": int(len(hits))}
        if len(hits):
            margin = hits[["scratch_margin", "standard_margin", "fine_tune_margin"]].min(axis=1)
            top = hits.loc[margin.idxmax()]
            entry.update(example={knob: float(top[knob]), "n_target": int(top.n_target),
                                  "protocol": (int(top.best_transfer_depth), int(top.best_frozen_depth)),
                                  "over_scratch": (float(top.scratch_margin), float(top.scratch_sem)),
                                  "over_standard": (float(top.standard_margin), float(top.standard_sem)),
                                  "over_fine_tune": (float(top.fine_tune_margin), float(top.fine_tune_sem))})
        numbers[knob] = entry
        share = max(share, len(hits) / len(c))
    verdict = claim_word(int(share > 0) + int(share >= OFTEN), 2)
    parts = []
    for knob, e in numbers.items():
        text = f"{knob}: {e['c2_cells']} of {e['cells']} cells"
        if "example" in e:
            x = e["example"]
            text += (f" (strongest: {knob}={x[knob]:g}, n_target={x['n_target']}, protocol {x['protocol']}, "
                     f"{x['over_scratch'][0]:+.3f} ± {x['over_scratch'][1]:.3f} over scratch, "
                     f"{x['over_standard'][0]:+.3f} ± {x['over_standard'][1]:.3f} over (L, L), "
                     f"{x['over_fine_tune'][0]:+.3f} ± {x['over_fine_tune'][1]:.3f} over (L, 0))")
        parts.append(text)
    return Verdict("C2", verdict, "; ".join(parts), numbers)
