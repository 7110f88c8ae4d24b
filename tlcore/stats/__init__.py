"""Statistics over replicates for protocol comparisons, in one place.

* :mod:`.kernel`: the one paired comparison (mean, SE, n, verdict word) and group summaries;
* :mod:`.bootstrap`: percentile intervals with the resampling units as an argument (hierarchical);
* :mod:`.tables`: the checked input tables the choosers read;
* :mod:`.choice`: winners chosen on one set of numbers and reported on another;
* :mod:`.ranks`: tie-aware ranks against a noisy ground truth;
* :mod:`.crossfit`: the replicate units of a table, and winners chosen on one fold of replicates and
  scored on the other;
* :mod:`.multiple`: one-sided p-values, the intersection-union test, BH and Holm across cells;
* :mod:`.coverage`: how often those intervals cover a known mean, by simulation;
* :mod:`.network_choice`: choices each network makes on its own validation data (early stopping,
  a training variant such as the transferred blocks' learning-rate scale).
"""
from .bootstrap import Interval, bootstrap, bootstrap_ci, expanded_level, percentile_interval, resample_indices
from .coverage import Coverage, bootstrap_coverage
from .choice import (choose_on_validation, cross_fitted_choice, optimality_probability, paired_difference,
                     winner_significance)
from .crossfit import MIN_INSTANCES, cross_fitted_winners, fold_of, replicate_clusters, replicate_unit
from .network_choice import STOPPED_COLUMNS, choose_variant, early_stopped
from .multiple import benjamini_hochberg, holm, intersection_union, one_sided_p
from .kernel import WORDS, Comparison, compare, compare_columns, mean_se_text, sem, significant, summary
from .ranks import tie_aware_ranks, tied_with_best, within_noise
from .tables import PROTOCOL, SEED, ProtocolKey

__all__ = ["paired_difference", "choose_on_validation", "cross_fitted_choice", "optimality_probability",
           "winner_significance", "tie_aware_ranks", "tied_with_best", "bootstrap_ci", "bootstrap",
           "percentile_interval", "expanded_level", "resample_indices", "Interval", "Comparison", "compare", "compare_columns", "sem", "significant", "summary", "WORDS",
           "PROTOCOL", "SEED", "ProtocolKey", "within_noise", "benjamini_hochberg", "holm",
           "intersection_union", "one_sided_p", "cross_fitted_winners", "fold_of",
           "MIN_INSTANCES", "replicate_unit", "replicate_clusters", "STOPPED_COLUMNS", "early_stopped",
           "choose_variant", "mean_se_text", "Coverage", "bootstrap_coverage"]
