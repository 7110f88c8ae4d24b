"""Transferability estimators: how well will a source network do on a target, from its outputs alone?

The baselines practitioners use instead of representation similarity (claim C4's competitors):
LEEP (Nguyen et al. 2020) and NCE (Tran et al. 2019) read the source's class predictions on the
target inputs; LogME (You et al. 2021) and the shrinkage H-score (Ibrahim et al. 2022) read its
last-block features. Each returns a float, higher = better expected transfer. ``BASELINES`` maps
a name to ``score(probs, features, labels)`` so that callers treat them alike.
"""
from __future__ import annotations

import numpy as np
import torch

from .models import BlockModel
from .validation import as_tensor

__all__ = ["leep", "nce", "hscore", "logme", "source_outputs", "BASELINES"]


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
    """Shrinkage H-score (Ibrahim et al. 2022): ``tr(cov_a(f)^-1 (1 - a) cov(E[f | y]))``.

    The H-score of Bao et al. (2019) inverts the feature covariance, which is rank-deficient when a
    small target set has fewer examples than features: then the floating-point kernel decides
    which eigenvalues survive a pseudo-inverse, and the ranking changes from one CPU to another.
    The Ledoit-Wolf estimate ``cov_a = (1 - a) cov + a mu I`` (shrinkage ``a`` chosen from the
    data, scikit-learn's ``LedoitWolf``) is well conditioned, so the score is stable.
    """
    from sklearn.covariance import LedoitWolf

    f = _matrix("features", features)
    y = _labels(labels, f.shape[0])
    f = f - f.mean(0)
    estimate = LedoitWolf(assume_centered=True).fit(f)
    means = np.zeros_like(f)
    for c in np.unique(y):
        means[y == c] = f[y == c].mean(0)
    cov_between = means.T @ means / len(f)
    cov = estimate.covariance_
    if not np.any(cov):
        return 0.0  # constant features carry no information on the labels
    shrunk_between = (1.0 - estimate.shrinkage_) * cov_between
    return float(np.trace(np.linalg.solve(cov, shrunk_between)))


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
            # gamma <= n in exact arithmetic; with more features than examples it reaches n and rounding
            # can take it past, which would make beta negative and the evidence NaN
            new_beta = max(n - gamma, 1e-12 * n) / max(residual, 1e-300)
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
