"""C3: source features are not always those learned with plenty of target data, and the last hidden
layer is not always the most useful one."""
from __future__ import annotations

import pandas as pd

import numpy as np

from ..stats import compare, holm, one_sided_p, replicate_clusters
from .verdict import Verdict, claim_word

__all__ = ["verdict_c3", "C3_ALPHA"]

C3_ALPHA = 0.05  # family-wise level of the (source, earlier block) tests of part (b), fixed before judging


def verdict_c3(table: pd.DataFrame, knob: str = "alpha", measure: str = "linear_cka") -> Verdict:
    """C3: source features are not always those learned with plenty of target data (a), and the
    last hidden layer is not always the most useful one for the target (b).

    (a): the last-block similarity between the source network and a network trained on plenty of
    target data falls, from the most similar source to the least, by more than 2 SE (paired by
    seed). (b): for some source, a linear probe on an earlier block of the source network beats the
    last block on the target: one-sided paired tests of every (source, earlier block), Holm's
    procedure at ``C3_ALPHA`` across them (the strongest is reported). Reproduced when both hold,
    partly when one does.
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
    best, tests = None, []
    for value, g in probes.groupby(knob):
        w = g.pivot_table(index="seed", columns="source_block", values="value")
        clusters = replicate_clusters(table, w.index)
        for block in w.columns[:-1]:
            c = compare(w[block], w[w.columns[-1]], clusters)
            tests.append(one_sided_p((w[block] - w[w.columns[-1]]).to_numpy(), clusters))
            if best is None or c.mean - 2 * c.sem > best[2] - 2 * best[3]:
                best = (value, int(block), c.mean, c.sem)
    held = holm(tests, C3_ALPHA) if tests else np.array([], dtype=bool)
    b_holds = bool(held.any())
    verdict = claim_word(int(a_holds) + int(b_holds), 2)
    text = (f"last-block {measure} between the source network and a plenty-data target network changes by "
            f"{-drop:+.3f} ± {drop_sem:.3f} from {knob}={near:g} to {knob}={far:g}")
    if best is not None:
        text += (f"; best earlier block over the last: block {best[1]} at {knob}={best[0]:g}, "
                 f"{best[2]:+.3f} ± {best[3]:.3f} probe accuracy; {int(held.sum())} of {len(tests)} (source, "
                 f"earlier block) tests hold under Holm at {C3_ALPHA:g}")
    key = f"last-block {measure} falls by {drop:.3f} ± {drop_sem:.3f}"
    if best is not None:
        key += f"; an earlier block's probe gains {best[2]:+.3f} ± {best[3]:.3f}"
    return Verdict("C3", verdict, text, {"drop": (drop, drop_sem), "earlier_block": best}, key)
