"""Which pre-trained source should a small target task borrow from?

The paper's method (claim C4): train a network from scratch on the small target set, compare its
representations layer by layer with those of each candidate source network on the same probe
inputs, and prefer the most similar source. This module implements it (:func:`rank_sources`),
the transferability estimators practitioners use instead (:func:`leep`, :func:`logme`,
:func:`hscore`, :func:`nce`) and the yardstick for both (:func:`ranking_quality`).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats

from .models import BlockModel, build_model, model_kind
from .similarity import layerwise
from .tasks import Task
from .train import fit
from .validation import as_tensor, check_known

__all__ = ["leep", "nce", "hscore", "logme", "source_outputs", "ranking_quality", "rank_sources",
           "aggregate_layers", "train_scratch", "AGGREGATES", "BASELINES", "SELECTION_MEASURES"]


# --------------------------------------------------------------------------- inputs


def _labels(labels, n: int) -> np.ndarray:
    y = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    if y.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError("labels must be integers")
        y = y.astype(np.int64)
    if y.min() < 0:
        raise ValueError(f"labels must be non-negative, got {y.min()}")
    return y


def _matrix(name, x) -> np.ndarray:
    t = as_tensor(name, x, dtype=torch.float64)
    if t.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D), got {tuple(t.shape)}")
    return t.cpu().numpy()


@torch.no_grad()
def source_outputs(model: BlockModel, x) -> tuple[np.ndarray, np.ndarray]:
    """A source network's class probabilities ``(N, C_source)`` and last-block features ``(N, D)``."""
    x = as_tensor("x", x)
    reps = model.representations(x)
    probs = torch.softmax(model.head(reps[-1]), dim=1)
    return probs.double().numpy(), reps[-1].double().numpy()


# --------------------------------------------------------------------------- baselines


def leep(source_probs, labels) -> float:
    """Log Expected Empirical Prediction (Nguyen et al. 2020) of source probabilities for target labels.

    Builds the empirical conditional ``P(y | z)`` of target label given source label from the soft
    source predictions, then averages the log-likelihood of the "dummy" classifier it defines.
    """
    theta = _matrix("source_probs", source_probs)
    y = _labels(labels, theta.shape[0])
    if np.any(theta < 0) or not np.allclose(theta.sum(1), 1, atol=1e-4):
        raise ValueError("source_probs must be rows of probabilities (non-negative, summing to 1)")
    joint = np.zeros((y.max() + 1, theta.shape[1]))
    np.add.at(joint, y, theta)
    joint /= len(y)
    cond = joint / np.maximum(joint.sum(0, keepdims=True), 1e-300)  # P(y | z)
    return float(np.mean(np.log(np.sum(theta * cond[y], axis=1))))


def nce(source_predictions, labels) -> float:
    """Negative Conditional Entropy ``-H(Y | Z)`` of target labels given hard source labels (Tran et al. 2019)."""
    z = _labels(source_predictions, len(np.asarray(source_predictions)))
    y = _labels(labels, len(z))
    joint = np.zeros((y.max() + 1, z.max() + 1))
    np.add.at(joint, (y, z), 1.0)
    joint /= len(y)
    pz = joint.sum(0, keepdims=True)
    nz = joint > 0
    return float(np.sum(joint[nz] * np.log((joint / np.maximum(pz, 1e-300))[nz])))


def hscore(features, labels) -> float:
    """H-score (Bao et al. 2019): ``tr(cov(f)^-1 cov(E[f | y]))``, with a pseudo-inverse for stability."""
    f = _matrix("features", features)
    y = _labels(labels, f.shape[0])
    f = f - f.mean(0)
    cov = f.T @ f / len(f)
    means = np.zeros_like(f)
    for c in np.unique(y):
        means[y == c] = f[y == c].mean(0)
    cov_between = means.T @ means / len(f)
    return float(np.trace(np.linalg.pinv(cov, rcond=1e-10, hermitian=True) @ cov_between))


def logme(features, labels, max_iter: int = 1000, tol: float = 1e-10) -> float:
    """LogME (You et al. 2021): the maximum log evidence per example of a Bayesian linear model.

    For each class, a one-hot target ``y`` is regressed on the features with prior ``N(0, 1/alpha)``
    on the weights and noise ``N(0, 1/beta)``; alpha and beta are set by the fixed-point iteration
    of MacKay's evidence approximation; the result is averaged over classes.
    """
    f = _matrix("features", features)
    y = _labels(labels, f.shape[0])
    n, d = f.shape
    s, v = np.linalg.eigh(f.T @ f)
    s = np.clip(s, 0, None)
    total = 0.0
    classes = np.arange(y.max() + 1)
    for c in classes:
        t = (y == c).astype(np.float64)
        proj = v.T @ (f.T @ t)  # F^T y in the eigenbasis
        alpha, beta = 1.0, 1.0
        for _ in range(max_iter):
            inv = 1.0 / (alpha + beta * s)
            m_eig = beta * inv * proj
            m = v @ m_eig
            gamma = float(np.sum(beta * s * inv))
            residual = float(np.sum((f @ m - t) ** 2))
            new_alpha = gamma / max(float(m @ m), 1e-300)
            new_beta = (n - gamma) / max(residual, 1e-300)
            done = abs(new_alpha - alpha) / alpha < tol and abs(new_beta - beta) / beta < tol
            alpha, beta = new_alpha, new_beta
            if done:
                break
        inv = 1.0 / (alpha + beta * s)
        m = v @ (beta * inv * proj)
        residual = float(np.sum((f @ m - t) ** 2))
        evidence = (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - n / 2 * np.log(2 * np.pi)
                    - beta / 2 * residual - alpha / 2 * float(m @ m)
                    - 0.5 * float(np.sum(np.log(alpha + beta * s))))
        total += evidence / n
    return float(total / len(classes))


# Each baseline as a function of a source network's outputs on the target training set.
BASELINES = {
    "leep": lambda probs, features, labels: leep(probs, labels),
    "logme": lambda probs, features, labels: logme(features, labels),
    "hscore": lambda probs, features, labels: hscore(features, labels),
    "nce": lambda probs, features, labels: nce(probs.argmax(1), labels),
}


# --------------------------------------------------------------------------- ranking quality


def ranking_quality(scores, true_acc) -> dict:
    """How well ``scores`` (higher = better source) rank sources by their measured ``true_acc``.

    Both are mappings (or Series) keyed by source, or aligned sequences. Returns Spearman and
    Kendall correlations, ``top1_hit`` (the top-scored source is a best one) and ``regret`` (best
    accuracy minus the accuracy of the top-scored source; 0 is perfect).
    """
    s, a = pd.Series(scores, dtype=float), pd.Series(true_acc, dtype=float)
    if set(s.index) != set(a.index):
        raise ValueError(f"scores ({list(s.index)}) and true_acc ({list(a.index)}) name different sources")
    if len(s) < 2:
        raise ValueError("ranking needs at least two sources")
    a = a.reindex(s.index)
    if s.isna().any() or a.isna().any():
        raise ValueError("scores and true_acc must not hold NaN")
    chosen = s.idxmax()
    return {
        "spearman": float(stats.spearmanr(s.values, a.values).statistic),
        "kendall": float(stats.kendalltau(s.values, a.values).statistic),
        "top1_hit": bool(a[chosen] >= a.max() - 1e-12),
        "regret": float(a.max() - a[chosen]),
    }


# --------------------------------------------------------------------------- representation-based


def _mean_diagonal(m):
    if m.shape[0] != m.shape[1]:
        raise ValueError(f"aggregate 'diagonal' needs equal depths, got a {m.shape} matrix")
    return float(np.mean(np.diag(m)))


AGGREGATES = {
    "diagonal": _mean_diagonal,           # same depth in both networks, averaged over depths
    "first": lambda m: float(m[0, 0]),    # first block only: low-level features
    "last": lambda m: float(m[-1, -1]),   # last block only: what the standard recipe transfers
    "max": lambda m: float(m.max()),      # the best-matching pair of layers
}

# Measures usable for selection, as similarities (higher = more alike).
SELECTION_MEASURES = ["neighbourhood_overlap", "linear_cka", "debiased_cka", "rbf_cka",
                      "information_imbalance"]


def aggregate_layers(matrix: np.ndarray, aggregate: str = "diagonal") -> float:
    """One score from a source-layer x target-layer similarity matrix (see ``AGGREGATES``)."""
    check_known("aggregate", aggregate, AGGREGATES)
    return AGGREGATES[aggregate](matrix)


def _similarity_matrix(source_reps, target_reps, measure, k):
    if measure == "information_imbalance":
        # 1 - Delta(source -> target): how well source distances predict target neighbourhoods.
        return 1.0 - layerwise(source_reps, target_reps, measure, k=k)[..., 0]
    if measure == "neighbourhood_overlap":
        return layerwise(source_reps, target_reps, measure, k=k)
    return layerwise(source_reps, target_reps, measure)


def train_scratch(target_train: Task, like: BlockModel, seeds: Sequence[int], steps: int = 500,
                  batch_size: int = 128, lr: float = 1e-3, device="auto") -> list[BlockModel]:
    """One network per seed, with ``like``'s architecture, trained from scratch on all of ``target_train``."""
    config = {**like.config, "n_classes": target_train.n_classes}
    scratch = [build_model(model_kind(like), seed=1000 + int(s), **config) for s in seeds]
    everything = torch.arange(target_train.n_train)
    return fit(scratch, target_train.x_train, target_train.y_train, [everything] * len(scratch),
               [int(s) for s in seeds], steps=steps, batch_size=batch_size, lr=lr,
               device=device).to_models()


def rank_sources(target_train: Task, target_probe_x, sources: Mapping[str, BlockModel] | Sequence,
                 measure: str = "neighbourhood_overlap", aggregate: str = "diagonal", k: int = 10,
                 seeds: Sequence[int] = (0, 1, 2), steps: int = 500, batch_size: int = 128,
                 lr: float = 1e-3, device="auto", scratch_models: Sequence[BlockModel] | None = None
                 ) -> pd.DataFrame:
    """Rank candidate sources by the similarity of their representations to a scratch target network.

    Trains one network per seed from scratch on ``target_train`` (all of its training examples, in
    one batched call, with the architecture of the first source), computes the layer-by-layer
    similarity (``measure``) to each source network on ``target_probe_x``, reduces each matrix to
    one number (``aggregate``) and averages over seeds. Returns one row per source, best first,
    with ``score``, ``score_std`` (over seeds) and ``rank``; ``table.attrs["layerwise"]`` holds the
    seed-averaged matrices (rows: source blocks, columns: scratch blocks). Pass
    ``scratch_models`` (from :func:`train_scratch`) to score several measures with one training.
    """
    check_known("selection measure", measure, SELECTION_MEASURES)
    check_known("aggregate", aggregate, AGGREGATES)
    named = dict(sources) if isinstance(sources, Mapping) else {str(i): m for i, m in enumerate(sources)}
    if not named:
        raise ValueError("no candidate sources given")
    probe = as_tensor("target_probe_x", target_probe_x)
    first = next(iter(named.values()))
    for name, model in named.items():
        if model.in_dim != target_train.in_dim:
            raise ValueError(f"input size mismatch: source {name!r} expects in_dim={model.in_dim}, "
                             f"the target has {target_train.in_dim} features")
    trained = scratch_models if scratch_models is not None else train_scratch(
        target_train, first, seeds, steps=steps, batch_size=batch_size, lr=lr, device=device)
    with torch.no_grad():
        target_reps = [m.representations(probe) for m in trained]
        rows, matrices = [], {}
        for name, model in named.items():
            source_reps = model.representations(probe)
            mats = [_similarity_matrix(source_reps, reps, measure, k) for reps in target_reps]
            per_seed = [aggregate_layers(m, aggregate) for m in mats]
            matrices[name] = np.mean(mats, axis=0)
            rows.append({"source": name, "score": float(np.mean(per_seed)),
                         "score_std": float(np.std(per_seed)), "measure": measure,
                         "aggregate": aggregate})
    table = pd.DataFrame(rows).sort_values("score", ascending=False, kind="stable")
    table["rank"] = np.arange(1, len(table) + 1)
    table = table.reset_index(drop=True)
    table.attrs["layerwise"] = matrices
    return table
