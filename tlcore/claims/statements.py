"""The paper's four claims in words, and the chapters that test them (read by the introduction and
the scale chapter, so the two never disagree)."""
from __future__ import annotations

__all__ = ["STATEMENTS", "SHORT", "CHAPTERS", "SWEEP_CHAPTERS"]

STATEMENTS = {
    "C1": "the optimal transfer depth depends non-trivially on the number of target examples and on "
          "source-target similarity",
    "C2": "transferring only the first layers often beats both scratch training and full transfer",
    "C3": "source features are not always like those a network learns with plenty of target data, and "
          "the last hidden layer is not always the most useful",
    "C4": "the best source can be found by comparing the representations of a scratch-trained target "
          "network with those of each source network",
}

# the claims in a few words, for one-line tables
SHORT = {"C1": "the best depth depends on target size and similarity",
         "C2": "transferring only the first layers often wins",
         "C3": "source features differ from plenty-data ones; the last layer is not always best",
         "C4": "representation similarity finds the best source"}

# claim -> the chapters (book/NAME.md) that test it; C4 combines both chapters' benchmarks
CHAPTERS = {"C1": ["transfer_depth"], "C2": ["transfer_depth"], "C3": ["representations"],
            "C4": ["source_selection", "real_data"]}

# claim sweep -> the chapter that reads it, as the scale chapter names it
SWEEP_CHAPTERS = {"phase_teacher_mix": "transfer depth (C1, C2)", "phase_feature_mix": "transfer depth (C1, C2)",
                  "phase_teacher_mix_lr0.1": "transfer depth (learning rate)",
                  "deep_teacher_mix": "transfer depth (deeper network)",
                  "representations": "representations (C3, teacher)",
                  "representations_chmm": "representations (C3, hidden manifold)", "selection": "source selection (C4)",
                  "selection_mnist1d": "real data (C4)", "images": "images (C1, C2)"}
