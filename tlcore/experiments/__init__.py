"""Everything that trains networks for a purpose.

Layout: :mod:`.config` (the shared training settings), :mod:`.training` (the two training paths every
experiment uses), one module per experiment (:mod:`.depth`, :mod:`.selection`,
:mod:`.representations`) and :mod:`.cells` (grid cells from plain values; ``EXPERIMENTS`` names the
experiments :func:`tlcore.sweep.run` can run).
"""
from .cells import (EXPERIMENTS, depth_experiment, profiles_experiment, representations_experiment,
                    selection_experiment, split_params)
from .config import TrainingConfig, default_model_kind, training_defaults
from .depth import depth_sweep
from .representations import (PROFILE_MEASURES, compare_representations, input_probe_accuracy, linear_probe_accuracy,
                              similarity_profiles)
from .selection import UNTRAINED, candidate_sources, source_selection
from .training import Run, evaluate_protocols, pretrain, train_fresh, train_scratch

__all__ = ["TrainingConfig", "Run", "train_fresh", "pretrain", "train_scratch", "evaluate_protocols",
           "depth_sweep", "candidate_sources", "source_selection", "linear_probe_accuracy",
           "compare_representations", "input_probe_accuracy", "similarity_profiles", "split_params", "depth_experiment",
           "selection_experiment", "representations_experiment", "profiles_experiment", "PROFILE_MEASURES",
           "EXPERIMENTS", "default_model_kind", "training_defaults", "UNTRAINED"]
