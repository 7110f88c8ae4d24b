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
    assert row["mean"] == pytest.approx(0.60) and row["sem"] == pytest.approx(0.01) and row.n == 2
    assert row.unit == "seed"


def test_summarise_takes_the_error_over_task_instances_when_there_are_enough(table):
    """Three instances of two seeds: seeds averaged within an instance, SE over the three means
    (a hand computation), so a seed pair's spread does not shrink the error."""
    rows = []
    for inst, shift in enumerate((-0.03, 0.0, 0.06)):
        part = table.assign(task_seed=inst, seed=table.seed + 10 * inst, test_acc=table.test_acc + shift)
        rows.append(part)
    s = summarise(pd.concat(rows))
    row = s[(s.n_target == 10) & (s.transfer_depth == 2) & (s.frozen_depth == 2)].iloc[0]
    means = [0.57, 0.60, 0.66]
    assert row["mean"] == pytest.approx(0.61) and row.n == 3 and row.unit == "task_seed"
    assert row["sem"] == pytest.approx(pd.Series(means).std(ddof=1) / 3 ** 0.5)


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


def test_control_comparison_counts_candidates_within_noise_of_the_control():
    import pandas as pd
    import pytest

    from tlcore.analysis import control_comparison

    cands = pd.DataFrame({"n_target": [20] * 4, "candidate": ["a", "b", "c", "untrained"],
                          "best_acc": [0.80, 0.62, 0.61, 0.60], "best_sem": [0.01, 0.01, 0.005, 0.01]})
    out = control_comparison(cands).loc[20]
    assert out.below_best == pytest.approx(0.20)
    # b: |0.02| <= 2 * hypot(0.01, 0.01) = 0.028 tied; c: 0.01 <= 0.022 tied; a: not
    assert out.n_tied == 2
    with pytest.raises(ValueError, match="untrained"):
        control_comparison(cands[cands.candidate != "untrained"])


def test_matched_pairs_pairs_by_seed_and_uses_the_kernel_rule():
    import numpy as np
    import pandas as pd
    import pytest

    from tlcore.analysis import matched_pairs

    rows = []
    for seed, (lo, hi) in enumerate([(0.70, 0.60), (0.72, 0.61), (0.69, 0.62)]):
        for selector, (s_lo, s_hi) in {"m": (1.0, 0.0), "b": (0.0, 1.0)}.items():
            rows += [{"n_target": 20, "seed": seed, "selector": selector, "candidate": "x=0.3", "score": s_lo,
                      "best_acc": lo},
                     {"n_target": 20, "seed": seed, "selector": selector, "candidate": "y=0.1", "score": s_hi,
                      "best_acc": hi}]
    out = matched_pairs(pd.DataFrame(rows), [({"x": 0.3}, {"y": 0.1})], ["m", "b"]).iloc[0]
    d = np.array([0.10, 0.11, 0.07])
    assert out.truth_diff == pytest.approx(d.mean()) and out.truth_sem == pytest.approx(d.std(ddof=1) / np.sqrt(3))
    assert out.truth_word == "higher" and out.m == 1.0 and out.b == 0.0


def test_variant_change_subtracts_the_base_setting_and_refuses_unknown_levels():
    import pandas as pd
    import pytest

    from tlcore.analysis import variant_change

    index = pd.MultiIndex.from_tuples([(100, 10), (100, 5), (200, 10)], names=["steps", "k"])
    variants = pd.DataFrame({"cka": [0.5, 0.4, 0.7], "no": [0.1, 0.3, 0.1]}, index=index)
    d = variant_change(variants, {"steps": 100, "k": 10}, steps=200)
    assert d.cka == pytest.approx(0.2) and d["no"] == pytest.approx(0.0)
    assert variant_change(variants, {"steps": 100, "k": 10}, k=5).no == pytest.approx(0.2)
    with pytest.raises(ValueError, match="setting levels"):
        variant_change(variants, {"steps": 100, "k": 10}, probe="x")
