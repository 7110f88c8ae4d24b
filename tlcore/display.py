"""Figures and tables as the book shows them: text legible at the displayed size, tables curated.

A figure is drawn in inches and shown squeezed into the page's text column, so its text shrinks by
``column / width``. :func:`fit_text` enlarges any text that would fall below :data:`MIN_TEXT_PX`
screen pixels in the column of a 1280 px window, and :func:`png` writes the smallest text size (in
image pixels) into the PNG, so the browser test can check it against the width the page gives the
image. :func:`setup` routes every figure a chapter shows through :func:`png`.

:func:`table` shows chosen, named, rounded columns with no index, an em dash for a missing value,
a caption, every row, inside a container that scrolls sideways when the table is wider than it.
"""
from __future__ import annotations

import html
import io
import math
import numbers
import warnings
from typing import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.text import Text

__all__ = ["COLUMN_PX", "MIN_TEXT_PX", "DPI", "setup", "fit_text", "smallest_text_pt", "png", "Table", "table",
           "frame_html"]

# Width of the text column in CSS pixels in a 1280 px window: the theme's article less its padding
# is 752 px, a slider's frame gets about 740 of it (the widget's own padding); 720 leaves a margin.
COLUMN_PX = 720
MIN_TEXT_PX = 9.0       # the smallest text a reader should have to read, in CSS pixels
DPI = 90                # pixels per inch of the PNGs the book shows
TEXT_KEY = "tlcore-min-text-px"  # PNG text chunk: smallest text, in image pixels
MISSING = "\u2014"      # em dash

RC = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "xtick.labelsize": 10,
      "ytick.labelsize": 10, "legend.fontsize": 10, "legend.title_fontsize": 10,
      "figure.titlesize": 13, "savefig.dpi": DPI, "figure.dpi": DPI}


def _texts(fig: Figure):
    """The visible, non-empty text artists of a figure (titles, labels, ticks, legends, annotations)."""
    for t in fig.findobj(Text):
        if t.get_visible() and t.get_text().strip() and (t.axes is None or t.axes.get_visible()):
            yield t


def smallest_text_pt(fig: Figure) -> float:
    """Size in points of the figure's smallest visible text (``inf`` when it has none).

    The figure is laid out first: tick labels get their text only when the figure is drawn.
    """
    fig.draw_without_rendering()
    return min((t.get_fontsize() for t in _texts(fig)), default=math.inf)


def _shown_width_in(fig: Figure) -> float:
    """Width in inches of the PNG :func:`png` writes (``bbox_inches="tight"``: legends outside count)."""
    try:
        renderer = fig.canvas.get_renderer()
    except AttributeError:  # a Figure made without pyplot has no Agg canvas yet
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        renderer = FigureCanvasAgg(fig).get_renderer()
    return fig.get_tightbbox(renderer).width + 2 * matplotlib.rcParams["savefig.pad_inches"]


def fit_text(fig: Figure, column_px: float = COLUMN_PX, min_px: float = MIN_TEXT_PX) -> float:
    """Enlarge every text that would be smaller than ``min_px`` once the figure is shrunk to ``column_px``.

    A figure no wider than the column is shown at its own size (then 1 pt = 1/72 inch). Returns
    the smallest text size in points afterwards. The layout is redone when the figure has no layout
    engine of its own, so that larger labels do not overlap; larger labels widen the figure, so
    the sizes are checked again (three rounds at most).
    """
    for _ in range(3):
        px_per_pt = min(1.0, column_px / (_shown_width_in(fig) * DPI)) * DPI / 72
        needed = min_px / px_per_pt * 1.01  # a 1% margin: the PNG's width is rounded to whole pixels
        small = [t for t in _texts(fig) if t.get_fontsize() < needed]
        if not small:
            break
        for t in small:
            t.set_fontsize(needed)
        if fig.get_layout_engine() is None and fig.axes:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    fig.tight_layout()
                except Exception:  # a figure tight_layout cannot handle keeps its own layout
                    pass
    return smallest_text_pt(fig)


def png(fig: Figure, dpi: int = DPI, close: bool = True, fit: bool = True) -> bytes:
    """PNG bytes of a figure with its text fitted to the column; the smallest text size is recorded in it."""
    if fit:
        fit_text(fig)
    smallest = smallest_text_pt(fig)
    metadata = {TEXT_KEY: f"{smallest * dpi / 72:.2f}"} if math.isfinite(smallest) else {}
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata=metadata)
    if close:
        plt.close(fig)
    return buf.getvalue()


def recorded_text_px(data: bytes) -> float | None:
    """The smallest text size (image pixels) that :func:`png` recorded in a PNG, or None."""
    from PIL import Image

    value = Image.open(io.BytesIO(data)).text.get(TEXT_KEY)
    return float(value) if value is not None else None


def setup() -> None:
    """Book defaults: legible font sizes, every figure a cell shows rendered by :func:`png`, every
    DataFrame by :func:`frame_html` (whole, rounded, no NaN, no row numbers)."""
    matplotlib.rcParams.update(RC)
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    plt.figure().clear()  # makes the inline backend register its formatter now, so ours replaces it
    plt.close("all")
    shell.display_formatter.formatters["image/png"].for_type(Figure, lambda fig: png(fig, close=False))
    shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, frame_html)


def _format(value, decimals: int | None) -> str:
    """One cell as shown: missing as an em dash, floats rounded (no "-0.000"), integers as integers."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral) or (decimals is None and isinstance(value, numbers.Real)):
        value = int(value)
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, numbers.Real):
        text = f"{value:.{decimals}f}"
        return text.lstrip("-") if float(text) == 0 else text
    return str(value)


def _whole(column: pd.Series) -> bool:
    """A float column that holds counts (integers with a missing value, which made pandas cast them)."""
    values = column.dropna()
    return bool(len(values)) and bool((values == values.round()).all()) and bool((values.abs() > 1).any())


class Table:
    """A curated table: HTML in the book (caption, scrolling container), plain text elsewhere."""

    def __init__(self, frame: pd.DataFrame, caption: str, decimals: Mapping[str, int | None]):
        self.frame, self.caption, self.decimals = frame, caption, decimals

    def cells(self) -> list[list[str]]:
        """Every row as the strings shown (rounded, missing values as an em dash)."""
        return [[_format(v, self.decimals.get(c, 3)) for c, v in zip(self.frame.columns, row)]
                for row in self.frame.itertuples(index=False)]

    def _repr_html_(self) -> str:
        numeric = [pd.api.types.is_numeric_dtype(self.frame[c]) for c in self.frame.columns]
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.frame.columns)
        body = "".join("<tr>" + "".join(f'<td class="{"num" if n else "text"}">{html.escape(v)}</td>'
                                        for v, n in zip(row, numeric)) + "</tr>" for row in self.cells())
        # the caption sits above the scrolling part, so that it wraps at the column, not at the table's width
        caption = f'<p class="tlcore-table-caption">{html.escape(self.caption)}</p>' if self.caption else ""
        return (f'<div class="tlcore-table">{caption}<div class="tlcore-table-scroll"><table>'
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></div>")

    def __repr__(self) -> str:
        shown = pd.DataFrame(self.cells(), columns=self.frame.columns)
        return (f"{self.caption}\n" if self.caption else "") + shown.to_string(index=False)


def table(df: pd.DataFrame, caption: str, columns: Sequence[str] | Mapping[str, str] | None = None,
          decimals: int | Mapping[str, int] | None = None) -> Table:
    """The table a chapter shows: ``columns`` picks and orders them (a mapping also renames them).

    An index of labels becomes the first columns (row numbers are dropped); ``decimals`` is one number for
    every float column or a mapping by (new) column name; a column it does not fix is shown with the
    decimals its values need, at most 3 (knob values such as 0.2 as 0.2, measurements with 3).
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"table needs a DataFrame, got {type(df).__name__}")
    if not caption or not caption.strip():
        raise ValueError("table needs a caption")
    return _curated(df, caption.strip(), columns, decimals)


def _curated(df: pd.DataFrame, caption: str, columns=None, decimals: int | Mapping[str, int] | None = None) -> Table:
    if isinstance(df.index, pd.RangeIndex) and df.index.name is None:  # row numbers: not shown
        frame = df.reset_index(drop=True)
    else:  # labels: shown as the first columns (an unnamed one without a header)
        names = [n if n is not None else ("" if df.index.nlevels == 1 else f"level {k}")
                 for k, n in enumerate(df.index.names)]
        frame = df.reset_index(names=names)
    frame.columns = [" ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in frame.columns]
    if columns is not None:
        names = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
        missing = [c for c in names if c not in frame.columns]
        if missing:
            raise ValueError(f"table has no column {missing[0]!r} (it has {', '.join(map(str, frame.columns))})")
        frame = frame[list(names)].rename(columns=names)
    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    per = dict(decimals) if isinstance(decimals, Mapping) else {}
    unknown = [c for c in per if c not in frame.columns]
    if unknown:
        raise ValueError(f"decimals names no column {unknown[0]!r} of the table")
    if decimals is not None and not isinstance(decimals, Mapping):
        per = {c: int(decimals) for c in floats if not _whole(frame[c])}
    return Table(frame, caption, {c: per.get(c, None if _whole(frame[c]) else _decimals_shown(frame[c]))
                                  for c in floats})


def frame_html(df: pd.DataFrame) -> str:
    """How :func:`setup` shows a DataFrame a chapter leaves as a cell's result: every row, floats to
    3 decimals, missing values as an em dash, no row numbers, in the scrolling container (use
    :func:`table` to add a caption and choose the columns)."""
    shown = _curated(df, "")
    shown.decimals = {c: d if d is None else _decimals_shown(shown.frame[c]) for c, d in shown.decimals.items()}
    return shown._repr_html_()


def _decimals_shown(column: pd.Series, most: int = 3) -> int:
    """The fewest decimals (at most ``most``) that show a float column exactly: a chapter's ``.round(2)`` stays 2."""
    values = column.dropna().to_numpy(dtype=float)
    return next((d for d in range(most) if np.allclose(values, values.round(d), rtol=0, atol=1e-12)), most)
