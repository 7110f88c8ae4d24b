"""The sweeps behind the claim chapters and their constants, registered by name.

:data:`CLAIM_SWEEPS` is what the verdicts read and what :mod:`tlcore.paper` ships at paper scale;
each entry takes ``(quick, device)`` and returns the sweep's table (cached cell by cell).
"""
from __future__ import annotations

import pandas as pd

from ..presets import sizes
from ..sweep import default_cache_dir, instance_seeds, run_replicated
from ..transfer import all_protocols, candidate_protocols

__all__ = ["REPLICATES", "replicates", "describe_replicates", "PHASE_GRID", "phase_grid", "DEEP_GRID", "deep_sweep", "N_VAL", "STOPPING_CHECKPOINTS", "phase_sweep", "representation_sweep", "chmm_representation_sweep", "CHMM_REPRESENTATION_VALUES", "SELECTION_MEASURES",
           "SELECTION_CANDIDATES", "CALIBRATION_CANDIDATES", "calibration_sweep", "SELECTION_SETTING", "SELECTION_N_VAL", "MNIST_SELECTION_VALUES",
           "selection_sweep", "mnist1d_selection", "MNIST_SELECTION_VARIANTS", "freezing_sweep", "REPRESENTATION_SEEDS", "PROFILE_SEEDS", "PROFILE_PROBE", "profile_sweep",
           "CLAIM_SWEEPS", "CLAIM_INPUTS", "claim_tables", "IMAGE_TARGETS", "IMAGE_N_TARGETS", "IMAGE_N_VAL", "images_sweep"]

# Replicates of every claim sweep: (task instances, training seeds per instance), by scale. A task
# instance is a fresh draw of the family's features and teacher (task_seed); each has seeds of its own
# (tlcore.sweep.instance_seeds). Fixed before the replicated sweeps were run or judged. Quick mode had
# 3 seeds per instance until 2026-12-07; it now has the paper's 2, to fit the quick book's 10 minutes
# (its verdicts were the same at both, checked that day).
REPLICATES = {"quick": (3, 2), "paper": (5, 2)}


def replicates(quick: bool, instances: int | None = None, seeds: int | None = None) -> tuple[int, int]:
    """``(instances, seeds per instance)``: the scale's :data:`REPLICATES` where an argument is None."""
    default = REPLICATES["quick" if quick else "paper"]
    return (default[0] if instances is None else instances, default[1] if seeds is None else seeds)


def describe_replicates(table: pd.DataFrame) -> str:
    """A table's replicates in words, for a chapter: "6 replicates (3 task instances of 2 seeds)"."""
    per_instance = table.groupby("task_seed").seed.nunique() if "task_seed" in table.columns else None
    if per_instance is None or len(per_instance) == 1:
        return f"{table.seed.nunique()} seeds"
    seeds = (f"{per_instance.iloc[0]} seed{'s' if per_instance.iloc[0] != 1 else ''}" if per_instance.nunique() == 1
             else f"{per_instance.min()} to {per_instance.max()} seeds")
    return f"{table.seed.nunique()} replicates ({len(per_instance)} task instances of {seeds})"


# The phase diagrams of the transfer-depth chapter, by scale: similarity values x target sizes.
# Paper scale: 8 similarities dense near the identical task and target sizes on a log-2 grid up to
# 2,560, where scratch training is expected to catch up in the dissimilar rows; the target pool is
# enlarged to hold the largest size and the validation set. Quick mode keeps the 6 x 6 grid of a
# 2-core book build. Fixed before the enlarged maps were run.
PHASE_GRID = {
    "quick": dict(values=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0), n_targets=(10, 20, 40, 80, 160, 320)),
    "paper": dict(values=(0.0, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0),
                  n_targets=(10, 20, 40, 80, 160, 320, 640, 1280, 2560), n_target_pool=3100),
}


def phase_grid(quick: bool) -> dict:
    """The scale's phase-map grid: ``values`` (of the knob), ``n_targets`` and, where the
    family's default pool is too small, ``n_target_pool``."""
    grid = PHASE_GRID["quick" if quick else "paper"]
    return {k: list(v) if isinstance(v, tuple) else v for k, v in grid.items()}


N_VAL = 500  # validation examples carved from the target pool, per seed

# Every phase-map network is scored on validation at this many evenly spaced steps, so that its
# stopping step can be chosen (per network, on half of its validation set; tlcore.stats.early_stopped).
STOPPING_CHECKPOINTS = 8


_OTHER = {"feature_mix": "teacher_mix", "teacher_mix": "feature_mix"}


def phase_sweep(knob: str, quick: bool = True, seeds: int | None = None, transferred_lr_scale: float = 1.0,
                device: str = "auto", cache_dir=None, executor=None, instances: int | None = None) -> pd.DataFrame:
    """Every candidate protocol on the correlated hidden-manifold model, over ``knob`` x ``n_target``.

    ``knob`` is ``"feature_mix"`` (the inputs' features change) or ``"teacher_mix"`` (the labelling
    rule changes); the other knob is 0. ``instances`` task instances with ``seeds`` training seeds
    each (None: the scale's :data:`REPLICATES`). One row per network with ``val_acc`` and ``test_acc``
    after the full training, and the early-stopped columns of :data:`STOPPING_CHECKPOINTS` checkpoints.
    """
    if knob not in _OTHER:
        raise ValueError(f"unknown knob {knob!r}; expected one of {sorted(_OTHER)}")
    s, grid = sizes(quick, "hidden_manifold"), phase_grid(quick)
    s.update({k: v for k, v in grid.items() if k in s})
    return run_replicated("depth", {knob: grid["values"]}, cache_dir or default_cache_dir(),
               *replicates(quick, instances, seeds), executor=executor,
               family="hidden_manifold", n_targets=grid["n_targets"],
               protocols=candidate_protocols(s["depth"]), n_val=N_VAL, checkpoints=STOPPING_CHECKPOINTS,
               transferred_lr_scale=transferred_lr_scale,
               device=device, **{_OTHER[knob]: 0.0}, **s)


# The deep-network sub-grid (paper scale): L = 8 blocks, frozen and fine-tuned transfer at every
# depth, on 3 similarities x 4 target sizes of the teacher_mix map, with the map's replicates and
# checkpoints. Quick mode: the same shape at the quick sizes on the two smallest target sizes.
DEEP_GRID = {
    "quick": dict(depth=8, values=(0.0, 0.6), n_targets=(10, 80)),
    "paper": dict(depth=8, values=(0.0, 0.2, 0.6), n_targets=(10, 40, 160, 640)),
}


def deep_sweep(quick: bool = True, seeds: int | None = None, device: str = "auto", cache_dir=None,
               executor=None, instances: int | None = None) -> pd.DataFrame:
    """``(l, 0)`` and ``(l, l)`` for every ``l`` of an L = 8 network on the teacher_mix map's task
    family, over :data:`DEEP_GRID`: where the best transfer depth sits as a fraction of the depth."""
    grid = DEEP_GRID["quick" if quick else "paper"]
    s = {**sizes(quick, "hidden_manifold"), "depth": grid["depth"]}
    return run_replicated("depth", {"teacher_mix": list(grid["values"])}, cache_dir or default_cache_dir(),
               *replicates(quick, instances, seeds), executor=executor,
               family="hidden_manifold", n_targets=list(grid["n_targets"]),
               protocols=all_protocols(grid["depth"]), n_val=N_VAL, checkpoints=STOPPING_CHECKPOINTS,
               device=device, feature_mix=0.0, **s)


def freezing_sweep(quick: bool = True, seeds: int | None = None, alphas=(0.3, 1.2), shared_depth: int = 1,
                   n_targets=(20, 100, 500), device: str = "auto", cache_dir=None,
                   instances: int | None = None) -> pd.DataFrame:
    """The freezing chapter's sweep: every candidate protocol on the hierarchical teacher, one cached
    cell per ``alpha`` (one row per network with ``val_acc`` and ``test_acc``)."""
    s = sizes(quick, "teacher")
    return run_replicated("depth", {"alpha": list(alphas)}, cache_dir or default_cache_dir(),
               *replicates(quick, instances, seeds), family="teacher", shared_depth=shared_depth, n_targets=list(n_targets),
               protocols=candidate_protocols(s["depth"]), n_val=N_VAL, device=device, **s)


REPRESENTATION_SEEDS = {"quick": 2, "paper": 1}  # seeds per task instance (each trains three networks)


def representation_sweep(quick: bool = True, seeds: int | None = None, alphas=(0.0, 0.6, 1.2), shared_depth: int = 1,
                         n_small: int = 100, device: str = "auto", cache_dir=None,
                         instances: int | None = None) -> pd.DataFrame:
    """The representations chapter's comparisons (teacher family), one cached cell per ``alpha`` and
    task instance (seeds per instance: :data:`REPRESENTATION_SEEDS` unless given)."""
    seeds = REPRESENTATION_SEEDS["quick" if quick else "paper"] if seeds is None else seeds
    return run_replicated("representations", {"alpha": list(alphas)}, cache_dir or default_cache_dir(),
               *replicates(quick, instances, seeds), family="teacher",
               shared_depth=shared_depth, n_small=n_small, device=device,
               **sizes(quick, "teacher"))


# C3 on the model of C1 and C2: labelling rules from the source's own to the most dissimilar one at
# which the paper-scale map's cross-fitted winners near n_small = 100 (n_target 80 and 160) still
# transfer at least one block (at 0.6 scratch wins at 80); the chapter re-checks this on its map.
CHMM_REPRESENTATION_VALUES = (0.0, 0.2, 0.4)


def chmm_representation_sweep(quick: bool = True, seeds: int | None = None,
                              values=CHMM_REPRESENTATION_VALUES, n_small: int = 100, device: str = "auto",
                              cache_dir=None, instances: int | None = None) -> pd.DataFrame:
    """C3's comparisons on the hidden-manifold model, one cached cell per ``teacher_mix`` and task
    instance (the maps' sizes; seeds per instance as :func:`representation_sweep`)."""
    seeds = REPRESENTATION_SEEDS["quick" if quick else "paper"] if seeds is None else seeds
    return run_replicated("representations", {"teacher_mix": list(values)}, cache_dir or default_cache_dir(),
               *replicates(quick, instances, seeds), family="hidden_manifold", feature_mix=0.0,
               n_small=n_small, device=device, **sizes(quick, "hidden_manifold"))


SELECTION_MEASURES = ["neighbourhood_overlap", "linear_cka", "information_imbalance", "information_imbalance_reverse"]


# Candidates in matched pairs: each low-level one (features of the inputs mixed) is paired with a
# high-level one (labelling rule mixed) whose trained network agrees about as often with the
# target's labels on the target's inputs (zero-shot agreement 0.82, 0.68 and 0.42 in a calibration run
# at quick sizes, two seeds). No candidate is a copy of the target.
SELECTION_CANDIDATES = [{"feature_mix": 0.3}, {"teacher_mix": 0.1}, {"feature_mix": 0.6}, {"teacher_mix": 0.2},
                        {"feature_mix": 1.0}, {"teacher_mix": 0.45}]


SELECTION_SETTING = {"n_probe": "n_target", "k": 10, "aggregate": "diagonal"}  # the paper's: the target data alone


SELECTION_N_VAL = 300


MNIST_SELECTION_VALUES = [0.2, 0.4, 0.7, 1.0]  # input_shift of the candidates (0 would be a copy of the target)

# The variants of the MNIST-1D selection, scored on the same networks: the scratch reference network's
# training length and learning rate (C4 uses the one best on validation), and the probe, k and layers
# that diagnose the representation measures. Paper scale: all of them (fixed before its benchmark was
# run). Quick mode (cut on 2026-12-07 to fit the quick book's 10 minutes): no longer training and no
# larger probe, which cost more than half of the sweep; it keeps the two learning rates, so the
# choice on validation is still made, and the cheap k and layer variants. The real-data chapter's
# diagnosis reads the paper-scale table, which has every variant.
MNIST_SELECTION_VARIANTS = {
    "paper": dict(scratch_steps=(None, 2000), scratch_lr=(None, 3e-3), n_probe=(None, 300), k=(5, 10, 25),
                  aggregate=("diagonal", "last")),
    "quick": dict(scratch_steps=(None,), scratch_lr=(None, 3e-3), n_probe=(None,), k=(5, 10, 25),
                  aggregate=("diagonal", "last")),
}


def selection_sweep(quick: bool = True, seeds: int | None = None, family: str = "hidden_manifold", candidates=None,
                    family_params=None, n_targets=(20, 60), aggregate="diagonal", n_probe=(None, 500),
                    k=(5, 10, 30), device: str = "auto", cache_dir=None, instances: int | None = None) -> pd.DataFrame:
    """The source-selection chapter's benchmark: candidates that differ in low- or high-level features
    at matched zero-shot agreement, an untrained control, every measure of ``SELECTION_MEASURES`` on
    each probe size and ``k``, and every transferability baseline; ground truth chosen on validation."""
    candidates = SELECTION_CANDIDATES if candidates is None else [dict(c) for c in candidates]
    family_params = {"feature_mix": 0.0, "teacher_mix": 0.0} if family_params is None else dict(family_params)
    training = sizes(quick, family, "training")
    protocols = [p for p in all_protocols(training["depth"]) if p.transfer_depth > 0]
    return run_replicated("source_selection", {}, cache_dir or default_cache_dir(),
               *replicates(quick, instances, seeds), family=family, knob=None, values=[], candidates=candidates, untrained_control=True,
               n_targets=list(n_targets), family_params={**family_params, **sizes(quick, family, "data")},
               protocols=protocols, aggregate=aggregate, k=list(k) if isinstance(k, (list, tuple)) else k,
               n_probe=list(n_probe) if isinstance(n_probe, (list, tuple)) else n_probe, n_val=SELECTION_N_VAL,
               device=device, measures=SELECTION_MEASURES, **training)


# C4's calibration benchmark (the teacher family, whose transferable part is known by construction):
# candidates that differ in their low-level features (shared_depth 0: every teacher layer mixed) or only
# in their high-level ones (shared_depth 2: the first two layers shared exactly), each at a small and a
# large mixing angle, plus an unrelated teacher. C4's one measure, probe and aggregation are chosen on
# this benchmark (tlcore.claims.c4_calibration) before the C4 benchmarks are judged with them.
CALIBRATION_CANDIDATES = [{"shared_depth": 2, "alpha": 0.4}, {"shared_depth": 0, "alpha": 0.4},
                          {"shared_depth": 2, "alpha": 1.2}, {"shared_depth": 0, "alpha": 1.2},
                          {"shared_depth": 1, "alpha": 0.8}, {"shared_depth": 0, "alpha": 1.5707963267948966}]


def calibration_sweep(quick: bool = True, seeds: int | None = None, device: str = "auto", cache_dir=None,
                      instances: int | None = None) -> pd.DataFrame:
    """C4's calibration benchmark: :func:`selection_sweep` on the teacher family's
    :data:`CALIBRATION_CANDIDATES` (the target: the family's base teacher, ``shared_depth`` 1, ``alpha`` 0)."""
    return selection_sweep(quick, seeds, family="teacher", candidates=CALIBRATION_CANDIDATES,
                           family_params={"shared_depth": 1, "alpha": 0.0}, device=device, cache_dir=cache_dir,
                           instances=instances)


def mnist1d_selection(quick: bool = True, seeds: int | None = None, values=tuple(MNIST_SELECTION_VALUES), n_target: int = 50,
                      scratch_steps=None, scratch_lr=None, n_probe=None, k=None, aggregate=None, device: str = "auto",
                      cache_dir=None, instances: int | None = None) -> pd.DataFrame:
    """The real-data chapter's source selection: MNIST-1D candidates whose inputs are permuted by
    ``values``, an untrained control, and the variants that diagnose the representation measures
    (scratch training length and learning rate, whose accuracies let C4 use the one best on
    validation; probe size, k, which layers are compared). A variant argument left None takes the
    scale's :data:`MNIST_SELECTION_VARIANTS`; inside a list, None is the default (the training's own
    steps or learning rate, the target's own examples as the probe)."""
    given = {"scratch_steps": scratch_steps, "scratch_lr": scratch_lr, "n_probe": n_probe, "k": k, "aggregate": aggregate}
    variants = {name: list(MNIST_SELECTION_VARIANTS["quick" if quick else "paper"][name] if v is None else
                           v if isinstance(v, (list, tuple)) else [v]) for name, v in given.items()}
    cnn = sizes(quick, "mnist1d")
    training = {key: v for key, v in cnn.items() if key != "num_samples"}
    protocols = [p for p in all_protocols(cnn["depth"]) if p.transfer_depth > 0]
    return run_replicated("source_selection", {}, cache_dir or default_cache_dir(),
               *replicates(quick, instances, seeds), family="mnist1d", knob="input_shift", values=list(values), untrained_control=True,
               n_targets=[n_target], family_params={"label_shift": 0.0, "num_samples": cnn["num_samples"],
                                                    "source_fraction": 0.5},
               protocols=protocols, measures=SELECTION_MEASURES, **variants, n_val=SELECTION_N_VAL,
               device=device, **training)


# The images chapter's depth curves: MNIST source, two targets (other MNIST images; scikit-learn's
# digits, a cross-dataset shift), every protocol of the ResNet-18 shape at these target sizes, with
# IMAGE_N_VAL validation examples per seed. Fixed before the paper-scale curves were run.
IMAGE_TARGETS = ("mnist", "digits")
IMAGE_N_TARGETS = (20, 60, 200)
IMAGE_N_VAL = 100


def images_sweep(quick: bool = True, seeds: int | None = None, device: str = "auto", cache_dir=None,
                 instances: int | None = None, n_targets=IMAGE_N_TARGETS, n_val: int = IMAGE_N_VAL) -> pd.DataFrame:
    """The images chapter's depth curves over task instances (each a fresh split of the MNIST
    images into source and target, and fresh classes): every protocol of ``sizes(quick, "mnist")``'s
    ResNet at ``n_targets`` target examples (``n_val`` validation examples per seed), on both
    :data:`IMAGE_TARGETS`."""
    training = sizes(quick, "mnist")
    return run_replicated("depth", {"target": list(IMAGE_TARGETS)}, cache_dir or default_cache_dir(),
                          *replicates(quick, instances, seeds), family="mnist", n_targets=list(n_targets),
                          protocols=all_protocols(training["depth"]), n_val=n_val, device=device, **training)


PROFILE_SEEDS = 2  # per task instance: the first seeds of each instance of the phase diagram


PROFILE_PROBE = 200  # probe inputs per seed, from the validation part of the target pool


def profile_sweep(knob: str, quick: bool = True, seeds: int = PROFILE_SEEDS, device: str = "auto",
                  cache_dir=None, executor=None, instances: int | None = None) -> pd.DataFrame:
    """Calibrated profiles over the cells of :func:`phase_sweep`'s map, for the same networks.

    Same family, knob values, target sizes and task instances as the phase diagram, and the first
    ``seeds`` of each instance's training seeds (the same networks); the probe inputs
    are ``PROFILE_PROBE`` of the validation part of each seed's target pool (their labels are never
    used). One row per
    (knob value, n_target, seed, measure, curve, block); see :func:`tlcore.experiments.similarity_profiles`.
    """
    if knob not in _OTHER:
        raise ValueError(f"unknown knob {knob!r}; expected one of {sorted(_OTHER)}")
    s, grid = sizes(quick, "hidden_manifold"), phase_grid(quick)
    s.update({k: v for k, v in grid.items() if k in s})
    n_instances, per_instance = replicates(quick, instances)
    return run_replicated("profiles", {knob: grid["values"]}, cache_dir or default_cache_dir(), n_instances,
               per_instance, executor=executor, first=seeds,
               family="hidden_manifold", n_targets=grid["n_targets"], n_probe=PROFILE_PROBE,
               device=device, **{_OTHER[knob]: 0.0}, **s)


# The sweeps behind the claim chapters, by name, at their default parameters: what the verdicts read
# and what tlcore.paper ships at paper scale. Each takes (quick, device) and returns the sweep's table.
CLAIM_SWEEPS = {
    "phase_teacher_mix": lambda quick, device: phase_sweep("teacher_mix", quick, device=device),
    "phase_feature_mix": lambda quick, device: phase_sweep("feature_mix", quick, device=device),
    "representations": lambda quick, device: representation_sweep(quick, device=device),
    "representations_chmm": lambda quick, device: chmm_representation_sweep(quick, device=device),
    "selection": lambda quick, device: selection_sweep(quick, device=device),
    "selection_mnist1d": lambda quick, device: mnist1d_selection(quick, device=device),
    "phase_teacher_mix_lr0.1": lambda quick, device: phase_sweep("teacher_mix", quick, transferred_lr_scale=0.1,
                                                                 device=device),
    "deep_teacher_mix": lambda quick, device: deep_sweep(quick, device=device),
    "images": lambda quick, device: images_sweep(quick, device=device),
}


# Which sweeps each claim's verdict reads.
CLAIM_INPUTS = {"C1": ["phase_teacher_mix", "phase_feature_mix"], "C2": ["phase_teacher_mix", "phase_feature_mix"],
                "C3": ["representations_chmm", "representations"], "C4": ["selection", "selection_mnist1d"]}


def claim_tables(quick: bool = True, device: str = "auto", names=None) -> dict[str, pd.DataFrame]:
    """The tables of :data:`CLAIM_SWEEPS` (``names``: a subset), computed or read from the sweep cache."""
    names = list(CLAIM_SWEEPS) if names is None else list(names)
    for name in names:
        if name not in CLAIM_SWEEPS:
            raise ValueError(f"unknown claim sweep {name!r}; expected one of {sorted(CLAIM_SWEEPS)}")
    return {name: CLAIM_SWEEPS[name](quick, device) for name in names}
