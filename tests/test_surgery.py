"""Which blocks to retrain: choosing plans on validation, paired margins, the direction rule, profile plans."""
import numpy as np
import pandas as pd
import pytest

from tlcore import surgery


def _table(knob, best_by_cell, seeds=6, gap=0.05, noise=0.005):
    """Synthetic results: in each cell, ``best_by_cell[cell]`` beats every other plan by ``gap``."""
    rng = np.random.default_rng(0)
    plans = sorted(set().union(*surgery.plan_set(3).values()))
    rows = []
    for (value, n), best in best_by_cell.items():
        for seed in range(seeds):
            shared = rng.normal(0, 0.02)  # a seed effect every plan shares: pairing removes it
            for plan in plans:
                base = 0.7 + shared + (gap if plan == best else 0.0)
                rows.append({knob: value, "n_target": n, "seed": seed, "plan": plan,
                             "val_acc": base + rng.normal(0, noise), "test_acc": base + rng.normal(0, noise)})
    return pd.DataFrame(rows)


def test_plan_set_holds_the_prefix_protocols_and_every_train_or_freeze_plan():
    kinds = surgery.plan_set(3)
    assert len(kinds["surgical"]) == 8 and {"TFF", "FTF", "FFT", "TTT", "FFF"} <= set(kinds["surgical"])
    assert {"RRR", "TRR", "FFR", "FTT"} <= set(kinds["prefix"]) and not any("R" in p for p in kinds["surgical"])


def test_best_plans_pairs_by_seed_and_calls_ties():
    cells = surgery.best_plans(_table("feature_mix", {(0.5, 20): "TFF", (1.0, 20): "RRR"}), "feature_mix")
    first, second = cells.iloc[0], cells.iloc[1]
    assert first.surgical == "TFF" and first.winner == "surgical" and first.margin == pytest.approx(0.05, abs=0.01)
    assert first.trains_first and not first.trains_last
    assert second.prefix == "RRR" and second.winner == "prefix" and second.best == "RRR"
    tied = surgery.best_plans(_table("feature_mix", {(0.5, 20): "TFF"}, gap=0.0), "feature_mix").iloc[0]
    assert tied.winner == "tie"


def test_direction_verdict_follows_the_rule_of_lee_et_al():
    inputs = surgery.best_plans(_table("feature_mix", {(0.5, 20): "TFF", (1.0, 20): "TTF"}), "feature_mix")
    labels = surgery.best_plans(_table("teacher_mix", {(0.5, 20): "FFT", (1.0, 20): "FTT"}), "teacher_mix")
    v = surgery.direction_verdict({"input": inputs, "labels": labels})
    assert v["shares"] == {"input": 1.0, "labels": 1.0} and v["verdict"] == "decides"
    swapped = surgery.direction_verdict({"input": labels, "labels": inputs})
    assert swapped["shares"] == {"input": 0.0, "labels": 0.0} and swapped["verdict"] == "does not decide"


def test_profile_plan_retrains_where_the_source_falls_short():
    assert surgery.profile_plan([0.9, 0.4, 0.1]) == "FTT"
    assert surgery.profile_plan([np.nan, 0.6, 0.2], level=0.5) == "FFT"  # no evidence against a block: keep it


def test_plan_margins_are_zero_on_the_chosen_prefix_plan():
    table = _table("feature_mix", {(0.5, 20): "TFF"})
    cells = surgery.best_plans(table, "feature_mix")
    m = surgery.plan_margins(table, cells, "feature_mix", ["TFF", cells.prefix.iloc[0]])
    assert m.iloc[1, 0] == 0 and m.iloc[0, 0] == pytest.approx(0.05, abs=0.01)


def test_unknown_settings_are_refused():
    with pytest.raises(ValueError, match="unknown family 'teacher'"):
        surgery.surgical_sweep("teacher", "input")
    with pytest.raises(ValueError, match="shift='outputs'"):
        surgery.surgical_sweep("digits", "outputs")
