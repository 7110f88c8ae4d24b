"""C3: source features are not always those learned with plenty of target data, and the last hidden
layer is not always the most useful one."""
from __future__ import annotations

import pandas as pd

import numpy as np

from ..stats import compare, holm, intersection_union, mean_se_text, one_sided_p, replicate_clusters
from .verdict import Verdict, claim_word, verdict_across

__all__ = ["verdict_c3", "verdict_c3_across", "verdict_c3_families", "C3_FAMILIES", "C3_ALPHA", "CONTROLS"]

C3_ALPHA = 0.05  # family-wise level of the (source, earlier block) tests of part (b), fixed before judging


CONTROLS = ("untrained", "inputs")  # the generic features an expressive earlier block must beat


def _probe_table(table: pd.DataFrame, knob: str) -> pd.DataFrame:
    """Probe accuracies, one row per (knob value, seed), columns (network, block)."""
    probes = table[table.kind == "probe"]
    missing = [c for c in ("source", *CONTROLS) if c not in set(probes.network)]
    if missing:
        raise ValueError(f"the representation table has no probe rows of {missing}: it predates the controls "
                         "(an untrained network's blocks, the raw inputs); recompute it")
    return probes.pivot_table(index=[knob, "seed"], columns=["network", "source_block"], values="value")


def verdict_c3(table: pd.DataFrame, knob: str = "alpha", measure: str = "linear_cka") -> Verdict:
    """C3: source features are not always those learned with plenty of target data (a), and the
    last hidden layer is not always the most useful one for the target (b).

    (a): the last-block similarity between the source network and a network trained on plenty of
    target data falls, from the most similar source to the least, by more than 2 SE (paired by
    seed). (b): for some source, a linear probe on an earlier block of the source network beats the
    last block *and* generic features: the same block of an untrained network of the same shape,
    and the raw inputs. Each (source, earlier block) is an intersection-union test of its three
    one-sided paired tests (its p-value is their largest); Holm's procedure at ``C3_ALPHA`` runs
    across them (the strongest is reported). Reproduced when both hold, partly when one does.
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
    probes = _probe_table(table, knob)
    best, tests = None, []
    for value, w in probes.groupby(level=0):
        w = w.droplevel(0)
        clusters = replicate_clusters(table, w.index)
        top = w["source"].columns.max()
        for block in w["source"].columns[:-1]:
            here = w[("source", block)]
            rivals = {"last": w[("source", top)], "untrained": w[("untrained", block)], "inputs": w[("inputs", 0)]}
            margins = {name: compare(here, r, clusters) for name, r in rivals.items()}
            tests.append(intersection_union([one_sided_p((here - r).to_numpy(), clusters) for r in rivals.values()]))
            weakest = min(c.mean - 2 * c.sem for c in margins.values())
            if best is None or weakest > best[2]:
                best = (value, int(block), weakest, margins)
    held = holm(tests, C3_ALPHA) if tests else np.array([], dtype=bool)
    b_holds = bool(held.any())
    verdict = claim_word(int(a_holds) + int(b_holds), 2)
    text = (f"last-block {measure} between the source network and a plenty-data target network changes by "
            f"{mean_se_text(-drop, drop_sem)} from {knob}={near:g} to {knob}={far:g}")
    key = (f"last-block {measure} falls {drop:.2f} ± {drop_sem:.2f}, "
           f"{'an' if b_holds else 'no'} earlier block beats the last and generic features")
    if best is not None:
        m = best[3]
        text += (f"; the strongest earlier block: block {best[1]} at {knob}={best[0]:g}, probe accuracy "
                 f"{m['last'].text()} over the last block, {m['untrained'].text()} over the same block "
                 f"untrained, {m['inputs'].text()} over the raw inputs; {int(held.sum())} of {len(tests)} (source, earlier "
                 f"block) tests hold under Holm at {C3_ALPHA:g}")
    return Verdict("C3", verdict, text, {"drop": (drop, drop_sem), "earlier_block": best, "a": a_holds,
                                         "b": b_holds}, key)


def verdict_c3_across(verdicts: dict, labels: dict | None = None) -> Verdict:
    """One C3 verdict from several task families (:func:`tlcore.claims.verdict.verdict_across`)."""
    return verdict_across("C3", verdicts, labels)


# Where each C3 table comes from: sweep name -> (the family in words, its similarity knob).
C3_FAMILIES = {"representations_chmm": ("the hidden-manifold model", "teacher_mix", "hidden manifold"),
               "representations": ("the hierarchical teacher", "alpha", "teacher")}


def verdict_c3_families(tables: dict, measure: str = "linear_cka") -> Verdict:
    """C3 on the hidden-manifold model (the model of C1 and C2) and the hierarchical teacher."""
    verdicts = {f"{where} ({knob})": verdict_c3(tables[name], knob, measure)
                for name, (where, knob, _) in C3_FAMILIES.items()}
    return verdict_c3_across(verdicts, {f"{where} ({knob})": short for where, knob, short in C3_FAMILIES.values()})
