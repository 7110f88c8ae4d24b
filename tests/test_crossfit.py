"""Cross-fitted winners: no selection bias on a null, the true winner found when there is one."""
import numpy as np
import pandas as pd
import pytest

from tlcore.stats.crossfit import cross_fitted_winners, fold_of


def _table(rng, effects, n_inst=6, n_seeds=2, noise=0.05, shared=0.9):
    """Per (instance, seed, protocol) validation and test scores with correlated noise (the same
    networks): test = effect + shared * val noise + fresh noise."""
    rows = []
    for inst in range(n_inst):
        for seed in range(n_seeds):
            for p, effect in enumerate(effects):
                e = rng.normal(0, noise)
                rows.append({"cell": 0, "task_seed": inst, "seed": seed, "protocol": p,
                             "val_acc": effect + e, "test_acc": effect + shared * e + rng.normal(0, noise * 0.3)})
    return pd.DataFrame(rows)


def test_fold_of_is_round_robin_and_refuses_too_few_units():
    assert fold_of([3, 1, 2, 1]) == {1: 0, 2: 1, 3: 0}
    with pytest.raises(ValueError, match="fewer than folds"):
        fold_of([1])


def test_cross_fitting_removes_the_selection_bias_that_validation_keeps_on_a_null():
    rng = np.random.default_rng(3)
    naive, crossed = [], []
    for _ in range(150):
        t = _table(rng, [0.5] * 6)
        means = t.groupby("protocol")[["val_acc", "test_acc"]].mean()
        naive.append(means.test_acc[means.val_acc.idxmax()] - 0.5)
        out = cross_fitted_winners(t, ["cell"], ["protocol"])
        crossed.append(out[out.fold == -1].test_acc.iloc[0] - 0.5)
    assert np.mean(naive) > 0.01          # chosen on correlated validation: the winner's luck is reported
    assert abs(np.mean(crossed)) < 0.004  # cross-fitted: no bias


def test_cross_fitting_finds_a_real_winner_and_splits_by_task_instance():
    rng = np.random.default_rng(4)
    t = _table(rng, [0.5, 0.5, 0.6, 0.5])
    out = cross_fitted_winners(t, ["cell"], ["protocol"])
    per_fold = out[out.fold >= 0]
    assert (per_fold.protocol == 2).all() and bool(out[out.fold == -1].agree.iloc[0])
    assert per_fold.n_units.tolist() == [3, 3]  # 6 task instances, split by instance
