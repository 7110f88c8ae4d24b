"""The two training paths every experiment goes through.

:func:`train_fresh` (new networks, one per seed, in one batched call) and :func:`evaluate_protocols`
(networks initialised from a source under each protocol, in one batched call). Every initialisation
and data order is drawn from :mod:`tlcore.seeds` under keys that name its role, so the same seed
gives the same numbers in any thread, process or machine.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch

from ..models import BlockModel, build_like, build_model
from ..seeds import derive_seed
from ..tasks import Task
from ..train import fit
from ..transfer import BlockPlan, Protocol, initialise_target
from .config import TrainingConfig, config_from, default_model_kind
from .source_cache import cached_sources

__all__ = ["train_fresh", "Run", "evaluate_protocols", "pretrain", "train_scratch"]


def train_fresh(task: Task, seeds: Sequence[int], role: str, steps: int, *, like: BlockModel | None = None,
                kind: str = "mlp", subsets: Sequence | None = None, cfg: TrainingConfig = TrainingConfig()
                ) -> tuple[list[BlockModel], np.ndarray]:
    """New networks, one per seed, trained on ``task`` (or on ``subsets[i]`` of it) in one batched call.

    The architecture is ``like``'s (with the task's readout size) or ``kind`` with ``cfg``'s width
    and depth. ``role`` names the purpose in the seed keys (``"source"``, ``"scratch"``), so a
    source and a scratch network of the same seed never share their draws. Returns the networks
    and their test accuracies.
    """
    seeds = [int(s) for s in seeds]
    if like is not None:
        models = [build_like(like, n_classes=task.n_classes, seed=derive_seed(s, role, "init")) for s in seeds]
    else:
        models = [build_model(kind, seed=derive_seed(s, role, "init"), in_dim=task.in_dim,
                              n_classes=task.n_classes, width=cfg.width, depth=cfg.depth) for s in seeds]
    subsets = subsets if subsets is not None else [torch.arange(task.n_train)] * len(models)
    ens = fit(models, task.x_train, task.y_train, subsets, [derive_seed(s, role, "data") for s in seeds],
              steps=steps, **cfg.fit_options())
    return ens.to_models(), ens.accuracy(task.x_test, task.y_test)


@dataclass(frozen=True)
class Run:
    """One source network and the target data one group of protocol members trains on.

    ``subset`` indexes the target's training set; ``init_seed`` initialises the re-initialised
    blocks and readout (shared by all protocols of the run: common random numbers), ``data_seed``
    orders the batches.
    """

    source: BlockModel
    subset: torch.Tensor
    init_seed: int
    data_seed: int


def evaluate_protocols(runs: Sequence[Run], protocols: Sequence, task: Task,
                       eval_sets: Mapping[str, tuple], cfg: TrainingConfig = TrainingConfig(),
                       checkpoints: Sequence[int] = ()) -> dict[str, np.ndarray]:
    """Train every (run, protocol) member in one batched call; accuracy on each evaluation set.

    Member ``(i, j)`` starts from ``initialise_target(runs[i].source, protocols[j], ...)`` and trains
    ``cfg.steps`` steps on ``task.x_train[runs[i].subset]``; a protocol is a prefix ``(t, f)`` or a
    per-block :class:`tlcore.transfer.BlockPlan` (or its code, e.g. ``"TFF"``), and one call may mix
    both. ``eval_sets`` maps a name to ``(x, y)``; returns ``{name: accuracy array of shape
    (len(runs), len(protocols))}``.
    """
    protocols = [p if isinstance(p, (Protocol, BlockPlan, str)) else Protocol(*p) for p in protocols]
    members, subsets, data_seeds = [], [], []
    for run in runs:
        for p in protocols:
            members.append(initialise_target(run.source, p, task.n_classes, seed=run.init_seed,
                                             transferred_lr_scale=cfg.transferred_lr_scale))
            subsets.append(run.subset)
            data_seeds.append(run.data_seed)
    if checkpoints:
        ens = fit(members, task.x_train, task.y_train, subsets, data_seeds, steps=cfg.steps,
                  checkpoints=checkpoints, evaluate=eval_sets, **cfg.fit_options())
        return {name: h.reshape(len(h), len(runs), len(protocols)) for name, h in ens.history.items()}
    ens = fit(members, task.x_train, task.y_train, subsets, data_seeds, steps=cfg.steps, **cfg.fit_options())
    return {name: ens.accuracy(x, y).reshape(len(runs), len(protocols)) for name, (x, y) in eval_sets.items()}


def pretrain(task: Task, seeds: Sequence[int], family: str = "", **training
             ) -> tuple[list[BlockModel], np.ndarray]:
    """One source network per seed trained on the whole ``task`` for ``source_steps``; models and test accs.

    Inside a sweep cell the batch is read from the source cache when another cell trained it
    (:mod:`.source_cache`: the knob of a phase map moves the target only)."""
    cfg = config_from(training)
    kind = cfg.model if cfg.model != "auto" else default_model_kind(family)
    return cached_sources(
        task, seeds, kind, cfg, train=lambda: train_fresh(task, seeds, "source", cfg.source_steps, kind=kind, cfg=cfg),
        build=lambda: [build_model(kind, seed=0, in_dim=task.in_dim, n_classes=task.n_classes, width=cfg.width,
                                   depth=cfg.depth) for _ in seeds])


def train_scratch(task: Task, like: BlockModel, seeds: Sequence[int], subsets: Sequence | None = None,
                  **training) -> list[BlockModel]:
    """One network per seed with ``like``'s architecture, trained from scratch on ``task`` for ``steps``."""
    cfg = config_from(training)
    return train_fresh(task, seeds, "scratch", cfg.steps, like=like, subsets=subsets, cfg=cfg)[0]
