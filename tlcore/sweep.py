"""Experiments: a grid in, one tidy table out (a pandas DataFrame, one row per trained network)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from .models import BlockModel, build_model
from .tasks import Task, TaskPair
from .train import fit
from .transfer import Protocol, all_protocols, transfer
from .validation import check_int, check_known

__all__ = ["TrainingConfig", "derive_seed", "pretrain", "depth_sweep", "default_model_kind"]


@dataclass(frozen=True)
class TrainingConfig:
    """Architecture and optimisation settings shared by the experiments (plain keyword arguments)."""

    model: str = "auto"
    width: int = 128
    depth: int = 4
    source_steps: int = 3000
    steps: int = 500
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    device: str = "auto"

    def __post_init__(self):
        if self.model != "auto":
            check_known("model", self.model, ["mlp", "cnn1d"])
        check_int("width", self.width, low=1)
        check_int("depth", self.depth, low=1)
        check_int("source_steps", self.source_steps, low=0)
        check_int("steps", self.steps, low=0)
        check_int("batch_size", self.batch_size, low=1)
        if not self.lr > 0:
            raise ValueError(f"lr={self.lr!r} must be positive")


def default_model_kind(family: str) -> str:
    """MNIST-1D is a sequence task and gets the 1-D CNN; the other families get the MLP."""
    return "cnn1d" if family == "mnist1d" else "mlp"


def derive_seed(*keys) -> int:
    """An independent 31-bit seed for every tuple of keys (ints or short strings)."""
    ints = [k if isinstance(k, (int, np.integer)) else int.from_bytes(str(k).encode(), "little")
            for k in keys]
    return int(np.random.SeedSequence([int(i) for i in ints]).generate_state(1)[0] >> 1)


def _training(training: dict) -> TrainingConfig:
    fields = TrainingConfig.__dataclass_fields__
    for name in training:
        if name not in fields:
            raise ValueError(f"unknown training parameter {name!r}; expected one of {sorted(fields)}")
    return TrainingConfig(**training)


def pretrain(task: Task, seeds: Sequence[int], family: str = "", **training
             ) -> tuple[list[BlockModel], np.ndarray]:
    """Train one source network per seed on the whole ``task``, batched; return models and test accs."""
    cfg = _training(training)
    kind = cfg.model if cfg.model != "auto" else default_model_kind(family)
    models = [build_model(kind, seed=derive_seed(s, "source-init"), in_dim=task.in_dim,
                          n_classes=task.n_classes, width=cfg.width, depth=cfg.depth) for s in seeds]
    full = torch.arange(task.n_train)
    ens = fit(models, task.x_train, task.y_train, [full] * len(models),
              [derive_seed(s, "source-data") for s in seeds], steps=cfg.source_steps,
              batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay, device=cfg.device)
    return ens.to_models(), ens.accuracy(task.x_test, task.y_test)


def depth_sweep(pair: TaskPair, n_targets: Sequence[int], protocols: Sequence | None = None,
                seeds: Sequence[int] = (0,), sources: tuple | None = None, **training) -> pd.DataFrame:
    """Target test accuracy for every (n_target, protocol, seed): the paper's transfer-depth experiment.

    One source network is pre-trained per seed (or taken from ``sources = (models, accs)`` as
    returned by :func:`pretrain`); then every target member is trained in one batched call. Members
    of one seed share the initial weights of their re-initialised layers and nested target subsets
    (common random numbers), so differences between protocols are not drowned in seed noise.
    ``protocols`` defaults to ``(l, l)`` and ``(l, 0)`` for every depth ``l``.
    Returns one row per network with the columns ``family``, the knobs, ``task_seed``, ``model``,
    ``n_target``, ``transfer_depth``, ``frozen_depth``, ``protocol``, ``seed``, ``test_acc``,
    ``source_test_acc``.
    """
    cfg = _training(training)
    seeds = [check_int("seed", s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty")
    protocols = [p if isinstance(p, Protocol) else Protocol(*p)
                 for p in (protocols if protocols is not None else all_protocols(cfg.depth))]
    for p in protocols:
        p.check(cfg.depth)
    target = pair.target
    n_targets = [check_int("n_target", n, low=1) for n in n_targets]
    for n in n_targets:
        if n > target.n_train:
            raise ValueError(f"n_target={n} is larger than the target's training set "
                             f"({target.n_train} examples)")
    if sources is None:
        sources = pretrain(pair.source, seeds, pair.family, **training)
    source_models, source_accs = sources
    if len(source_models) != len(seeds):
        raise ValueError(f"got {len(source_models)} source models for {len(seeds)} seeds")
    if source_models[0].in_dim != target.in_dim:
        raise ValueError(f"input size mismatch: source model expects in_dim={source_models[0].in_dim}, "
                         f"the target task has {target.in_dim} features")

    members, subsets, stream_seeds, rows = [], [], [], []
    kind = type(source_models[0]).__name__.lower()
    for si, seed in enumerate(seeds):
        for n in n_targets:
            subset = target.subsample_indices(n, seed)
            for p in protocols:
                members.append(transfer(source_models[si], p, target.n_classes,
                                        seed=derive_seed(seed, "target-init")))
                subsets.append(subset)
                stream_seeds.append(derive_seed(seed, n, "target-data"))
                rows.append({"family": pair.family, **pair.knobs, "task_seed": pair.seed,
                             "model": kind, "n_target": n, "transfer_depth": p.transfer_depth,
                             "frozen_depth": p.frozen_depth, "protocol": p.name, "seed": seed,
                             "source_test_acc": float(source_accs[si])})
    ens = fit(members, target.x_train, target.y_train, subsets, stream_seeds, steps=cfg.steps,
              batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay, device=cfg.device)
    acc = ens.accuracy(target.x_test, target.y_test)
    table = pd.DataFrame(rows)
    table.insert(table.columns.get_loc("source_test_acc"), "test_acc", acc.astype(float))
    return table
