"""Where the optimum transfer depth sits in a deep network (tlcore.claims.optimum_depths)."""
import numpy as np
import pandas as pd
import pytest

from tlcore import claims


def _table(peaks: dict, L: int = 8, instances: int = 4, seeds: int = 2, noise: float = 0.002, rng_seed: int = 0):
    """A deep sweep's table whose accuracies peak at a known depth per family (fine-tuned, frozen)."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    for t in range(instances):
        for s in range(seeds):
            for l in range(L + 1):
                for f, family in ((0, "fine-tuned"), (l, "frozen")):
                    if l == 0 and f == 0 and family == "frozen":
                        continue  # scratch once
                    base = 0.8 - 0.02 * abs(l - peaks[family]) + rng.normal(0, noise)
                    rows.append({"teacher_mix": 0.2, "n_target": 40, "task_seed": t, "seed": 10 * t + s,
                                 "transfer_depth": l, "frozen_depth": f,
                                 "val_acc": base + rng.normal(0, noise), "test_acc": base + rng.normal(0, noise)})
    return pd.DataFrame(rows)


def test_the_optimum_depth_of_each_family_is_found_with_its_fraction_of_the_network():
    out = claims.optimum_depths(_table({"fine-tuned": 5, "frozen": 3}), "teacher_mix").set_index("family")
    assert out.loc["fine-tuned", "depth"] == 5 and out.loc["frozen", "depth"] == 3
    assert out.loc["fine-tuned", "fraction"] == pytest.approx(5 / 8)
    assert (out.folds == 4).all() and (out.agree == 4).all()
    # the held-out score is the test accuracy at the peak: 0.8 within noise
    assert out.score.to_numpy() == pytest.approx([0.8, 0.8], abs=0.01)


def test_disagreeing_folds_show_as_a_range():
    t = _table({"fine-tuned": 2, "frozen": 2}, noise=0.0)
    # instance 0 prefers depth 7: the folds that hold instance 0 in their training part move with it
    t.loc[(t.task_seed == 0) & (t.transfer_depth == 7), "val_acc"] += 1.0
    out = claims.optimum_depths(t, "teacher_mix").set_index("family")
    assert out.loc["fine-tuned", "depth_low"] == 2 and out.loc["fine-tuned", "depth_high"] == 7
    assert out.loc["fine-tuned", "agree"] == 3  # three folds train on instance 0 and pick 7


def test_a_table_without_transfer_is_refused():
    t = _table({"fine-tuned": 0, "frozen": 0}, L=0)
    with pytest.raises(ValueError, match="no transferred protocol"):
        claims.optimum_depths(t, "teacher_mix")
