"""Beyond the four claims: does one recipe, freezing or fine-tuning the transferred blocks, win everywhere?

The paper finds that it does not. :func:`verdict_freezing` reads the cells of
:func:`tlcore.claims.freeze_or_tune`: reproduced when each recipe wins some cell beyond two standard
errors, partly when one recipe wins somewhere and the other never does, not reproduced when every
cell is a tie (no recipe is shown to matter).
"""
from __future__ import annotations

import pandas as pd

from .cells import freeze_or_tune
from .verdict import Verdict, claim_word

__all__ = ["verdict_freezing", "FREEZING_STATEMENT"]

FREEZING_STATEMENT = "no single recipe, freezing or fine-tuning the transferred blocks, is best everywhere"


def verdict_freezing(table: pd.DataFrame, knob: str) -> Verdict:
    """The freeze-or-tune verdict of a map (``knob`` x ``n_target``), with the cells each recipe wins."""
    cells = freeze_or_tune(table, knob)
    sides = {side: sorted(zip(g[knob], g.n_target)) for side, g in cells.groupby("verdict")}
    wins = [s for s in ("freeze", "fine-tune") if sides.get(s)]
    verdict = claim_word(len(wins), 2)

    def where(side):
        return ", ".join(f"({knob} {a:g}, n_target {n})" for a, n in sides[side])

    if len(wins) == 2:
        text = (f"both recipes win somewhere, so neither is a safe default: freezing wins at {where('freeze')}; "
                f"fine-tuning at {where('fine-tune')}")
    elif wins:
        text = (f"{'freezing' if wins[0] == 'freeze' else 'fine-tuning'} wins at {where(wins[0])} and never loses "
                f"beyond the noise elsewhere")
    else:
        text = "every cell is a tie within two standard errors: no recipe is shown to matter here"
    counts = cells.verdict.value_counts()
    key = (f"freezing wins {int(counts.get('freeze', 0))}, fine-tuning {int(counts.get('fine-tune', 0))}, "
           f"ties {int(counts.get('tie', 0))} of {len(cells)} cells")
    return Verdict("freezing", verdict, text, {"cells": cells}, key)
