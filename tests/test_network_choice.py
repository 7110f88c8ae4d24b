"""Choices each network makes on its own validation data: early stopping and a training variant."""
import numpy as np
import pandas as pd
import pytest

from tlcore import claims
from tlcore.experiments import depth_sweep
from tlcore.stats import choose_variant, early_stopped
from tlcore.tasks import hidden_manifold_pair

KW = dict(n_targets=[20, 120], protocols=[(0, 0), (2, 2), (2, 0), (1, 0)], seeds=[0, 1], n_val=101, width=16,
          depth=2, source_steps=60, steps=40)


@pytest.fixture(scope="module")
def pair():
    return hidden_manifold_pair(feature_mix=0.0, teacher_mix=0.4, seed=0, n_source=600, n_target_pool=400,
                                n_test=300)


def test_early_stopped_networks_equal_networks_trained_for_that_many_steps(pair):
    """The checkpoints change nothing at the last step, and a network stopped at step s has the test
    accuracy of the same network trained for s steps (a separate, shorter run)."""
    plain = depth_sweep(pair, **KW)
    table = depth_sweep(pair, checkpoints=4, **KW)
    assert np.array_equal(plain.val_acc, table.val_acc) and np.array_equal(plain.test_acc, table.test_acc)
    assert set(table.stop_step) <= {10, 20, 30, 40} and len(set(table.stop_step)) > 1
    for step in sorted(set(table.stop_step)):
        shorter = depth_sweep(pair, **{**KW, "steps": step})
        rows = table.stop_step == step
        assert np.array_equal(table.test_acc_stopped[rows], shorter.test_acc[rows]), step
    # the two halves of the validation set (50 choose, 51 score) make up the whole at the last step
    last = table.stop_step == 40
    whole = (50 * table.pick_acc_stopped[last] + 51 * table.val_acc_stopped[last]) / 101
    assert np.allclose(whole, table.val_acc[last])


def test_bad_checkpoint_requests_are_refused(pair):
    with pytest.raises(ValueError, match="needs n_val >= 2"):
        depth_sweep(pair, checkpoints=4, **{**KW, "n_val": 0})
    with pytest.raises(ValueError, match="more than the 40 training steps"):
        depth_sweep(pair, checkpoints=41, **KW)


def _networks(scores, variant_shift=0.0):
    """A table of one cell per (knob, n_target), protocols (0, 0), (1, 1), (1, 0), 3 instances x 2 seeds;
    ``scores[(knob, n, protocol)] = (full, stopped)`` accuracies."""
    rows = []
    for (knob, n, (t, f)), (full, stopped) in scores.items():
        for inst in range(3):
            for s in range(2):
                seed = 10 * inst + s
                wiggle = 0.001 * ((seed * 7 + t * 3 + f) % 5)
                rows.append({"teacher_mix": knob, "n_target": n, "task_seed": inst, "transfer_depth": t,
                             "frozen_depth": f, "seed": seed, "val_acc": full + wiggle, "test_acc": full,
                             "source_test_acc": 0.9, "stop_step": 4, "pick_acc_stopped": stopped + variant_shift,
                             "val_acc_stopped": stopped + variant_shift + wiggle,
                             "test_acc_stopped": stopped + variant_shift})
    return pd.DataFrame(rows)


def _scores(stopped_winner_in_second_cell):
    out = {}
    for knob in (0.0, 0.5):
        for n in (10, 20):
            for p in [(0, 0), (1, 1), (1, 0)]:
                full = 0.7 if p == (1, 0) else 0.6
                stopped = full
                if stopped_winner_in_second_cell and n == 20 and p == (0, 0):
                    stopped = 0.8
                out[(knob, n, p)] = (full, stopped)
    return out


def test_early_stopped_reads_the_stopped_columns_and_refuses_a_table_without_them():
    table = _networks(_scores(True))
    stopped = early_stopped(table)
    assert np.array_equal(stopped.test_acc, table.test_acc_stopped)
    assert "stop_step" in stopped and "val_acc_stopped" not in stopped
    with pytest.raises(ValueError, match="run the sweep with checkpoints"):
        early_stopped(table.drop(columns=["stop_step"]))


def test_choose_variant_takes_each_networks_best_choosing_half_and_the_first_on_ties():
    a = early_stopped(_networks(_scores(False)))
    b = early_stopped(_networks(_scores(False), variant_shift=0.05))
    b.loc[b.transfer_depth == 0, "pick_acc_stopped"] -= 0.05  # scratch: a tie, so the first variant given
    b = b.sample(frac=1.0, random_state=0)  # order does not matter
    chosen = choose_variant({1.0: a, 0.1: b}, column="lr")
    assert len(chosen) == len(a)
    assert (chosen.lr[chosen.transfer_depth == 0] == 1.0).all()
    assert (chosen.lr[chosen.transfer_depth > 0] == 0.1).all()
    moved = chosen[chosen.transfer_depth > 0].merge(a, on=["teacher_mix", "n_target", "task_seed", "transfer_depth",
                                                           "frozen_depth", "seed"], suffixes=("", "_a"))
    assert np.allclose(moved.test_acc - moved.test_acc_a, 0.05)
    with pytest.raises(ValueError, match="does not hold the same networks"):
        choose_variant({1.0: a, 0.1: b.iloc[1:]})
    with pytest.raises(ValueError, match="at least two"):
        choose_variant({1.0: a})


def test_training_choices_count_the_cells_whose_winner_changes():
    """Early stopping makes scratch win one of the two counted cells (knob 0.5, n 20); the knob = 0 row
    changes too but is not counted; an identical learning-rate variant changes nothing."""
    table = _networks(_scores(True))
    out = claims.training_choices({1.0: table, 0.1: table.copy()}, "teacher_mix").set_index("choice")
    assert out.loc["early stopping", "cells"] == 2
    assert out.loc["early stopping", "winner_changed"] == 1
    assert out.loc["early stopping", "share_changed"] == pytest.approx(0.5)
    assert out.loc["early stopping", "held_out_gain"] == pytest.approx(0.05)  # (0.8 - 0.7) in one of two cells
    assert out.loc["transferred learning rate", "winner_changed"] == 0
    assert out.loc["both", "winner_changed"] == 1
    only_stopping = claims.training_choices({1.0: table}, "teacher_mix")
    assert list(only_stopping.choice) == ["early stopping"]


def test_scratch_catches_up_where_the_winner_is_within_noise_at_that_size_and_every_larger_one():
    cells = pd.DataFrame({"teacher_mix": [0.5] * 4 + [1.0] * 4, "n_target": [10, 20, 40, 80] * 2,
                          # row 0.5: beyond noise at 10 and 40, within at 20 and 80 -> from 80 only
                          # row 1.0: within noise from 20 on (a winner that is scratch itself has margin 0)
                          "cf_scratch_margin": [0.10, 0.01, 0.05, 0.005, 0.08, 0.0, 0.01, -0.004],
                          "cf_scratch_sem": [0.01, 0.01, 0.01, 0.01, 0.01, float("nan"), 0.01, 0.01]})
    out = claims.scratch_catches_up(cells.sample(frac=1.0, random_state=1), "teacher_mix").set_index("teacher_mix")
    assert out.loc[0.5, "catches_up_at"] == 80 and out.loc[1.0, "catches_up_at"] == 20
    never = cells.assign(cf_scratch_margin=0.2)
    assert claims.scratch_catches_up(never, "teacher_mix").catches_up_at.isna().all()
    assert out.loc[0.5, "margin_at_largest"] == pytest.approx(0.005) and out.loc[0.5, "largest_n"] == 80
