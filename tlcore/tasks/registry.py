"""The families by name, with what the rest of the library needs to know about each, and the measured
similarity of a pair."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from ..seeds import torch_generator
from ..validation import check_known
from .images import mnist_pair
from .real import digits_pair, mnist1d_pair
from .records import TaskPair
from .synthetic import hidden_manifold_pair, teacher_pair

__all__ = ["FAMILIES", "Family", "FAMILY_INFO", "family_info", "make_pair", "measured_similarity"]


FAMILIES = {
    "teacher": teacher_pair,
    "hidden_manifold": hidden_manifold_pair,
    "mnist1d": mnist1d_pair,
    "digits": digits_pair,
    "mnist": mnist_pair,
}


@dataclass(frozen=True)
class Family:
    """What the rest of the library needs to know about a task family, in one record, so that no
    code branches on a family's name.

    ``model`` is the block model it trains (a :func:`tlcore.models.build_model` kind), ``unit`` what
    that model's width counts, ``networks`` how prose names those networks, ``display`` how prose
    names the family, ``surgery`` the family parameters of the surgical chapter's sweeps (digits keeps
    half of its 1,797 images for the target, so that the target pool holds the chapter's sizes).
    """

    name: str
    display: str
    model: str = "mlp"
    unit: str = "units"
    networks: str = "networks"
    surgery: Mapping = field(default_factory=dict)


FAMILY_INFO = {f.name: f for f in (
    Family("teacher", "teacher-family"),
    Family("hidden_manifold", "hidden-manifold"),
    Family("mnist1d", "MNIST-1D", model="cnn1d", unit="channels", networks="1-D CNNs"),  # sequences: a 1-D CNN
    Family("digits", "digits", surgery={"source_fraction": 0.5}),
    Family("mnist", "MNIST-image", model="resnet", unit="channels", networks="ResNets"),  # images: the ResNet shape
)}


def family_info(family: str) -> Family:
    """The registry record of ``family`` (see :class:`Family`)."""
    check_known("task family", family, FAMILY_INFO)
    return FAMILY_INFO[family]


def make_pair(family: str, **params) -> TaskPair:
    """Build a pair by family name (for string parameters from papermill or a command line)."""
    check_known("task family", family, FAMILIES)
    fn = FAMILIES[family]
    accepted = [p for p in inspect.signature(fn).parameters]
    for name in params:
        if name not in accepted:
            raise ValueError(f"unknown parameter {name!r} for family {family!r}; expected one of {accepted}")
    return fn(**params)


def measured_similarity(pair: TaskPair, n: int = 4000) -> dict:
    """Measured source/target similarity of a pair, for reading its knobs on one scale.

    Synthetic families: ``label_agreement`` (fraction of shared latents that both rules label alike)
    and ``input_correlation`` (correlation, coordinate by coordinate, of the inputs both tasks make
    from the same latents: what first-layer features see).
    Real data: ``shared_classes`` (fraction of target classes the source also has) and
    ``fixed_inputs`` (fraction of input positions left in place).
    """
    if pair.generators is not None:
        src, tgt = pair.generators
        z = src.latent(n, torch_generator(pair.seed, "similarity-probe"))
        xs, ys = src.observe(z)
        xt, yt = tgt.observe(z)
        corr = np.corrcoef(xs.flatten().numpy(), xt.flatten().numpy())[0, 1]
        return {"label_agreement": float((ys == yt).float().mean()), "input_correlation": float(corr)}
    info = pair.info
    shared = len(set(info["source_classes"]) & set(info["target_classes"])) / len(info["target_classes"])
    perm = np.asarray(info["input_permutation"])
    return {"shared_classes": shared, "fixed_inputs": float(np.mean(perm == np.arange(len(perm))))}
