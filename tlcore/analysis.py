"""Reductions of the tidy tables that the experiments return: means over seeds, optimal protocols, gains.

Every function takes a DataFrame with one row per trained network (as :func:`tlcore.sweep.depth_sweep`
returns) and gives a smaller tidy DataFrame, so chapters only orchestrate and plot.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from .models import BlockModel
from .tasks import Task, TaskPair, _generator

__all__ = ["summarise", "optimal_protocols", "gains", "measured_similarity", "linear_probe_accuracy",
           "compare_representations", "best_by_recipe", "RECIPES", "selection_summary"]

PROTOCOL_KEYS = ["transfer_depth", "frozen_depth"]


def summarise(table: pd.DataFrame, by: Sequence[str] = ("n_target",)) -> pd.DataFrame:
    """Mean and standard error over seeds of ``test_acc`` for each protocol within ``by`` groups."""
    keys = list(by) + PROTOCOL_KEYS
    g = table.groupby(keys, sort=True).test_acc
    out = pd.DataFrame({"mean": g.mean(), "sem": g.sem(ddof=1).fillna(0.0), "n_seeds": g.size()})
    return out.reset_index()


def optimal_protocols(table: pd.DataFrame, by: Sequence[str] = ("n_target",),
                      frozen: bool | None = None) -> pd.DataFrame:
    """The protocol of highest mean accuracy in each ``by`` group.

    ``frozen=True`` restricts to ``(l, l)`` protocols, ``False`` to ``(l, 0)``; scratch counts as both.
    Ties go to the shallower transfer (the cheaper choice).
    """
    s = summarise(table, by)
    if frozen is True:
        s = s[s.transfer_depth == s.frozen_depth]
    elif frozen is False:
        s = s[s.frozen_depth == 0]
    s = s.sort_values(list(by) + ["mean", "transfer_depth"], ascending=[True] * len(by) + [False, True],
                      kind="stable")
    return s.groupby(list(by), sort=True).head(1).reset_index(drop=True)


def gains(table: pd.DataFrame, by: Sequence[str] = ("n_target",)) -> pd.DataFrame:
    """Best protocol against scratch ``(0, 0)`` and the standard recipe ``(L, L)``, per ``by`` group.

    ``L`` is the deepest transfer present in the table. Columns: ``best_protocol``, ``best_acc``,
    ``scratch_acc``, ``standard_acc``, ``gain_over_scratch``, ``gain_over_standard``.
    """
    s = summarise(table, by)
    depth = int(s.transfer_depth.max())
    best = optimal_protocols(table, by)
    rows = []
    for _, b in best.iterrows():
        mask = np.ones(len(s), bool)
        for k in by:
            mask &= (s[k] == b[k]).to_numpy()
        group = s[mask]

        def acc(t, f):
            hit = group[(group.transfer_depth == t) & (group.frozen_depth == f)]
            return float(hit["mean"].iloc[0]) if len(hit) else np.nan

        scratch, standard = acc(0, 0), acc(depth, depth)
        rows.append({**{k: b[k] for k in by},
                     "best_protocol": f"({int(b.transfer_depth)}, {int(b.frozen_depth)})",
                     "best_acc": float(b["mean"]), "scratch_acc": scratch, "standard_acc": standard,
                     "gain_over_scratch": float(b["mean"]) - scratch,
                     "gain_over_standard": float(b["mean"]) - standard})
    out = pd.DataFrame(rows)
    for k in by:
        out[k] = out[k].astype(s[k].dtype)
    return out


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
        z = src.latent(n, _generator(pair.seed, 555))
        xs, ys = src.observe(z)
        xt, yt = tgt.observe(z)
        corr = np.corrcoef(xs.flatten().numpy(), xt.flatten().numpy())[0, 1]
        return {"label_agreement": float((ys == yt).float().mean()), "input_correlation": float(corr)}
    info = pair.info
    shared = len(set(info["source_classes"]) & set(info["target_classes"])) / len(info["target_classes"])
    perm = np.asarray(info["input_permutation"])
    return {"shared_classes": shared, "fixed_inputs": float(np.mean(perm == np.arange(len(perm))))}


@torch.no_grad()
def linear_probe_accuracy(model: BlockModel, task: Task, n_train: int | None = None, seed: int = 0,
                          max_iter: int = 500) -> list[float]:
    """Target test accuracy of a logistic-regression readout on each block's features of ``model``.

    Features are standardised; the readout is fitted on ``n_train`` target training examples (all
    by default). Answers "which layer of this network holds the most useful features for the target?"
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_tr, y_tr = task.x_train, task.y_train
    if n_train is not None:
        idx = task.subsample_indices(n_train, seed)
        x_tr, y_tr = x_tr[idx], y_tr[idx]
    train_reps, test_reps = model.representations(x_tr), model.representations(task.x_test)
    accs = []
    for a, b in zip(train_reps, test_reps):
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
        clf.fit(a.numpy(), y_tr.numpy())
        accs.append(float(clf.score(b.numpy(), task.y_test.numpy())))
    return accs


def compare_representations(pair: TaskPair, n_small: int, seeds: Sequence[int] = (0,),
                            measures: Sequence[str] = ("neighbourhood_overlap", "linear_cka"),
                            k: int = 10, n_probe: int = 1000, **training) -> dict:
    """Claim C3's evidence for one pair: are the source's features those the target would learn?

    Trains, per seed, the source network, a target network on ``n_small`` examples and one on the
    whole target training set (all from scratch, batched), then returns
    ``{"matrices": {(measure, "small"|"plenty"): seed-averaged source-layer x target-layer matrix},
    "probes": DataFrame of per-layer linear-probe target accuracy of the source's and the
    plenty-data network's features (columns network, block, seed, probe_acc), "accuracy": {...}}``.
    Similarities are measured on ``n_probe`` target test inputs.
    """
    from .similarity import layerwise
    from .sweep import pretrain

    seeds = list(seeds)
    sources, src_acc = pretrain(pair.source, seeds, pair.family, **training)
    plenty, plenty_acc = pretrain(pair.target, seeds, pair.family, **training)
    small = [pretrain(pair.target.subsample(n_small, s), [s], pair.family, **training) for s in seeds]
    probe = pair.target.x_test[:n_probe]
    matrices = {}
    with torch.no_grad():
        for measure in measures:
            kw = {"k": k} if measure == "neighbourhood_overlap" else {}
            for label, nets in (("small", [m[0][0] for m in small]), ("plenty", plenty)):
                mats = [layerwise(src.representations(probe), net.representations(probe), measure, **kw)
                        for src, net in zip(sources, nets)]
                matrices[(measure, label)] = np.mean(mats, axis=0)
    rows = []
    for s, src, net in zip(seeds, sources, plenty):
        for name, model in (("source", src), ("target, plenty of data", net)):
            for block, acc in enumerate(linear_probe_accuracy(model, pair.target, n_small, seed=s), 1):
                rows.append({"network": name, "block": block, "seed": s, "probe_acc": acc})
    return {"matrices": matrices, "probes": pd.DataFrame(rows),
            "accuracy": {"source": float(np.mean(src_acc)), "target_plenty": float(np.mean(plenty_acc)),
                         "target_small": float(np.mean([m[1][0] for m in small]))}}


RECIPES = {
    "fine-tuned (l, 0)": lambda s, L: s.frozen_depth == 0,
    "frozen (l, l)": lambda s, L: s.frozen_depth == s.transfer_depth,
    "defrosted (L, f)": lambda s, L: s.transfer_depth == L,
}


def best_by_recipe(table: pd.DataFrame, by: Sequence[str] = ("n_target",)) -> pd.DataFrame:
    """The best protocol of each recipe (fine-tuned, frozen, defrosted) in each ``by`` group.

    One row per group and recipe with ``recipe``, ``transfer_depth``, ``frozen_depth``, ``mean``, ``sem``.
    ``L`` is the deepest transfer present in the table.
    """
    s = summarise(table, by)
    L = int(s.transfer_depth.max())
    parts = []
    for recipe, keep in RECIPES.items():
        part = s[keep(s, L)].sort_values(list(by) + ["mean", "transfer_depth"],
                                         ascending=[True] * len(by) + [False, True], kind="stable")
        parts.append(part.groupby(list(by), sort=True).head(1).assign(recipe=recipe))
    out = pd.concat(parts).sort_values(list(by), kind="stable").reset_index(drop=True)
    return out[list(by) + ["recipe", "transfer_depth", "frozen_depth", "mean", "sem"]]


def selection_summary(table: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Mean ranking quality of each selector over seeds, from a :func:`tlcore.sweep.source_selection` table.

    The table repeats a group's quality on each candidate's row; one copy per (selector, n_target,
    seed) is kept before averaging. Columns: ``spearman``, ``kendall``, ``top1_hit``, ``regret``.
    """
    keys = list(by) + ["selector"]
    once = table.drop_duplicates(["selector", "n_target", "seed"])
    return once.groupby(keys)[["spearman", "kendall", "top1_hit", "regret"]].mean()
