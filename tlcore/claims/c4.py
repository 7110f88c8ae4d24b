"""C4: representation similarity to a scratch target network finds the best source."""
from __future__ import annotations

import pandas as pd

from ..presets import sizes
from ..analysis import paired_quality_difference, quality_intervals, selection_quality
from ..selection import UNTRAINED
from ..transferability import BASELINES
from .sweeps import SELECTION_MEASURES, SELECTION_SETTING
from .verdict import Verdict, claim_word

__all__ = ["selection_setting", "verdict_c4", "verdict_c4_across", "verdict_c4_benchmarks", "mnist1d_setting", "C4_ALPHA"]

C4_ALPHA = 0.05  # the verdict's error rate for "better than chance", Bonferroni-split over the measures compared


def mnist1d_setting(quick: bool) -> dict:
    """The MNIST-1D benchmark's base scoring setting: the paper's (``SELECTION_SETTING``) with the
    scratch networks trained as long as the chapter's target networks."""
    return {**SELECTION_SETTING, "scratch_steps": sizes(quick, "mnist1d")["steps"]}


def selection_setting(table: pd.DataFrame, setting: dict | None = None) -> pd.DataFrame:
    """The rows of one scoring setting (probe size, k, aggregate, scratch training length).

    ``setting`` maps columns to values; ``n_probe="n_target"`` selects the probe of the target's own
    training inputs. Columns left out keep their first value, so the result holds one setting."""
    setting = dict(SELECTION_SETTING if setting is None else setting)
    out = table
    for column in ("scratch_steps", "n_probe", "k", "aggregate"):
        if column not in out.columns:
            continue
        value = setting.get(column, None)
        if column == "n_probe" and value == "n_target":
            out = out[out.n_probe == out.n_target]
        elif value is None:
            out = out[out[column] == out[column].iloc[0]]
        else:
            out = out[out[column] == value]
        if out.empty:
            raise ValueError(f"no rows for {column}={value!r}; the table has {sorted(table[column].unique())}")
    return out


def verdict_c4(selection: pd.DataFrame, representation_measures=tuple(SELECTION_MEASURES),
               baselines=tuple(BASELINES), setting: dict | None = None, n_boot: int = 2000) -> Verdict:
    """C4: representation similarity to a scratch target network finds the best source.

    Tie-aware ranking quality (:func:`tlcore.selection.selection_quality`: the ground truth is each
    candidate's mean accuracy over seeds, sources within 2 SE share a rank) in one scoring
    ``setting`` (default ``SELECTION_SETTING``), averaged over target sizes, with 95% bootstrap
    intervals over task instances and then seeds (each instance has its own ground truth). The representation measure of highest mean Spearman is compared with
    the best baseline, paired per seed. Because that measure is the best of several, its interval for
    the verdict is at level ``1 - C4_ALPHA / (number of measures)`` (Bonferroni). Reproduced when
    that Spearman interval lies above 0 and the
    paired difference to the best baseline is not below 0 (interval); partly when it is only above 0.
    """
    rows = selection_setting(selection, setting)
    control = UNTRAINED if UNTRAINED in set(rows.candidate) else None
    quality = selection_quality(rows, by=["n_target"], control=control)
    per_seed = quality.groupby(["selector", "seed"], as_index=False).mean(numeric_only=True)
    ci = quality_intervals(per_seed.assign(all=0), by=["all"], n_boot=n_boot).set_index("selector")
    reps = ci.loc[[m for m in representation_measures if m in ci.index]]
    base = ci.loc[[b for b in baselines if b in ci.index]]
    best_rep = reps.spearman.idxmax()
    r = reps.loc[best_rep]
    # the best of len(reps) measures is picked after looking: its interval for the verdict is Bonferroni's
    level = 1 - C4_ALPHA / len(reps)
    strict = quality_intervals(per_seed[per_seed.selector == best_rep].assign(all=0), by=["all"], metrics=["spearman"],
                               n_boot=n_boot, level=level).iloc[0]
    above_zero = strict.spearman_low > 0
    n_cand = rows.candidate.nunique()
    text = (f"{best_rep}: Spearman {r.spearman:+.2f} [{r.spearman_low:+.2f}, {r.spearman_high:+.2f}] "
            f"({100 * level:.1f}% interval, Bonferroni over the {len(reps)} measures: [{strict.spearman_low:+.2f}, "
            f"{strict.spearman_high:+.2f}]), top-1 {r.top1_hit:.2f}, regret {r.regret:.3f}")
    numbers = {"intervals": ci, "quality": quality, "best_measure": best_rep}
    not_worse = True
    if len(base):
        best_base = base.spearman.idxmax()
        b = base.loc[best_base]
        d = paired_quality_difference(per_seed, best_rep, best_base, n_boot=n_boot)
        side = {"tie": "a tie within noise", "better": "better", "worse": "worse"}[d["side"]]
        text += (f"; best baseline {best_base}: {b.spearman:+.2f} [{b.spearman_low:+.2f}, {b.spearman_high:+.2f}] "
                 f"(difference {d['difference']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}], {side})")
        numbers.update(best_baseline=best_base, difference=d)
        not_worse = d["side"] != "worse"
    if control is not None:
        text += f"; the untrained control ranked {r.control_rank:.1f} of {n_cand} by {best_rep}"
    over = (f"{int(r.n_instances)} target instances, then the seeds within them ({int(r.n_seeds)} in all)"
            if r.n_instances > 1 else f"{int(r.n_seeds)} seeds")
    text += f" (95% bootstrap intervals over {over})"
    verdict = claim_word(int(above_zero) + int(above_zero and not_worse), 2)
    key = f"Spearman {r.spearman:+.2f} [{r.spearman_low:+.2f}, {r.spearman_high:+.2f}] ({best_rep})"
    return Verdict("C4", verdict, text, numbers, key)


def verdict_c4_across(verdicts: dict) -> Verdict:
    """One C4 verdict from several benchmarks: reproduced where all are, not reproduced where none is,
    partly otherwise, saying on which benchmark each verdict holds."""
    kinds = {v.verdict for v in verdicts.values()}
    verdict = kinds.pop() if len(kinds) == 1 else "partly"
    text = "; ".join(f"{v.verdict} on {where} ({v.evidence})" for where, v in verdicts.items())
    key = "; ".join(f"{v.key} on {where}" for where, v in verdicts.items())
    return Verdict("C4", verdict, text, {where: v.numbers for where, v in verdicts.items()}, key)


def verdict_c4_benchmarks(tables: dict, quick: bool) -> Verdict:
    """C4 from the claim's two benchmarks (the ``selection`` and ``selection_mnist1d`` sweeps), made at
    quick or paper sizes (``quick``: MNIST-1D's base setting follows the chapter's training length)."""
    return verdict_c4_across({
        "the hidden-manifold benchmark": verdict_c4(tables["selection"]),
        "MNIST-1D with permuted inputs": verdict_c4(tables["selection_mnist1d"], setting=mnist1d_setting(quick))})
