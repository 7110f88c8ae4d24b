"""The paper's claims as computations: the sweeps behind each claim and a verdict with its margin.

The chapters and the introduction call the same functions, so a verdict in the introduction's
table and the figure in a chapter come from one computation (the sweeps are cached, so the second
caller reads what the first computed). A protocol is always chosen on a validation split carved
from the target's pool and reported on the test set; margins are paired per seed with standard
errors from :mod:`tlcore.stats`; a difference within two standard errors is a tie.

Layout: :mod:`.sweeps` (the registered sweeps and their constants), :mod:`.statements` (the claims in
words and their chapters), :mod:`.verdict` (the verdict record and the one word rule), :mod:`.cells`
(per-cell readings of a map), :mod:`.deep` (where the optimum sits in a deep network), one module per claim (:mod:`.c1` ... :mod:`.c4`), :mod:`.robustness`
(each verdict under the alternatives a reviewer tries) and :mod:`.beyond` (the profile -> depth
predictor, beyond the paper).
"""
from __future__ import annotations

import pandas as pd

from .beyond import (depth_link, evaluate_predictor, held_out_predictor, least_recovered, profile_bands,
                     recovered_table)
from .c1 import verdict_c1
from .c1_families import C1_ALPHA, TIE_RULES, c1_by_family, family_depths, verdict_c1_by_family
from .c2 import FDR_Q, OFTEN, c2_controlled_text, c2_tests, verdict_c2, verdict_c2_controlled
from .c3 import C3_ALPHA, C3_FAMILIES, verdict_c3, verdict_c3_across, verdict_c3_families
from .c4 import C4_ALPHA, C4_PREREGISTERED, mnist1d_setting, scratch_accuracy, scratch_on_validation, selection_setting, verdict_c4, verdict_c4_across, verdict_c4_benchmarks
from .cells import (FREEZING_FDR, cross_fitted_cells, family_winners, freeze_or_tune, phase_cells, phase_cells_all_families, scratch_catches_up, transfer_helps,
                    training_choices, verdicts_agree)
from .deep import DEPTH_FAMILIES, optimum_depths
from .freezing import FREEZING_MAPS, FREEZING_STATEMENT, verdict_freezing, verdict_freezing_maps
from .robustness import ALTERNATIVES, JUDGES, replicate_subsets, robustness, robustness_summary, robustness_table
from .statements import CHAPTERS, SHORT, STATEMENTS, SWEEP_CHAPTERS
from .sweeps import (REPLICATES, REPRESENTATION_SEEDS, describe_replicates, replicates, CLAIM_INPUTS, CLAIM_SWEEPS, MNIST_SELECTION_VALUES, MNIST_SELECTION_VARIANTS, N_VAL, PHASE_GRID, phase_grid, DEEP_GRID, deep_sweep,
                     PROFILE_PROBE, PROFILE_SEEDS, SELECTION_CANDIDATES, CALIBRATION_CANDIDATES, calibration_sweep, STOPPING_CHECKPOINTS, SELECTION_MEASURES, SELECTION_N_VAL,
                     SELECTION_SETTING, claim_tables, mnist1d_selection, phase_sweep, profile_sweep,
                     representation_sweep, chmm_representation_sweep, CHMM_REPRESENTATION_VALUES, selection_sweep,
                     freezing_sweep, IMAGE_TARGETS, IMAGE_N_TARGETS, IMAGE_N_VAL, images_sweep)
from .verdict import VERDICT_WORDS, Verdict, claim_word, verdict_agreement

__all__ = ["transfer_helps", "REPLICATES", "REPRESENTATION_SEEDS", "describe_replicates", "replicates", "PHASE_GRID", "phase_grid", "DEEP_GRID", "deep_sweep", "DEPTH_FAMILIES", "optimum_depths", "N_VAL", "Verdict", "phase_sweep", "phase_cells",
           "verdict_c1", "verdict_c2", "verdict_c3", "verdict_c3_across", "verdict_c3_families", "C3_FAMILIES", "chmm_representation_sweep", "CHMM_REPRESENTATION_VALUES", "verdict_c4", "C4_PREREGISTERED", "calibration_sweep", "CALIBRATION_CANDIDATES", "representation_sweep", "phase_cells_all_families",
           "freeze_or_tune", "FREEZING_FDR", "verdicts_agree", "selection_sweep", "SELECTION_MEASURES", "all_verdicts",
           "SELECTION_CANDIDATES", "SELECTION_SETTING", "SELECTION_N_VAL", "MNIST_SELECTION_VALUES", "MNIST_SELECTION_VARIANTS",
           "mnist1d_selection", "selection_setting", "verdict_c4_across", "profile_sweep", "profile_bands",
           "depth_link", "evaluate_predictor", "held_out_predictor", "PROFILE_SEEDS", "PROFILE_PROBE",
           "CLAIM_SWEEPS", "CLAIM_INPUTS", "claim_tables", "IMAGE_TARGETS", "IMAGE_N_TARGETS", "IMAGE_N_VAL", "images_sweep", "verdicts_from", "verdict_agreement", "claim_word",
           "VERDICT_WORDS", "OFTEN", "STATEMENTS", "SHORT", "CHAPTERS", "SWEEP_CHAPTERS", "recovered_table", "least_recovered", "mnist1d_setting", "scratch_accuracy", "scratch_on_validation", "family_winners", "freezing_sweep", "phase_verdicts",
           "FDR_Q", "C3_ALPHA", "C4_ALPHA", "verdict_c4_benchmarks", "TIE_RULES", "ALTERNATIVES", "JUDGES", "replicate_subsets", "robustness", "robustness_summary", "robustness_table",
           "c2_tests", "c2_controlled_text", "C1_ALPHA",
           "c1_by_family", "family_depths", "verdict_c1_by_family", "verdict_c2_controlled",
           "verdict_freezing", "verdict_freezing_maps", "FREEZING_MAPS", "FREEZING_STATEMENT", "training_choices", "STOPPING_CHECKPOINTS", "scratch_catches_up", "cross_fitted_cells"]


def phase_verdicts(tables) -> list[Verdict]:
    """C1 (read within protocol families, :mod:`.c1_families`) and C2 (cross-fitted and error-controlled,
    :func:`.c2.verdict_c2_controlled`) from the two phase maps (tables by sweep name, ``phase_teacher_mix`` and ``phase_feature_mix``)."""
    phase = {knob: tables[f"phase_{knob}"] for knob in ("teacher_mix", "feature_mix")}
    return [verdict_c1_by_family(phase), verdict_c2_controlled(phase)]


def verdicts_from(tables: dict[str, pd.DataFrame], quick: bool) -> list[Verdict]:
    """Every claim's verdict from the tables of :data:`CLAIM_SWEEPS` (``quick``: the sizes they were made at)."""
    missing = sorted({n for names in CLAIM_INPUTS.values() for n in names} - set(tables))
    if missing:
        raise ValueError(f"the verdicts need the tables {missing}")
    return [*phase_verdicts(tables), verdict_c3_families(tables), verdict_c4_benchmarks(tables, quick)]


def all_verdicts(quick: bool = True, device: str = "auto") -> list[Verdict]:
    """Every claim's verdict from the chapters' own experiments (at their default parameters)."""
    needed = {n for names in CLAIM_INPUTS.values() for n in names}
    return verdicts_from(claim_tables(quick, device, [n for n in CLAIM_SWEEPS if n in needed]), quick)
