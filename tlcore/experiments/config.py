"""The training settings every experiment shares, checked once."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping

from ..tasks import family_info
from ..validation import check_int, check_known, check_positive

__all__ = ["TrainingConfig", "config_from", "default_model_kind", "training_defaults"]


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
    transferred_lr_scale: float = 1.0
    device: str = "auto"

    def __post_init__(self):
        if self.model != "auto":
            check_known("model", self.model, ["mlp", "cnn1d", "resnet"])
        check_int("width", self.width, low=1)
        check_int("depth", self.depth, low=1)
        check_int("source_steps", self.source_steps, low=0)
        check_int("steps", self.steps, low=0)
        check_int("batch_size", self.batch_size, low=1)
        check_positive("lr", self.lr)
        check_positive("weight_decay", self.weight_decay, zero_ok=True)
        check_positive("transferred_lr_scale", self.transferred_lr_scale)

    def fit_options(self) -> dict:
        return dict(batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
                    device=self.device)


def config_from(training: Mapping) -> TrainingConfig:
    fields = TrainingConfig.__dataclass_fields__
    for name in training:
        if name not in fields:
            raise ValueError(f"unknown training parameter {name!r}; expected one of {sorted(fields)}")
    return TrainingConfig(**training)


def default_model_kind(family: str) -> str:
    """The block model the family trains, from the family registry (MNIST-1D: a 1-D CNN, MNIST images:
    the ResNet); the MLP when no family is named (a user's own task)."""
    return family_info(family).model if family else "mlp"


def training_defaults() -> dict:
    """The default training settings (part of every cell's cache key)."""
    return asdict(TrainingConfig())
