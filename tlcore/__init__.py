"""tlcore: how much of a pre-trained network to transfer, and from which source.

Modules, in the order data flows through them (a module imports only modules before it):

- ``seeds``, ``validation``, ``files`` (output paths checked and written atomically), ``stats`` (a
  package: the one paired comparison, the bootstrap, the choosers, tie-aware ranks, cross-fitting and
  error control): the seed convention, input checks, statistics over replicates;
- ``tasks`` -> ``models`` -> ``transfer`` -> ``train``: task pairs, block networks (``user_models``
  finds the blocks of any torch module), protocols, the batched training engine;
- ``cka``, ``neighbours`` (over ``_distances``), ``transferability`` -> ``similarity`` (the registry
  of measures) -> ``selection``, ``profiles``: comparing representations, ranking trained sources,
  calibrated similarity profiles;
- ``experiments`` (a package: config, the two training paths, one module per experiment, grid cells):
  everything that trains networks for a purpose;
- ``analysis`` (reductions of tidy tables), ``cache`` -> ``sweep`` (grids of cells),
  ``display`` (figures and tables sized for the book's page) -> ``figures``, ``claims`` (a package:
  the sweep registry, the claims in words, one module per claim), ``surgery``, ``advice`` ->
  ``advisor``, ``paper`` (the shipped paper-scale results) -> ``advisor_evaluation``, ``paper_section``
  (a chapter's paper-scale section), ``book``: what users and chapters call.
"""
from ._version import __version__
from . import (advisor, advisor_evaluation, analysis, cache, cka, claims, experiments, models, neighbours, paper, paper_section, profiles,
               seeds, selection, similarity, stats, surgery, sweep, tasks, train, transfer, transferability, validation)  # noqa: E402
from .models import CNN1d, MLP, load_model, save_model
from .tasks import Task, TaskPair, make_pair
from .transfer import Protocol

__all__ = ["CNN1d", "MLP", "Protocol", "Task", "TaskPair", "load_model", "make_pair", "save_model",
           "advisor", "advisor_evaluation", "paper_section", "analysis", "cache", "cka", "claims", "experiments", "models", "neighbours", "paper", "profiles", "seeds",
           "selection", "similarity", "stats", "surgery", "sweep", "tasks", "train", "transfer", "transferability",
           "validation",
           "__version__"]
