"""The paper's claims, checked on the quick-mode tables the book computes (shared through the sweep cache).

These are claims, not floating-point paths: each holds with a margin of several standard errors over
its replicates (task instances and training seeds), so it holds on any CPU, and fails when the science breaks (a wrong protocol, a broken
transfer, a validation set leaking into the test set).
"""
import numpy as np
import pandas as pd
import pytest

from tlcore import claims
from tlcore.stats import optimality_probability


@pytest.fixture(scope="module")
def maps():
    tables = {knob: claims.phase_sweep(knob, quick=True) for knob in ("teacher_mix", "feature_mix")}
    return tables, {knob: claims.phase_cells(t, knob) for knob, t in tables.items()}


def _cell(cells, knob, value, n_target):
    c = cells[knob]
    return c[(c[knob] == value) & (c.n_target == n_target)].iloc[0]


def test_the_maps_are_complete_and_honest(maps):
    tables, cells = maps
    for knob, t in tables.items():
        grid = claims.phase_grid(quick=True)
        assert len(cells[knob]) == len(grid["values"]) * len(grid["n_targets"])
        instances, seeds = claims.REPLICATES["quick"]
        by = t.groupby([knob, "n_target", "transfer_depth", "frozen_depth"])
        assert by.seed.nunique().eq(instances * seeds).all() and by.task_seed.nunique().eq(instances).all()
        # every replicate's seed belongs to one task instance
        assert t.groupby("seed").task_seed.nunique().eq(1).all()
        # validation and test are different data: the two accuracies of a network are not identical
        assert (t.val_acc != t.test_acc).mean() > 0.9


def test_an_identical_task_makes_transfer_win_with_few_examples(maps):
    _, cells = maps
    for knob in cells:
        c = _cell(cells, knob, 0.0, 10)
        assert c.best_transfer_depth == c.standard_depth  # deep transfer from the very same task
        assert c.scratch_significant and c.scratch_margin > 0.1, c


def test_the_standard_recipe_is_never_optimal_for_an_unrelated_labelling_rule(maps):
    tables, cells = maps
    t = tables["teacher_mix"]
    L = int(t.transfer_depth.max())
    p = optimality_probability(t[t.teacher_mix == 1.0], by=["n_target"], n_boot=500)
    standard = p[(p.transfer_depth == L) & (p.frozen_depth == L)]
    assert (standard.p_optimal < 0.1).all(), standard
    far = cells["teacher_mix"][cells["teacher_mix"].teacher_mix == 1.0]
    assert (far.standard_significant & (far.standard_margin > 0.1)).all()


def test_c1_the_optimal_depth_falls_as_the_labelling_rule_moves_away(maps):
    tables, _ = maps
    c1 = claims.verdict_c1({"teacher_mix": tables["teacher_mix"]}, n_boot=200)
    low, high = c1.numbers["teacher_mix"]["rho_knob_ci"]
    assert high < -0.2, c1.evidence
    assert c1.verdict in ("reproduced", "partly")


def test_c2_first_layers_beat_the_standard_recipe_at_intermediate_similarity(maps):
    """With the labelling rule half-way rotated, fine-tuning only the first block beats (L, L) clearly
    and does not lose to scratch: the regime where the paper's C2 lives."""
    tables, _ = maps
    t = tables["teacher_mix"]
    L = int(t.transfer_depth.max())
    from tlcore.stats import paired_difference

    cell = t[(t.teacher_mix == 0.4) & (t.n_target == 40)]
    over_standard = paired_difference(cell, (1, 0), (L, L)).iloc[0]
    over_scratch = paired_difference(cell, (1, 0), (0, 0)).iloc[0]
    assert over_standard.significant and over_standard.mean_diff > 0.05
    assert over_scratch.mean_diff > -2 * over_scratch.diff_sem


def test_verdicts_follow_their_definitions():
    """Hand-made cells: the C2 rule counts only interior winners that beat all three alternatives."""
    base = dict(best_transfer_depth=1, best_frozen_depth=0, scratch_margin=0.05, scratch_sem=0.01,
                standard_margin=0.05, standard_sem=0.01, fine_tune_margin=0.05, fine_tune_sem=0.01, c2=True)
    cells = pd.DataFrame([{"k": v, "n_target": 10, **base, "c2": v < 0.5} for v in np.linspace(0, 1, 12)])
    v = claims.verdict_c2({"k": cells})
    assert v.verdict == "reproduced" and v.numbers["k"]["c2_cells"] == 6
    assert claims.verdict_c2({"k": cells.assign(c2=False)}).verdict == "not reproduced"
    assert claims.verdict_c2({"k": cells.assign(c2=[True] + [False] * 11)}).verdict == "partly"  # 1 of 12 < 1/6


def _selection_table(rep_noise, base_noise, seeds=12, seed=0, truth=None, control_score=None):
    """A hand-made source-selection table: the pre-registered measure and a baseline whose scores
    follow the ground truth up to the given noise, and an untrained control with the worst ground
    truth (scored ``control_score`` by the measure when given)."""
    rng = np.random.default_rng(seed)
    truth = truth or {"near": 0.9, "mid": 0.8, "far": 0.7, "untrained": 0.5}
    pre = claims.C4_PREREGISTERED
    measure, probe = pre["measure"], 30 if pre["n_probe"] == "n_target" else pre["n_probe"]
    rows = []
    for s in range(seeds):
        for c, acc in truth.items():
            for selector, noise in ((measure, rep_noise), ("leep", base_noise)):
                score = acc + noise * rng.normal()
                if c == "untrained" and selector == measure and control_score is not None:
                    score = control_score
                rows.append({"n_target": 30, "n_probe": probe, "k": pre["k"] or 10, "aggregate": "diagonal", "seed": s,
                             "candidate": c, "selector": selector, "best_acc": acc + 0.005 * rng.normal(),
                             "score": score})
    return pd.DataFrame(rows)


def test_c4_verdict_follows_its_definition():
    good = claims.verdict_c4(_selection_table(0.01, 0.01), n_boot=500)
    assert good.verdict == "reproduced" and good.numbers["difference"]["side"] == "tie", good.evidence
    assert "ranked 4.0 [4.0, 4.0] of 4" in good.evidence and "12 seeds" in good.evidence
    assert "(pre-registered)" in good.evidence
    # the baseline beating the measure does not change the verdict: it is reported beside it
    beaten = claims.verdict_c4(_selection_table(0.12, 0.0), n_boot=500)
    assert beaten.numbers["difference"]["side"] == "worse" and beaten.numbers["above_chance"], beaten.evidence
    coin = claims.verdict_c4(_selection_table(10.0, 0.0), n_boot=500)
    assert coin.verdict == "not reproduced", coin.evidence
    # ordered trained sources but the untrained control scored on top: better than chance only
    six = {f"s{i}": 0.95 - 0.05 * i for i in range(6)} | {"untrained": 0.5}
    fooled = claims.verdict_c4(_selection_table(0.005, 0.01, truth=six, control_score=2.0), n_boot=500)
    assert fooled.verdict == "partly" and fooled.numbers["above_chance"] and not fooled.numbers["below_control"], \
        fooled.evidence
    with pytest.raises(ValueError, match="no rows for k=7"):
        claims.verdict_c4(_selection_table(0.01, 0.01), setting={"k": 7})
    with pytest.raises(ValueError, match="no scores of the pre-registered measure"):
        claims.verdict_c4(_selection_table(0.01, 0.01).replace({"selector": {claims.C4_PREREGISTERED["measure"]: "x"}}))
    both = claims.verdict_c4_across({"A": good, "B": coin})
    assert both.verdict == "partly" and both.evidence.startswith("reproduced on A") and "not reproduced on B" in both.evidence
    assert claims.verdict_c4_across({"A": good, "B": good}).verdict == "reproduced"


def test_the_c4_setting_is_pre_registered_and_re_derived_from_the_committed_calibration():
    """The measure is a constant the benchmark run cannot change; the committed calibration table gives it."""
    import inspect

    from tlcore.claims.c4_calibration import CALIBRATION_FILE, calibrate

    assert claims.C4_PREREGISTERED == {"measure": "information_imbalance_reverse", "n_probe": "n_target", "k": 5,
                                       "aggregate": "diagonal"}
    assert "measure" not in inspect.signature(claims.verdict_c4).parameters
    table = pd.read_parquet(CALIBRATION_FILE)
    assert table.family.eq("teacher").all() and table.task_seed.nunique() >= 3
    assert calibrate(table, n_boot=200) == claims.C4_PREREGISTERED


@pytest.fixture(scope="module")
def selection():
    return claims.selection_sweep(quick=True)


def test_c4_benchmark_the_untrained_control_transfers_worst_and_is_ranked_low(selection):
    main = claims.selection_setting(selection)
    small = main[main.n_target == main.n_target.min()].drop_duplicates(["candidate", "seed"])
    truth = small.pivot(index="seed", columns="candidate", values="best_acc")
    gain = truth["feature_mix=0.3"] - truth["untrained"]
    assert gain.mean() > 2 * gain.sem() and gain.mean() > 0.05, truth.mean()
    c4 = claims.verdict_c4(selection, n_boot=500)
    ci = c4.numbers["intervals"]
    assert ci.loc[c4.numbers["measure"], "spearman_low"] > 0.3, c4.evidence
    assert ci.loc[c4.numbers["measure"], "control_rank"] > selection.candidate.nunique() / 2, c4.evidence


def test_c4_a_neighbourhood_as_large_as_the_probe_carries_no_information(selection):
    """k capped at n_probe - 1 makes every kNN measure constant over sources: Spearman 0 by the tie rule."""
    from tlcore.analysis import setting_effect

    n = int(selection.n_target.min())
    rows = selection[(selection.n_target == n) & (selection.n_probe == n) & (selection.k == n - 1)]
    effect = setting_effect(rows, ["neighbourhood_overlap", "information_imbalance"]).set_index("selector")
    assert (effect.spearman == 0).all() and (effect.top1_hit < 1).all(), effect


def test_claim_word_is_the_one_mapping_to_verdict_words():
    from tlcore.claims import claim_word

    assert [claim_word(h, 2) for h in (2, 1, 0)] == ["reproduced", "partly", "not reproduced"]
    assert claim_word(1, 1) == "reproduced"
    with pytest.raises(ValueError):
        claim_word(3, 2)


def test_statements_and_chapters_cover_the_four_claims_and_name_real_chapters():
    from pathlib import Path

    from tlcore.claims import CHAPTERS, CLAIM_SWEEPS, STATEMENTS, SWEEP_CHAPTERS

    book = Path(__file__).resolve().parents[1] / "book"
    assert set(STATEMENTS) == set(CHAPTERS) == {"C1", "C2", "C3", "C4"}
    assert all((book / f"{name}.md").exists() for names in CHAPTERS.values() for name in names)
    assert set(SWEEP_CHAPTERS) == set(CLAIM_SWEEPS)


def test_paper_section_without_shipped_results_says_so(tmp_path):
    from tlcore.claims import Verdict
    from tlcore.paper_section import paper_section

    quick = [Verdict("C3", "reproduced", "x")]
    section = paper_section(["representations"], lambda t: [], quick, ["teacher"], folder=tmp_path)
    assert not section.shipped and section.tables is None
    assert section.texts == {"C3_paper_verdict": "not available", "C3_paper_evidence": "not available",
                             "C3_agreement": "not available",
                             "paper_setup": "but its results are not shipped with this copy"}


def test_paper_section_with_the_shipped_results_judges_them():
    from tlcore import paper
    from tlcore.claims import Verdict, verdict_c3
    from tlcore.paper_section import paper_section

    if paper.shipped("representations") is None:
        pytest.skip("no shipped results")
    quick = [Verdict("C3", "reproduced", "x")]
    section = paper_section(["representations"], lambda t: [verdict_c3(t["representations"])], quick, ["teacher"])
    expected = verdict_c3(paper.shipped("representations"))
    assert section.shipped and section.texts["C3_paper_verdict"] == expected.verdict
    assert section.texts["C3_paper_evidence"] == expected.evidence
    assert section.texts["paper_setup"] == paper.describe(families=["teacher"])


def _constructed_map(rng, interior_gain, n_seeds=10, L=3, values=(0.0, 0.5), n_targets=(10, 40), noise=0.01,
                     instances=None, instance_sd=0.0):
    """A phase-map table where every protocol is equal except an interior (1, 0) raised by ``interior_gain``.

    With ``instances``, the replicates are ``instances`` task instances of ``n_seeds`` seeds each (seed
    ids unique, as the sweeps make them), and each instance shifts each protocol by its own draw of
    sd ``instance_sd`` (a protocol that suits one draw of the task better than another)."""
    from tlcore.transfer import candidate_protocols

    rows = []
    for v in values:
        for n in n_targets:
            for t in range(instances or 1):
                shift = {(p.transfer_depth, p.frozen_depth): rng.normal(0, instance_sd) for p in candidate_protocols(L)}
                for s in range(n_seeds):
                    seed = t * n_seeds + s
                    base = rng.normal(0.6, 0.02)
                    for p in candidate_protocols(L):
                        key = (p.transfer_depth, p.frozen_depth)
                        mean = base + (interior_gain if key == (1, 0) else 0.0) + shift[key]
                        row = {"teacher_mix": v, "n_target": n, "seed": seed, "transfer_depth": p.transfer_depth,
                               "frozen_depth": p.frozen_depth, "val_acc": mean + rng.normal(0, noise),
                               "test_acc": mean + rng.normal(0, noise)}
                        rows.append(row if instances is None else {**row, "task_seed": t})
    return pd.DataFrame(rows)


def test_c2_tests_find_a_clear_interior_winner_and_skip_the_source_row():
    t = claims.c2_tests(_constructed_map(np.random.default_rng(0), 0.05), "teacher_mix")
    counted = t[t.counted]
    assert (counted.teacher_mix != 0).all() and len(counted) == 2
    # one task instance: the seeds are the units, one held-out fold per seed
    assert counted.c2.all() and all(w == [(1, 0)] * 10 for w in counted.winners) and (t.unit == "seed").all()
    assert not t[~t.counted].c2.any()
    assert "2 of 2 cells" in claims.c2_controlled_text({"teacher_mix": t})
    t = claims.c2_tests(_constructed_map(np.random.default_rng(0), 0.05, n_seeds=2, instances=5), "teacher_mix")
    assert (t.unit == "task_seed").all() and all(len(w) == 5 for w in t.winners) and t[t.counted].c2.all()


def test_cross_fitted_cells_agree_on_a_clear_winner_and_measure_its_gain_on_held_out_instances():
    t = _constructed_map(np.random.default_rng(10), 0.05, n_seeds=2, instances=5, values=(0.5,), n_targets=(10,))
    c = claims.phase_cells(t, "teacher_mix").iloc[0]
    assert (c.best_transfer_depth, c.best_frozen_depth) == (1, 0) and c.cf_agree == c.cf_folds == 5
    assert c.cf_scratch_margin == pytest.approx(0.05, abs=0.01) and c.cf_scratch_sem < 0.01
    # every fold chose (1, 0): the held-out score is (1, 0)'s mean test accuracy over all replicates
    cell = t[(t.transfer_depth == 1) & (t.frozen_depth == 0)]
    assert c.cf_score == pytest.approx(cell.test_acc.mean()) and c.cf_score_sem > 0
    # equal protocols: the held-out margin of the folds' winners is centred on 0 (no winner's luck),
    # while the same-set margin of the validation winner over scratch is not
    rng = np.random.default_rng(11)
    held, naive, lucky = [], [], []
    for _ in range(30):
        c = claims.phase_cells(_constructed_map(rng, 0.0, n_seeds=2, instances=5, values=(0.5,), n_targets=(10,),
                                                noise=0.01, instance_sd=0.01), "teacher_mix").iloc[0]
        held.append(c.cf_scratch_margin)
        naive.append(c.scratch_margin)
        lucky.append(c.best_score - c.cf_score)
    assert abs(np.mean(held)) < 2 * np.std(held) / np.sqrt(30) + 1e-3 and np.mean(naive) > np.mean(held)
    assert np.mean(lucky) > 0  # the same-set best score is optimistic, the held-out one is not


def test_c2_tests_fire_at_no_more_than_q_when_protocols_are_equal():
    rng = np.random.default_rng(1)
    fired = sum(claims.c2_tests(_constructed_map(rng, 0.0, values=(0.5, 1.0), n_targets=(10, 20, 40)),
                                "teacher_mix").c2.any() for _ in range(40))
    assert fired / 40 <= claims.FDR_Q + 2 * np.sqrt(claims.FDR_Q * (1 - claims.FDR_Q) / 40)


def test_c2_with_task_instances_fires_at_no_more_than_q_on_a_null_where_seeds_alone_would():
    """Protocols equal on average over task instances, but each instance favours its own protocols:
    the rule, tested over instances, keeps its rate; the same networks read as independent seeds
    (the instance ignored) find C2 cells that are one draw's luck."""
    rng = np.random.default_rng(4)
    maps = [_constructed_map(rng, 0.0, n_seeds=6, instances=3, instance_sd=0.02, noise=0.003,
                             values=(0.5, 1.0), n_targets=(10, 20, 40)) for _ in range(40)]
    fired = np.mean([claims.c2_tests(m, "teacher_mix").c2.any() for m in maps])
    naive = np.mean([claims.c2_tests(m, "teacher_mix", unit="seed").c2.any() for m in maps])
    assert fired <= claims.FDR_Q + 2 * np.sqrt(claims.FDR_Q * (1 - claims.FDR_Q) / 40)
    assert naive > fired + 0.2, (naive, fired)


def test_c1_by_family_fires_at_no_more_than_its_rate_on_a_null():
    """Every protocol equal by construction on two 5 x 6 maps: the Holm-controlled C1 tests find a
    dependence (of either kind) in no more than their nominal share of 40 simulated pairs of maps."""
    rng = np.random.default_rng(6)
    values, n_targets = (0.2, 0.4, 0.6, 0.8, 1.0), (10, 20, 40, 80, 160, 320)
    fired = 0
    for _ in range(40):
        maps = {knob: _constructed_map(rng, 0.0, n_seeds=3, instances=3, instance_sd=0.01, values=values,
                                       n_targets=n_targets).rename(columns={"teacher_mix": knob})
                for knob in ("teacher_mix", "feature_mix")}
        held = claims.c1_by_family(maps, n_perm=500)
        fired += bool(held.data_clear.any() or held.similarity_clear.any()) and \
            claims.verdict_c1_by_family(maps, n_perm=500).verdict != "not reproduced"
    rate = 2 * claims.C1_ALPHA  # two kinds of test, each Holm-controlled at C1_ALPHA
    assert fired / 40 <= rate + 2 * np.sqrt(rate * (1 - rate) / 40)


def test_robustness_recomputes_the_verdict_under_each_alternative_and_leave_out_subset():
    rng = np.random.default_rng(9)
    phase = {f"phase_{knob}": _constructed_map(rng, 0.05, n_seeds=2, instances=5, values=(0.0, 0.5, 1.0),
                                               n_targets=(10, 40)).rename(columns={"teacher_mix": knob})
             for knob in ("teacher_mix", "feature_mix")}
    table = claims.robustness("C2", phase, quick=False)
    assert table.alternative.iloc[0] == "as judged" and table.verdict.iloc[0] == "reproduced"
    subsets = table[table.kind == "replicates"]
    assert subsets.alternative.tolist() == [f"without task instance {t}" for t in range(5)]
    rules = table[table.kind == "rule"].alternative.tolist()
    assert "false discovery rate 0.05" in rules and not any("x0.1" in r for r in rules)  # that map is absent
    assert not any("early stopping" in r for r in rules)  # made without checkpoints
    assert table.same.all()  # a 5-point interior gain over 0.01 noise survives every alternative
    assert claims.robustness_summary(table).startswith(f"{len(rules)} of {len(rules)} alternative rules")
    # three instances: leaving one out would change the units, so the seeds within instances are left out
    three = _constructed_map(rng, 0.0, n_seeds=2, instances=3)
    assert [n for n, _ in claims.replicate_subsets(three)] == [
        "without seed 1 of 2 of every instance", "without seed 2 of 2 of every instance"]
    assert len(claims.replicate_subsets(three)[0][1](three)) == len(three) // 2
    with pytest.raises(ValueError, match="needs the tables"):
        claims.robustness("C1", {}, quick=True)


def test_robustness_tries_the_training_schedule_where_the_maps_have_checkpoints():
    """With early-stopped columns the schedule alternatives appear; stopped networks that lose the
    interior gain (every protocol equal once stopped) turn the C2 verdict, and the table says so."""
    rng = np.random.default_rng(9)
    phase = {f"phase_{knob}": _constructed_map(rng, 0.05, n_seeds=2, instances=5, values=(0.0, 0.5, 1.0),
                                               n_targets=(10, 40)).rename(columns={"teacher_mix": knob})
             for knob in ("teacher_mix", "feature_mix")}
    for t in phase.values():
        t["stop_step"] = 100
        noise = rng.normal(0, 0.01, len(t))
        t["pick_acc_stopped"] = t["val_acc_stopped"] = 0.7 + noise  # no protocol better than another
        t["test_acc_stopped"] = 0.7 + noise + rng.normal(0, 0.002, len(t))
    table = claims.robustness("C2", phase, quick=False).set_index("alternative")
    stopped = table.loc["early stopping, chosen per network on validation"]
    assert table.loc["as judged", "verdict"] == "reproduced" and stopped.verdict == "not reproduced"
    assert not stopped.same
    assert "early stopping and the transferred learning rate (1 or 0.1), chosen per network" not in table.index
    slow = dict(phase, **{"phase_teacher_mix_lr0.1": phase["phase_teacher_mix"].copy()})
    both = claims.robustness("C2", slow, quick=False).set_index("alternative")
    assert both.loc["early stopping and the transferred learning rate (1 or 0.1), chosen per network",
                    "verdict"] == "not reproduced"


def _representation_table(rng, probe_gain, instances=3, seeds=2, alphas=(0.0, 1.2), blocks=3, untrained=0.4,
                          inputs=0.5):
    """A C3 table with known answers: block 1's probe beats the later blocks by ``probe_gain``; the
    controls (an untrained network's blocks, the raw inputs as block 0) sit at the given accuracies."""
    rows = []
    for t in range(instances):
        for k in range(seeds):
            seed = t * seeds + k
            for a in alphas:
                rows.append({"kind": "similarity", "measure": "linear_cka", "data": "plenty", "network": "source",
                             "seed": seed, "task_seed": t, "source_block": blocks, "target_block": blocks,
                             "value": 0.9 - 0.5 * a + rng.normal(0, 0.01), "alpha": a})
                probes = [("source", b, 0.6 + (probe_gain if b == 1 else 0.0)) for b in range(1, blocks + 1)]
                probes += [("untrained", b, untrained) for b in range(1, blocks + 1)] + [("inputs", 0, inputs)]
                rows += [{"kind": "probe", "measure": "linear_probe", "data": "", "network": net, "seed": seed,
                          "task_seed": t, "source_block": b, "target_block": np.nan,
                          "value": v + rng.normal(0, 0.01), "alpha": a} for net, b, v in probes]
    return pd.DataFrame(rows)


def test_c3_part_b_is_holm_controlled_over_sources_and_blocks():
    rng = np.random.default_rng(12)
    assert claims.verdict_c3(_representation_table(rng, 0.1)).verdict == "reproduced"
    fired = sum(claims.verdict_c3(_representation_table(rng, 0.0)).verdict == "reproduced" for _ in range(40))
    assert fired / 40 <= claims.C3_ALPHA + 2 * np.sqrt(claims.C3_ALPHA * (1 - claims.C3_ALPHA) / 40)


def test_c3_part_b_needs_the_earlier_block_above_generic_features():
    """An earlier block above the last one is not enough: it must beat the same block untrained and the inputs."""
    rng = np.random.default_rng(3)
    assert claims.verdict_c3(_representation_table(rng, 0.1)).numbers["b"]
    as_untrained = claims.verdict_c3(_representation_table(rng, 0.1, untrained=0.7))
    below_inputs = claims.verdict_c3(_representation_table(rng, 0.1, inputs=0.75))
    assert not as_untrained.numbers["b"] and not below_inputs.numbers["b"]
    assert as_untrained.verdict == below_inputs.verdict == "partly"  # (a) still holds
    table = _representation_table(rng, 0.1)
    with pytest.raises(ValueError, match="untrained"):
        claims.verdict_c3(table[table.network != "untrained"])


def test_c3_across_families_is_partly_when_they_disagree():
    rng = np.random.default_rng(5)
    good = _representation_table(rng, 0.1)
    tables = {"representations": good, "representations_chmm": good.rename(columns={"alpha": "teacher_mix"})}
    assert claims.verdict_c3_families(tables).verdict == "reproduced"
    tables["representations_chmm"] = _representation_table(rng, 0.1, inputs=0.75).rename(columns={"alpha": "teacher_mix"})
    both = claims.verdict_c3_families(tables)
    assert both.verdict == "partly" and "hidden-manifold" in both.evidence


def test_within_correlation_is_exact_by_hand_and_calibrated_on_a_null():
    from tlcore.claims.c1_families import within_correlation

    depth = np.array([3, 2, 1, 3, 2, 1.0])
    x = np.array([10, 20, 40, 10, 20, 40])
    rows = np.array([0, 0, 0, 1, 1, 1])
    rho, p = within_correlation(depth, x, rows, n_perm=500)
    assert rho == pytest.approx(-1.0)
    # exact: only 2 of the 6 x 6 joint orderings reach |rho| = 1 in both rows ... p small but > 0
    assert 0 < p < 0.2
    rng = np.random.default_rng(2)
    ps = [within_correlation(rng.normal(size=24), np.tile([10, 20, 40, 80, 160, 320], 4),
                             np.repeat(range(4), 6), n_perm=200, seed=k)[1] for k in range(60)]
    assert np.mean(np.array(ps) < 0.05) <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / 60)


def test_family_depths_read_the_frozen_depth_of_defrosting_and_ignore_ties():
    from tlcore.claims.c1_families import family_depths

    t = _constructed_map(np.random.default_rng(3), 0.0, values=(0.5,), n_targets=(10,), noise=0.0)
    d = family_depths(t, "teacher_mix").set_index("family").depth
    # every protocol equal: the depth is the mean over the family, not the first arg-max
    assert d["defrosted (L, f)"] == pytest.approx(1.5) and d["fine-tuned (l, 0)"] == pytest.approx(1.5)
    t = _constructed_map(np.random.default_rng(3), 0.05, values=(0.5,), n_targets=(10,), noise=0.0)
    d = family_depths(t, "teacher_mix").set_index("family").depth
    assert d["fine-tuned (l, 0)"] == 1.0 and d["defrosted (L, f)"] == pytest.approx(1.5)  # (1, 0) is not (L, f)


def test_freezing_verdict_words_follow_which_recipes_win():
    from tlcore.claims import verdict_freezing

    rng = np.random.default_rng(5)
    rows = []
    for alpha, (tune_gain, freeze_gain) in {0.3: (0.0, 0.05), 1.2: (0.05, 0.0)}.items():
        for seed in range(8):
            base = rng.normal(0.6, 0.02)
            for t, f in [(0, 0), (1, 0), (1, 1), (2, 0), (2, 2)]:
                gain = tune_gain if (t > 0 and f == 0) else freeze_gain if (t > 0 and f == t) else 0.0
                rows.append({"alpha": alpha, "n_target": 20, "seed": seed, "transfer_depth": t, "frozen_depth": f,
                             "val_acc": base + gain + rng.normal(0, 0.003),
                             "test_acc": base + gain + rng.normal(0, 0.003)})
    table = pd.DataFrame(rows)
    both = verdict_freezing(table, "alpha")
    assert both.verdict == "reproduced" and "freezing wins at (alpha 0.3" in both.evidence
    one = verdict_freezing(table[table.alpha == 0.3], "alpha")
    assert one.verdict == "partly" and one.evidence.startswith("freezing wins")
    # cross-fitted over the 8 seeds (one instance, so one fold per seed): the two recipes of a family
    # tie (both frozen protocols gain alike), the folds may pick either, and the held-out difference is
    # the built-in gain
    cells = claims.freeze_or_tune(table, "alpha").set_index("alpha")
    assert (cells.folds == 8).all() and (cells.folds_agree <= cells.folds).all()
    assert cells.loc[0.3, "verdict"] == "freeze" and cells.loc[0.3, "difference"] == pytest.approx(-0.05, abs=0.005)
    assert cells.loc[1.2, "verdict"] == "fine-tune" and cells.loc[1.2, "difference"] == pytest.approx(0.05, abs=0.005)


def _equal_protocols(rng, cells=40, instances=5):
    rows = []
    for alpha in range(cells):
        for task_seed in range(instances):
            shift = rng.normal(0, 0.01)
            for seed in range(2):
                for t, f in [(0, 0), (1, 0), (1, 1), (2, 0), (2, 2), (3, 0), (3, 3)]:
                    rows.append({"alpha": alpha, "n_target": 20, "task_seed": task_seed, "seed": 2 * task_seed + seed,
                                 "transfer_depth": t, "frozen_depth": f,
                                 "val_acc": 0.6 + shift + rng.normal(0, 0.01), "test_acc": 0.6 + shift + rng.normal(0, 0.01)})
    return pd.DataFrame(rows)


def test_freeze_or_tune_is_centred_on_zero_when_every_protocol_is_equal():
    """Equal protocols, five task instances: the held-out tuned-minus-frozen difference has no
    winner's luck, and across simulated null maps a side is called in some cell of a map at most
    about as often as the false discovery rate allows (under the global null, FDR = the chance of
    any call)."""
    rng = np.random.default_rng(8)
    cells = claims.freeze_or_tune(_equal_protocols(rng), "alpha")
    assert (cells.folds == 5).all()
    assert abs(cells.difference.mean()) < 3 * cells.difference.std() / np.sqrt(40)
    assert cells.p_value.between(0, 1).all() and cells.p_value.std() > 0.1  # p spread over [0, 1], not degenerate
    maps = 60
    any_call = np.mean([(claims.freeze_or_tune(_equal_protocols(rng, cells=10), "alpha").verdict != "tie").any()
                        for _ in range(maps)])
    # binomial slack: FDR 0.10 over 60 null maps; 2-SE calls without control would fire in most maps
    assert any_call <= claims.FREEZING_FDR + 2.5 * np.sqrt(0.1 * 0.9 / maps)


def test_recovered_table_keeps_the_gap_guard_and_names_the_least_recovered_knob():
    rows = []
    for knob, source in {"feature_mix": [0.9, 0.8], "teacher_mix": [0.5, 0.2]}.items():
        for block, (s, ref, floor) in enumerate(zip(source, [1.0, 0.3], [0.0, 0.3])):
            for curve, value in (("source", s), ("reference", ref), ("floor", floor)):
                rows.append({knob: 0.6, "n_target": 20, "measure": "linear_cka", "curve": curve, "block": block,
                             "mean": value})
    bands = {knob: pd.DataFrame([r for r in rows if knob in r]) for knob in ("feature_mix", "teacher_mix")}
    table = claims.recovered_table(bands, 20, [0.6])
    assert table.loc[("feature_mix", 0.6)].iloc[0] == pytest.approx(0.9)
    assert np.isnan(table.loc[("teacher_mix", 0.6)].iloc[1])  # the reference is not above the floor: NaN
    assert claims.least_recovered(table, 0.6) == "teacher_mix"
    with pytest.raises(ValueError, match="no 'linear_cka' profile"):
        claims.recovered_table(bands, 40, [0.6])


def test_the_paper_scale_freezing_verdict_combines_the_maps_and_sums_their_cells():
    rng = np.random.default_rng(11)

    def one_map(knob, tune_gain, freeze_gain):
        rows = []
        for value, (tg, fg) in {0.0: (0.0, freeze_gain), 0.6: (tune_gain, 0.0)}.items():
            for task_seed in range(5):
                base = rng.normal(0.6, 0.02)
                for t, f in [(0, 0), (1, 0), (1, 1), (2, 0), (2, 2)]:
                    gain = tg if (t > 0 and f == 0) else fg if (t > 0 and f == t) else 0.0
                    rows.append({knob: value, "n_target": 20, "task_seed": task_seed, "seed": task_seed,
                                 "transfer_depth": t, "frozen_depth": f,
                                 "val_acc": base + gain + rng.normal(0, 0.003), "test_acc": base + gain + rng.normal(0, 0.003)})
        return pd.DataFrame(rows)

    tables = {"phase_teacher_mix": one_map("teacher_mix", 0.05, 0.05), "phase_feature_mix": one_map("feature_mix", 0.0, 0.05)}
    v = claims.verdict_freezing_maps(tables)
    assert v.verdict == "partly"  # both recipes win on one map, only freezing on the other
    assert v.key == "freezing wins 2, fine-tuning 1 of 4 cells (2 maps)"
    assert "teacher_mix map" in v.evidence and "feature_mix map" in v.evidence
    with pytest.raises(ValueError, match="none of"):
        claims.verdict_freezing_maps({"selection": tables["phase_teacher_mix"]})
