"""tlcore: how much of a pre-trained network to transfer, and from which source.

Modules, in the order data flows through them (a module imports only modules before it):

- ``seeds``, ``validation``, ``stats``, ``files``: the seed convention, input checks, paired statistics,
  output paths checked and written atomically;
- ``tasks`` -> ``models`` -> ``transfer`` -> ``train``: task pairs, block networks, protocols, the
  batched training engine;
- ``cka``, ``neighbours`` (over ``_distances``), ``transferability`` -> ``similarity`` (the registry
  of measures) -> ``selection``, ``profiles``: comparing representations, ranking trained sources,
  calibrated similarity profiles;
- ``experiments``: everything that trains networks for a purpose;
- ``analysis`` (reductions of tidy tables), ``cache`` -> ``sweep`` (grids of cells),
  ``figures``, ``claims``, ``surgery``, ``advisor``, ``paper`` (the shipped paper-scale results),
  ``book``: what users and chapters call.
"""
from ._version import __version__
from . import (advisor, analysis, cache, cka, claims, experiments, models, neighbours, paper, profiles, seeds,
               selection, similarity, stats, surgery, sweep, tasks, train, transfer, transferability, validation)  # noqa: E402
from .models import CNN1d, MLP, load_model, save_model
from .tasks import Task, TaskPair, make_pair
from .transfer import Protocol

__all__ = ["CNN1d", "MLP", "Protocol", "Task", "TaskPair", "load_model", "make_pair", "save_model",
           "advisor", "analysis", "cache", "cka", "claims", "experiments", "models", "neighbours", "paper", "profiles", "seeds",
           "selection", "similarity", "stats", "surgery", "sweep", "tasks", "train", "transfer", "transferability",
           "validation",
           "__version__"]
