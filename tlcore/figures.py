"""Figures from tidy tables, and sliders over pre-rendered figures that work on a static site.

A slider whose value is ``jslink``ed to the ``selected_index`` of a ``Stack`` of ``Image`` widgets
switches figures in the browser alone, so it works in the built HTML (no kernel, no network) as
well as in Jupyter, where a Python callback also updates the caption below it.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import display
from .analysis import summarise

__all__ = ["png", "common_range", "figure_slider", "plot_depth_curves", "plot_phase_diagram", "plot_matrix", "plot_profiles",
           "plot_depth_link", "plot_protocols", "plot_plan_margins"]

# The references of a calibrated profile (tlcore.profiles): how each is drawn.
REFERENCE_STYLES = {"reference": dict(color="black", ls="-", label="identical source (other seed)"),
                    "twin": dict(color="0.45", ls="--", label="twin: same examples, other seed"),
                    "floor": dict(color="0.6", ls=":", label="floor: untrained network")}


def png(fig, dpi: int = 90) -> bytes:
    """PNG bytes of a matplotlib figure, text fitted to the book's column (see tlcore.display; closed)."""
    return display.png(fig, dpi=dpi)


def figure_slider(figures: Mapping[str, object], description: str = "", captions: Mapping | None = None):
    """A slider over pre-rendered figures (label -> matplotlib figure or PNG bytes).

    Works without a kernel: the slider index is linked in JavaScript to the ``Stack`` showing the
    figures. In a live kernel a Python callback also writes the caption of the selected figure.
    """
    import ipywidgets as w

    labels = list(figures)
    if not labels:
        raise ValueError("figure_slider needs at least one figure")
    images = [w.Image(value=f if isinstance(f, bytes) else png(f), format="png",
                      layout=w.Layout(max_width="100%")) for f in figures.values()]
    stack = w.Stack(images, selected_index=0)
    slider = w.SelectionSlider(options=labels, value=labels[0], description=description,
                               continuous_update=True, style={"description_width": "initial"},
                               layout=w.Layout(width="100%", max_width="720px"))
    w.jslink((slider, "index"), (stack, "selected_index"))
    caption = w.HTML(value=(captions or {}).get(labels[0], ""))

    def _update(change):  # runs only with a live kernel
        caption.value = (captions or {}).get(change["new"], "")

    slider.observe(_update, names="value")
    return w.VBox([slider, stack, caption])


def plot_depth_curves(table: pd.DataFrame, title: str = "", ax=None, ylim=None, n_targets=None):
    """Target accuracy against transfer depth, one colour per ``n_target``; fine-tuned solid, frozen dashed.

    ``ylim`` and ``n_targets`` (the sizes that own a colour) keep the frames of a slider comparable:
    the same vertical range and the same colour for the same target size in every frame.
    """
    s = summarise(table, ("n_target",))
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.6, 3.6))
    else:
        fig = ax.figure
    sizes_ = sorted(n_targets) if n_targets is not None else sorted(s.n_target.unique())
    # target sizes have their own scale (viridis is the transfer depth's, plasma the knobs'); turbo keeps
    # the nine paper-scale sizes apart, where a sequential map left n = 640-2560 in similar greens
    palette = dict(zip(sizes_, plt.cm.turbo(np.linspace(0.05, 0.95, len(sizes_)))))
    for n, g in s.groupby("n_target"):
        colour = palette[n]
        for frozen, style in ((False, "-"), (True, "--")):
            part = g[(g.frozen_depth == g.transfer_depth) if frozen else (g.frozen_depth == 0)]
            part = part.sort_values("transfer_depth")
            ax.errorbar(part.transfer_depth, part["mean"], yerr=part["sem"], color=colour, ls=style,
                        marker="o" if not frozen else "s", ms=4, capsize=2,
                        label=f"n={n}" if not frozen else None)
    ax.set_xticks(sorted(s.transfer_depth.unique()))
    ax.set_xlabel("transfer depth l (blocks copied from the source)")
    units = (f"{table.task_seed.nunique()} task instances" if s.unit.iloc[0] == "task_seed"
             else f"{table.seed.nunique()} seeds")
    ax.set_ylabel(f"target test accuracy\n(mean ± SE over {units})")
    ax.set_title(title)
    ax.legend(title="solid (l, 0)\ndashed (l, l)", fontsize=8, title_fontsize=8, loc="upper left",
              bbox_to_anchor=(1.02, 1))  # outside the axes: never over the data
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    return fig


def plot_phase_diagram(cells: pd.DataFrame, knob: str, n_blocks: int, title: str = "", ax=None,
                       colour: str = "transfer_depth", outline: str = "c2"):
    """The optimal protocol over ``knob`` x ``n_target`` from :func:`tlcore.claims.phase_cells`.

    Colour: the validation-chosen transfer depth (or, with ``colour="frozen_depth"``, the frozen
    depth: the one that varies within the defrosting family) on a fixed 0..L scale (the same in
    every frame of a slider). Text: the protocol and, where the cells have them (:func:`tlcore.claims.phase_cells`),
    how many held-out folds (one per task instance) choose the same winner, else the bootstrap
    probability that it is optimal. Hatched: the winner does not beat the runner-up by two standard
    errors (a tie). Outlined: the cells whose ``outline`` column is true (default ``c2``, the per-cell
    C2 rule; a chapter can pass the error-controlled discoveries).
    """
    from matplotlib.colors import BoundaryNorm
    from matplotlib.patches import Rectangle

    if colour not in ("transfer_depth", "frozen_depth"):
        raise ValueError(f"colour={colour!r}; expected 'transfer_depth' or 'frozen_depth'")
    shown = f"best_{colour}"
    grid = cells.pivot(index="n_target", columns=knob, values=shown).sort_index(ascending=False)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.2, 4.8))
    else:
        fig = ax.figure
    cmap = plt.get_cmap("viridis", n_blocks + 1)
    norm = BoundaryNorm(np.arange(-0.5, n_blocks + 1), cmap.N)
    im = ax.imshow(grid.to_numpy(dtype=float), cmap=cmap, norm=norm, aspect="auto")
    rows, cols = list(grid.index), list(grid.columns)
    for cell in cells.itertuples():
        i, j = rows.index(cell.n_target), cols.index(getattr(cell, knob))
        shade = cmap(norm(getattr(cell, shown)))
        ink = "black" if 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2] > 0.5 else "white"
        sure = (f"{cell.cf_agree}/{cell.cf_folds}" if hasattr(cell, "cf_agree") else f"p={cell.p_optimal:.2f}")
        ax.text(j, i, f"({cell.best_transfer_depth},{cell.best_frozen_depth})\n{sure}",
                ha="center", va="center", color=ink, fontsize=8.5, fontweight="bold")
        if not cell.significant:  # hatching in the text's colour, so it shows on yellow as on purple
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", linewidth=0,
                                   edgecolor=(0, 0, 0, 0.35) if ink == "black" else (1, 1, 1, 0.5)))
        if getattr(cell, outline, False):
            ax.add_patch(Rectangle((j - 0.47, i - 0.47), 0.94, 0.94, fill=False, edgecolor="red", linewidth=2))
    ax.set_xticks(range(len(cols)), [f"{v:g}" for v in cols])
    ax.set_yticks(range(len(rows)), [str(v) for v in rows])
    ax.set_xlabel(f"{knob} (0: the source's task)")
    ax.set_ylabel("n_target")
    ax.set_title(title, fontsize=10)
    bar = fig.colorbar(im, ax=ax, ticks=range(n_blocks + 1))
    bar.set_label(f"optimal {colour.replace('_', ' ')}")
    return fig


def plot_matrix(matrix: np.ndarray, xlabel: str, ylabel: str, title: str = "", vmin=0.0, vmax=1.0,
                ticks: Sequence | None = None, ax=None):
    """A layer-by-layer similarity matrix, annotated."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(3.8, 3.2))
    else:
        fig = ax.figure
    im = ax.imshow(matrix, cmap="viridis", vmin=vmin, vmax=vmax, origin="lower")
    ticks = ticks if ticks is not None else range(1, matrix.shape[0] + 1)
    ax.set_xticks(range(matrix.shape[1]), list(range(1, matrix.shape[1] + 1)))
    ax.set_yticks(range(matrix.shape[0]), list(ticks))
    middle = vmin + 0.6 * (vmax - vmin)  # viridis turns light above about 60% of its range
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="white" if v < middle else "black", fontsize=8.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    return fig


def plot_profiles(bands: pd.DataFrame, knob: str, title: str = "", ax=None):
    """Source profiles (one colour per ``knob`` value) over their references, mean ± SE over seeds.

    ``bands`` is :func:`tlcore.claims.profile_bands` for one measure and one ``n_target``; the
    references (twin, identical source, floor) are pooled over the knob's values, as they describe
    the target side only.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.4, 3.4))
    else:
        fig = ax.figure
    values = sorted(bands[knob].unique())
    colours = plt.cm.plasma(np.linspace(0.05, 0.85, len(values)))
    for curve, style in REFERENCE_STYLES.items():
        ref = bands[bands.curve == curve].groupby("block")[["mean", "sem"]].mean()
        if ref.empty:
            continue
        ax.plot(ref.index, ref["mean"], lw=1.6, **style)
        ax.fill_between(ref.index, ref["mean"] - ref["sem"], ref["mean"] + ref["sem"], color=style["color"], alpha=0.15)
    for colour, value in zip(colours, values):
        g = bands[(bands.curve == "source") & (bands[knob] == value)].sort_values("block")
        ax.errorbar(g.block, g["mean"], yerr=g["sem"], color=colour, marker="o", ms=4, capsize=2, lw=1.3,
                    label=f"source, {knob}={value:g}")
    ax.set_xticks(sorted(bands.block.unique()))
    ax.set_xlabel("block (1 = nearest the input)")
    ax.set_ylabel("similarity to the scratch target network")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def plot_depth_link(cells: pd.DataFrame, n_blocks: int, title: str = "", ax=None):
    """Measured optimal transfer depth against the profile's divergence depth, one bubble per pair of
    values, its area the number of cells (``cells`` from :func:`tlcore.claims.depth_link`)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(3.8, 3.4))
    else:
        fig = ax.figure
    counts = cells.groupby(["divergence_depth", "chosen_depth"]).size().reset_index(name="n")
    ax.scatter(counts.divergence_depth, counts.chosen_depth, s=40 * counts.n, alpha=0.6, color="tab:blue")
    for row in counts.itertuples():
        ax.annotate(str(row.n), (row.divergence_depth, row.chosen_depth), ha="center", va="center", fontsize=8)
    ax.plot([0, n_blocks], [0, n_blocks], color="0.6", lw=1, ls="--")
    ax.set_xticks(range(n_blocks + 1))
    ax.set_yticks(range(n_blocks + 1))
    ax.set_xlim(-0.5, n_blocks + 0.5)
    ax.set_ylim(-0.5, n_blocks + 0.5)
    ax.set_xlabel("divergence depth (from the profile)")
    ax.set_ylabel("optimal transfer depth (validation)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def plot_protocols(protocols: pd.DataFrame, title: str = "", ax=None):
    """Validation accuracy of every protocol tried, one colour per source (mean ± SE over seeds).

    ``protocols`` is :attr:`tlcore.advisor.Advice.protocols`: one row per (source, protocol) with
    ``val_acc``, ``val_sem`` and ``n_seeds``; scratch (empty ``source``) is drawn as a band. A prefix
    protocol is labelled ``(t, f)``; a per-block plan that no prefix protocol expresses (its
    ``transfer_depth`` is missing) by its code, e.g. ``TF``, after the prefix protocols.
    """
    rows = protocols[protocols.source != ""]

    def label(t, f, plan) -> str:  # a prefix protocol by its two integers, any other plan by its code
        return plan if pd.isna(t) or pd.isna(f) else f"({int(t)}, {int(f)})"

    def order(t, f, plan):  # prefix protocols first, by (t, f); then per-block plans by their code
        return (1, 0, 0, plan) if pd.isna(t) or pd.isna(f) else (0, int(t), int(f), plan)

    plans = rows.plan if "plan" in rows else [""] * len(rows)
    keys = {label(t, f, c): order(t, f, c) for t, f, c in zip(rows.transfer_depth, rows.frozen_depth, plans)}
    labels = sorted(keys, key=keys.__getitem__)
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(5.0, 0.55 * len(labels) + 2.5), 3.6))
    else:
        fig = ax.figure
    scratch = protocols[protocols.source == ""]
    if len(scratch):
        s = scratch.iloc[0]
        ax.axhspan(s.val_acc - s.val_sem, s.val_acc + s.val_sem, color="0.85", zorder=0)
        ax.axhline(s.val_acc, color="0.4", ls="--", lw=1, label="scratch (0, 0)")
    sources = list(dict.fromkeys(rows.source))
    width = 0.8 / max(1, len(sources))
    for i, (name, g) in enumerate(rows.groupby("source", sort=False)):
        codes = g.plan if "plan" in g else [""] * len(g)
        x = [labels.index(label(t, f, c)) + (i - (len(sources) - 1) / 2) * width
             for t, f, c in zip(g.transfer_depth, g.frozen_depth, codes)]
        ax.errorbar(x, g.val_acc, yerr=g.val_sem, fmt="o", ms=5, capsize=2, label=f"source {name!r}")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_xlabel("protocol (transfer depth, frozen depth)" if all(v[0] == 0 for v in keys.values())
                  else "protocol (transfer depth, frozen depth), or plan (one letter per block)")
    n = int(protocols.n_seeds.max()) if len(protocols) else 0
    ax.set_ylabel(f"validation accuracy\n(mean ± SE, {n} seeds)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
    return fig


def plot_plan_margins(margins: pd.DataFrame, knob: str, title: str = "", limit: float | None = None, ax=None):
    """A plans x cells table of test-accuracy margins (:func:`tlcore.surgery.plan_margins`), annotated in
    percentage points; the colour scale is symmetric around 0 and ``limit`` fixes it across panels."""
    grid = margins.to_numpy(dtype=float)
    limit = limit if limit is not None else (float(np.nanmax(np.abs(grid))) or 1.0)
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.9 * grid.shape[1] + 2.6, 0.42 * grid.shape[0] + 1.6))
    else:
        fig = ax.figure
    im = ax.imshow(grid, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    for (i, j), v in np.ndenumerate(grid):
        if np.isfinite(v):
            points = f"{100 * v:+.0f}"
            ax.text(j, i, "0" if points in ("+0", "-0") else points, ha="center", va="center", fontsize=7.5,
                    color="white" if abs(v) > 0.6 * limit else "black")
    ax.set_yticks(range(grid.shape[0]), list(margins.index))
    ax.set_xticks(range(grid.shape[1]), [f"{v:g}\nn={n}" for v, n in margins.columns])
    ax.set_xlabel(f"{knob}, target examples")
    ax.set_ylabel("plan (block 1 first)")
    ax.set_title(title, fontsize=10)
    bar = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
    bar.ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: "0" if round(100 * v) == 0 else f"{100 * v:+.0f}"))
    bar.set_label("test accuracy minus the chosen\nprefix protocol's (points)")
    return fig


def plot_probe_curves(curves: pd.DataFrame, value, n_small: int, knob: str = "alpha", title: str = "", ax=None):
    """Linear-probe accuracy per block (mean ± SE over seeds) of each network, at one ``knob`` value
    (rows of :func:`tlcore.analysis.probe_curves`); the controls drawn apart: an untrained network
    dashed, the raw inputs a square at block 0."""
    ax = ax if ax is not None else plt.subplots(figsize=(4, 3.2))[1]
    style = {"untrained": {"linestyle": "--", "color": "0.45"}, "inputs": {"marker": "s", "color": "black"}}
    for name, g in curves[curves[knob] == value].groupby("network"):
        ax.errorbar(g.block, g["mean"], yerr=g["sem"], **{"marker": "o", "capsize": 2, "label": name,
                                                         **style.get(name, {})})
    ax.set_title(title or f"{knob}={value:g}")
    ax.set_xlabel("block")
    ax.set_ylabel(f"linear-probe accuracy (n={n_small})")
    blocks = sorted(curves.block.unique())
    ax.set_xticks(blocks, ["inputs" if b == 0 else str(b) for b in blocks])
    ax.grid(alpha=0.3)
    return ax


def plot_selection_quality(quality: pd.DataFrame, selectors: Sequence[str], metric: str, ax=None):
    """One ranking-quality ``metric`` per selector and target size, mean with its 95% bootstrap interval
    (rows of :func:`tlcore.analysis.setting_effect`), selectors listed top to bottom in the order given."""
    ax = ax if ax is not None else plt.subplots(figsize=(4, 3.8))[1]
    for i, (n, g) in enumerate(quality.groupby("n_target")):
        g = g.set_index("selector").loc[list(selectors)]
        y = np.arange(len(g)) + 0.2 * i
        ax.errorbar(g[metric], y, xerr=[g[metric] - g[f"{metric}_low"], g[f"{metric}_high"] - g[metric]],
                    fmt="o", capsize=2, label=f"n_target={n}")
    ax.set_yticks(range(len(selectors)), list(selectors))
    ax.set_xlabel(f"{metric} (mean, 95% bootstrap interval)")
    ax.grid(alpha=0.3, axis="x")
    return ax


def placeholder(text: str, figsize=(8, 1.2)):
    """A figure that only says why the expected one is absent (for example, results not shipped)."""
    fig, ax = plt.subplots(figsize=figsize)
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    ax.set_axis_off()
    return fig


def common_range(table, margin: float = 0.05) -> tuple[float, float]:
    """One vertical range of mean test accuracy (within [0, 1]) for every frame of a slider: the
    extremes of the per-configuration means of ``table`` (one row per network), widened by ``margin``."""
    keys = [c for c in table.columns if c not in ("seed", "test_acc", "val_acc", "source_test_acc")]
    m = table.groupby(keys).test_acc.mean()
    return max(0.0, m.min() - margin), min(1.0, m.max() + margin)
