"""C3: source features are not always those learned with plenty of target data, and the last hidden
layer is not always the most useful one."""
from __future__ import annotations

import pandas as pd

from ..stats import compare, replicate_clusters
from .verdict import Verdict, claim_word

__all__ = ["verdict_c3"]


def verdict_c3(table: pd.DataFrame, knob: str = "alpha", measure: str = "linear_cka") -> Verdict:
    """C3: source features are not always those learned with plenty of target data (a), and the
    last hidden layer is not always the most useful one for the target (b).

    (a): the last-block similarity between the source network and a network trained on plenty of
    target data falls, from the most similar source to the least, by more than 2 SE (paired by
    seed). (b): for some source, a linear probe on an earlier block of the source network beats the
    last block on the target by more than 2 SE. Reproduced when both hold, partly when one does.
    The SEs are over task instances when they are the replicate units.
    """
    sim = table[(table.kind == "similarity") & (table.measure == measure) & (table.data == "plenty")]
    last = int(sim.source_block.max())
    diag = sim[(sim.source_block == last) & (sim.target_block == last)].pivot_table(
        index="seed", columns=knob, values="value")
    near, far = diag.columns.min(), diag.columns.max()
    fall = compare(diag[near], diag[far], replicate_clusters(table, diag.index))
    drop, drop_sem = fall.mean, fall.sem
    a_holds = fall.word == "higher"
    probes = table[(table.kind == "probe") & (table.network == "source")]
    best, best_word = None, "tie"
    for value, g in probes.groupby(knob):
        w = g.pivot_table(index="seed", columns="source_block", values="value")
        for block in w.columns[:-1]:
            c = compare(w[block], w[w.columns[-1]], replicate_clusters(table, w.index))
            gain, gain_sem = c.mean, c.sem
            if best is None or gain - 2 * gain_sem > best[2] - 2 * best[3]:
                best, best_word = (value, int(block), gain, gain_sem), c.word
    b_holds = best_word == "higher"
    verdict = claim_word(int(a_holds) + int(b_holds), 2)
    text = (f"last-block {measure} between the source network and a plenty-data target network changes by "
            f"{-drop:+.3f} ± {drop_sem:.3f} from {knob}={near:g} to {knob}={far:g}")
    if best is not None:
        text += (f"; best earlier block over the last: block {best[1]} at {knob}={best[0]:g}, "
                 f"{best[2]:+.3f} ± {best[3]:.3f} probe accuracy")
    key = f"last-block {measure} falls by {drop:.3f} ± {drop_sem:.3f}"
    if best is not None:
        key += f"; an earlier block's probe gains {best[2]:+.3f} ± {best[3]:.3f}"
    return Verdict("C3", verdict, text, {"drop": (drop, drop_sem), "earlier_block": best}, key)
