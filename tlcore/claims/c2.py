"""C2: transferring only the first layers often beats both scratch and full transfer."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats import benjamini_hochberg, intersection_union, mean_se_text, one_sided_p, replicate_unit
from .cells import held_out_differences, held_out_winners, protocol_tables
from .verdict import Verdict, claim_word

__all__ = ["verdict_c2", "OFTEN", "FDR_Q", "c2_tests", "c2_controlled_text", "verdict_c2_controlled"]

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
                     f"{mean_se_text(*x['over_scratch'])} over scratch, "
                     f"{mean_se_text(*x['over_standard'])} over (L, L), "
                     f"{mean_se_text(*x['over_fine_tune'])} over (L, 0))")
        parts.append(text)
    key = ", ".join(f"{e['c2_cells']} of {e['cells']} cells ({knob})" for knob, e in numbers.items())
    return Verdict("C2", verdict, "; ".join(parts), numbers, key)


FDR_Q = 0.10  # the false discovery rate at which a map's C2 cells are controlled, fixed before any map was judged


def c2_tests(table: pd.DataFrame, knob: str, q: float = FDR_Q, folds="leave-one-out",
             unit: str | None = None) -> pd.DataFrame:
    """C2 cell by cell with the winner's luck removed and the error rate controlled across the map.

    The replicate units (task instances when there are enough, else training seeds:
    :func:`tlcore.stats.replicate_unit`, or ``unit``) are split into ``folds`` (default: leave one
    unit out). Each fold's winner is the protocol of best mean validation accuracy on the *other*
    folds; its test accuracy on the held-out replicates is paired with scratch (0, 0) and with every
    full transfer (L, f), f = 0..L (the linear probe and fine-tuning included). The held-out
    differences of all folds together give one one-sided p-value per alternative (over task
    instances when they are the units), combined by the intersection-union test (the largest). A
    cell whose winner is not interior (0 < transfer depth < L) in every fold gets 1. Cells at knob = 0
    (the source task itself) are reported but not counted; Benjamini-Hochberg at ``q`` runs over the
    counted cells. Columns: ``knob``, ``n_target``, ``winners`` (one per fold), ``p``, ``counted``,
    ``adjusted``, ``c2`` (discovered), ``unit``.
    """
    L = int(table.transfer_depth.max())
    alternatives = [(0, 0)] + [(L, f) for f in range(L + 1)]
    unit = unit or replicate_unit(table)
    rows = []
    index = ["task_seed", "seed"] if "task_seed" in table.columns else ["seed"]
    for (value, n), wide in protocol_tables(table, [knob, "n_target"], index):
        val, test = wide["val_acc"], wide["test_acc"]
        units = val.index.get_level_values(unit).to_numpy()
        clusters = units if unit == "task_seed" else None
        fitted = held_out_winners(val, units, folds)
        winners = [w for _, w in fitted]
        if all(0 < w[0] < L for w in winners):
            p = intersection_union([one_sided_p(held_out_differences(test, fitted, a), clusters=clusters)
                                    for a in alternatives if a in test.columns])
        else:
            p = 1.0
        rows.append({knob: value, "n_target": n, "winners": winners, "p": p, "counted": value != 0, "unit": unit})
    out = pd.DataFrame(rows)
    out["adjusted"], out["c2"] = np.nan, False
    counted = out.counted.to_numpy()
    if counted.any():
        discovered, adjusted = benjamini_hochberg(out.p[counted].to_numpy(), q)
        out.loc[counted, "adjusted"], out.loc[counted, "c2"] = adjusted, discovered
    return out


def c2_controlled_text(tests: dict[str, pd.DataFrame], q: float = FDR_Q) -> str:
    """One sentence per map: how many counted cells remain C2 cells under the cross-fitted IUT and BH."""
    parts = []
    for knob, t in tests.items():
        smallest = t[t.counted].p.min()
        parts.append(f"{knob}: {int(t.c2.sum())} of {int(t.counted.sum())} cells (smallest cell p-value "
                     f"{smallest:.3f})")
    return "; ".join(parts) + f" at a false discovery rate of {q:g}"


def verdict_c2_controlled(tables: dict[str, pd.DataFrame], q: float = FDR_Q, **options) -> Verdict:
    """C2 from :func:`c2_tests`: the share of a map's counted cells that remain C2 cells with the
    winner cross-fitted, tested against scratch and every full transfer, and the false discovery rate
    controlled at ``q`` (``options``: the folds and unit of :func:`c2_tests`). Reproduced when that share reaches ``OFTEN`` in some map, partly when some cell
    remains, not reproduced when none does."""
    tests = {knob: c2_tests(t, knob, q, **options) for knob, t in tables.items()}
    share = max(float(t.c2.sum()) / max(1, int(t.counted.sum())) for t in tests.values())
    verdict = claim_word(int(share > 0) + int(share >= OFTEN), 2)
    key = ", ".join(f"{int(t.c2.sum())} of {int(t.counted.sum())} cells ({knob})" for knob, t in tests.items())
    return Verdict("C2", verdict, c2_controlled_text(tests, q), {"tests": tests}, key)
