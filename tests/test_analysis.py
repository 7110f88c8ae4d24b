"""Reductions of tidy tables, on hand-made tables with known answers."""
import pandas as pd
import pytest
import torch

from tlcore.analysis import selection_summary, summarise
from tlcore.experiments import linear_probe_accuracy
from tlcore.models import MLP
from tlcore.tasks import Task, digits_pair, measured_similarity, teacher_pair

# accuracy of (transfer_depth, frozen_depth) at n_target 10 and 100, two seeds each
ACC = {10: {(0, 0): 0.40, (1, 0): 0.50, (1, 1): 0.55, (2, 0): 0.45, (2, 2): 0.60, (2, 1): 0.58},
       100: {(0, 0): 0.70, (1, 0): 0.75, (1, 1): 0.65, (2, 0): 0.72, (2, 2): 0.50, (2, 1): 0.60}}


@pytest.fixture
def table():
    rows = [{"n_target": n, "transfer_depth": t, "frozen_depth": f, "seed": s, "test_acc": a + (0.01 if s else -0.01)}
            for n, accs in ACC.items() for (t, f), a in accs.items() for s in (0, 1)]
    return pd.DataFrame(rows)


def test_summarise_means_and_errors(table):
    s = summarise(table)
    row = s[(s.n_target == 10) & (s.transfer_depth == 2) & (s.frozen_depth == 2)].iloc[0]
    assert row["mean"] == pytest.approx(0.60) and row["sem"] == pytest.approx(0.01) and row.n_seeds == 2


def test_measured_similarity():
    small = dict(n_source=100, n_target_pool=100, n_test=100)
    same = measured_similarity(teacher_pair(1, 0.0, seed=0, **small), n=500)
    assert same == {"label_agreement": 1.0, "input_correlation": pytest.approx(1.0)}
    real = measured_similarity(digits_pair(1.0, 1.0, seed=0))
    assert real["shared_classes"] == 0.0 and real["fixed_inputs"] < 0.1


def test_linear_probe_reads_the_useful_layer():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 5, generator=g)
    y = (x[:, 0] > 0).long()
    task = Task(x[:300], y[:300], x[300:], y[300:], 2, "sign")
    accs = linear_probe_accuracy(MLP(5, 2, width=64, depth=2, seed=0), task)
    assert len(accs) == 2 and min(accs) > 0.8  # random ReLU features keep a linearly readable sign


def test_selection_summary_counts_each_group_once():
    rows = [{"selector": sel, "n_target": 10, "seed": seed, "candidate": c, "spearman": sp, "kendall": sp,
             "top1_hit": hit, "regret": reg}
            for sel, seed, sp, hit, reg in [("a", 0, 1.0, True, 0.0), ("a", 1, 0.0, False, 0.2), ("b", 0, -1.0, False, 0.4)]
            for c in ("x", "y", "z")]
    out = selection_summary(pd.DataFrame(rows))
    assert out.loc["a", "spearman"] == pytest.approx(0.5) and out.loc["a", "regret"] == pytest.approx(0.1)
    assert out.loc["b", "top1_hit"] == 0.0


def test_paired_summary_against_numpy_and_the_tie_rule():
    import numpy as np
    import pandas as pd
    import pytest

    from tlcore.analysis import paired_summary

    a, b = np.array([0.80, 0.82, 0.79, 0.85]), np.array([0.70, 0.74, 0.72, 0.71])
    d = a - b
    s = paired_summary(a, b)
    assert s.mean == pytest.approx(d.mean()) and s.sem == pytest.approx(d.std(ddof=1) / 2) and s.side == "higher"
    assert paired_summary(b, a).side == "lower" and paired_summary(a, a + [0.01, -0.01, 0.02, -0.02]).side == "tie"
    # Series pair by index: a seed missing on one side is left out
    x, y = pd.Series([1.0, 2.0, 3.0], index=[0, 1, 2]), pd.Series([0.5, 1.0], index=[2, 0])
    assert paired_summary(x, y).mean == pytest.approx(((1.0 - 1.0) + (3.0 - 0.5)) / 2)
    with pytest.raises(ValueError, match="share no seed"):
        paired_summary(pd.Series([1.0], index=[0]), pd.Series([1.0], index=[1]))
