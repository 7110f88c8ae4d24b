"""The book's figure and table helpers: legible text at the displayed width, curated tables."""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from tlcore import display  # noqa: E402


def _on_screen_px(data: bytes, column_px=display.COLUMN_PX) -> float:
    """Smallest text of a PNG in CSS pixels once the page shrinks it to the column (never enlarged)."""
    width = Image.open(io.BytesIO(data)).size[0]
    return display.recorded_text_px(data) * min(1.0, column_px / width)


def test_a_wide_multi_panel_figure_gets_text_legible_in_the_column():
    fig, axes = plt.subplots(2, 4, figsize=(15, 6))
    for ax in axes.flat:
        ax.plot([0, 1], [0, 1], label="a line")
        ax.set_title("panel", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=6)
    before = display.smallest_text_pt(fig)
    data = display.png(fig)
    assert before == 6
    assert _on_screen_px(data) >= display.MIN_TEXT_PX
    # the record is the truth: 6 pt at 90 dpi would be 7.5 image px, far below what was written
    assert display.recorded_text_px(data) > 6 * display.DPI / 72 * 1.5


def test_a_legend_outside_the_axes_counts_in_the_displayed_width():
    fig, ax = plt.subplots(figsize=(8, 3))
    for k in range(3):
        ax.plot([0, 1], [k, k + 1], label=f"a long legend entry number {k}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1))
    data = display.png(fig)
    assert Image.open(io.BytesIO(data)).size[0] > 8 * display.DPI  # the legend widened the PNG
    assert _on_screen_px(data) >= display.MIN_TEXT_PX


def test_a_figure_narrower_than_the_column_keeps_its_sizes():
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("x", fontsize=10)
    ax.tick_params(labelsize=8)
    display.fit_text(fig)
    assert [t.get_fontsize() for t in ax.get_xticklabels()][0] == 8  # 8 pt = 10 px at its own size
    assert ax.xaxis.label.get_fontsize() == 10
    plt.close(fig)


def test_setup_routes_the_figures_a_cell_shows_through_png():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    display.setup()
    fig, ax = plt.subplots(figsize=(14, 3))
    ax.plot([0, 1], [0, 1])
    data = shell.display_formatter.format(fig)[0]["image/png"]
    data = data if isinstance(data, bytes) else __import__("base64").b64decode(data)
    assert _on_screen_px(data) >= display.MIN_TEXT_PX
    assert matplotlib.rcParams["font.size"] == display.RC["font.size"]
    plt.close(fig)


def test_table_rounds_names_and_orders_columns_and_drops_the_row_numbers():
    df = pd.DataFrame({"n_target": [20, 60], "acc": [0.546875, np.nan], "note": ["a", None]})
    t = display.table(df, caption="Accuracy by size.", columns={"acc": "accuracy", "n_target": "n"})
    assert t.cells() == [["0.547", "20"], ["\u2014", "60"]]
    html = t._repr_html_()
    assert '<p class="tlcore-table-caption">Accuracy by size.</p>' in html and "NaN" not in html and "nan" not in html
    assert "<th>accuracy</th><th>n</th>" in html and "<th></th>" not in html


def test_table_keeps_a_named_index_as_columns_and_every_row():
    df = pd.DataFrame({"k": range(300), "v": np.linspace(-1e-4, 1, 300)}).set_index("k")
    t = display.table(df, caption="All rows.", decimals={"v": 2})
    cells = t.cells()
    assert len(cells) == 300 and cells[0] == ["0", "0.00"] and cells[-1] == ["299", "1.00"]  # no "-0.00"
    assert t._repr_html_().count("<tr>") == 301 and "rows \u00d7" not in t._repr_html_()


def test_table_shows_counts_that_pandas_made_float_as_integers():
    df = pd.DataFrame({"networks": [120.0, np.nan, 12000.0], "share": [0.5, 0.25, 1.0]})
    assert display.table(df, caption="c").cells() == [["120", "0.50"], ["\u2014", "0.25"], ["12,000", "1.00"]]


def test_table_shows_knob_values_with_the_decimals_they_need_and_measurements_with_three():
    df = pd.DataFrame({"knob": [0.0, 0.2, 0.45], "accuracy": [0.54321, 0.6, 0.7]})
    assert display.table(df, caption="c").cells() == [["0.00", "0.543"], ["0.20", "0.600"], ["0.45", "0.700"]]
    # a number the chapter gives is kept for every column
    assert display.table(df, caption="c", decimals=1).cells() == [["0.0", "0.5"], ["0.2", "0.6"], ["0.5", "0.7"]]


@pytest.mark.parametrize("kwargs, message", [
    (dict(caption=""), "caption"),
    (dict(caption="c", columns=["nope"]), "'nope'"),
    (dict(caption="c", decimals={"nope": 2}), "'nope'"),
])
def test_table_names_the_bad_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        display.table(pd.DataFrame({"a": [1.0]}), **kwargs)


def test_smallest_text_ignores_empty_and_hidden_text():
    fig, ax = plt.subplots()
    ax.set_title("")
    ax.text(0, 0, "hidden", fontsize=2).set_visible(False)
    ax.tick_params(labelsize=9)
    assert display.smallest_text_pt(fig) == 9
    plt.close(fig)


def test_table_keeps_row_labels_of_an_unnamed_index():
    df = pd.DataFrame({"regret": [0.046, 0.032]}, index=["advisor", "standard recipe"])
    t = display.table(df, caption="c")
    assert t.cells() == [["advisor", "0.046"], ["standard recipe", "0.032"]]
    assert list(display.table(df, caption="c", columns={"": "strategy", "regret": "regret"}).frame.columns) == \
        ["strategy", "regret"]


def test_a_dataframe_left_as_a_result_is_shown_whole_rounded_and_without_nan():
    df = pd.DataFrame({"n": range(100), "acc": np.r_[np.nan, np.linspace(0, 1, 99)], "r2": 0.25})
    html = display.frame_html(df)
    assert html.count("<tr>") == 101 and "NaN" not in html and "\u2014" in html
    assert "<th></th>" not in html and ">0.500<" in html and ">0.25<" in html  # a .round(2) column keeps 2 decimals
    by_alpha = display.frame_html(pd.DataFrame({"alpha": [0.3, 1.2], "acc": [0.41234, 0.5]}).set_index("alpha"))
    assert ">0.3<" in by_alpha and ">1.2<" in by_alpha and ">0.412<" in by_alpha  # index columns too
