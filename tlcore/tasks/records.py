"""What a task is: training and test sets with their class count, and a source/target pair of them."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from ..seeds import torch_generator
from ..validation import check_int

__all__ = ["Task", "TaskPair"]


@dataclass(frozen=True)
class Task:
    """A classification task: train/test tensors (inputs float32 ``(N, D)`` or images ``(N, C, H, W)``,
    labels int64 ``(N,)``); ``in_dim`` is the size of axis 1 (features, or channels of images)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    name: str

    @property
    def in_dim(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    def subsample_indices(self, n: int, seed: int) -> torch.Tensor:
        """Indices of ``n`` training examples: a prefix of a seeded permutation.

        Prefixes make the subsets nested across ``n`` for one seed, so that a curve over target
        sizes compares networks that saw growing versions of the same data.
        """
        check_int("n_target", n, low=1, high=self.n_train)
        return torch.randperm(self.n_train, generator=torch_generator(seed, "subsample"))[:n]

    def subsample(self, n: int, seed: int) -> "Task":
        """The same task with only ``n`` training examples (see :meth:`subsample_indices`)."""
        idx = self.subsample_indices(n, seed)
        return replace(self, x_train=self.x_train[idx], y_train=self.y_train[idx])


@dataclass(frozen=True)
class TaskPair:
    """A data-rich ``source`` and a ``target`` task, the knobs that made them and their seed."""

    source: Task
    target: Task
    family: str
    knobs: dict
    seed: int
    generators: tuple | None = field(default=None, repr=False)
    info: dict = field(default_factory=dict, repr=False)


def _check_sizes(**sizes) -> None:
    check_int("n_classes", sizes.pop("n_classes"), low=2)
    for name, value in sizes.items():
        check_int(name, value, low=1)
