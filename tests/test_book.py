"""The book: chapter parameters, papermill re-execution, and the built site in a headless browser."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tlcore.book import ChapterError, chapter_parameters, chapters, run_chapter

ROOT = Path(__file__).resolve().parents[1]


def test_every_chapter_has_parameters_and_is_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text()
    found = chapters(ROOT)
    assert len(found) >= 7
    for name, path in found.items():
        params = chapter_parameters(path)
        assert params.get("quick") is True, f"{name} must default to quick mode"
        assert f"book/{path.stem}" in toc
    assert not list((ROOT / "book").glob("*.ipynb")), "chapters are committed as MyST markdown only"


def test_papermill_rerun_with_parameters(tmp_path):
    out = run_chapter("tasks", {"n_probe": 500, "seed": 1}, tmp_path / "tasks.ipynb", book=ROOT)
    import nbformat

    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "n_probe = 500" in injected[0].source
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))


def test_bad_runs_are_one_line_errors_and_keep_earlier_results(tmp_path, monkeypatch):
    with pytest.raises(ChapterError, match="unknown parameter 'quik'"):
        run_chapter("tasks", {"quik": False}, tmp_path / "x.ipynb", book=ROOT)
    with pytest.raises(ChapterError, match="unknown chapter 'nope'"):
        run_chapter("nope", book=ROOT)
    with pytest.raises(ChapterError, match="parameter seed='abc' must be a number"):
        run_chapter("tasks", {"seed": "abc"}, tmp_path / "x.ipynb", book=ROOT)
    with pytest.raises(ChapterError, match="no chapters found"):
        run_chapter("tasks", book=tmp_path)
    # from an installed package: chapters are found from the working directory, not the package
    monkeypatch.chdir(ROOT)
    assert "tasks" in chapters()
    good = tmp_path / "tasks.ipynb"
    good.write_text("an earlier good result")
    for args, message in ((["-p", "quik", "false"], "unknown parameter 'quik'"),
                          (["-p", "seed", "abc"], "must be a number"),
                          (["-p", "n_probe", "-5"], "failed in cell")):
        cli = subprocess.run([sys.executable, "-m", "tlcore.book", "--book", str(ROOT), "run", "tasks", *args,
                              "-o", str(good)], capture_output=True, text=True)
        assert cli.returncode == 2 and message in cli.stderr, cli.stderr
        last = cli.stderr.strip().splitlines()[-1]
        assert last.startswith("error: ") and message in last and "Traceback" not in cli.stderr, cli.stderr
        assert good.read_text() == "an earlier good result"
        assert not list(tmp_path.glob(".tasks-*"))  # no temporary file left behind


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    subprocess.run(["jupyter-book", "build", str(ROOT), "--path-output", str(out), "--warningiserror",
                    "--keep-going"], check=True, capture_output=True)
    return out / "_build" / "html"


@pytest.mark.skipif(not _chromium() and not os.environ.get("CI"), reason="Debian's chromium is not installed")
def test_site_pages_figures_and_sliders_offline(site):
    from playwright.sync_api import sync_playwright

    pages = {name: site / "book" / f"{path.stem}.html" for name, path in chapters().items()}
    assert (site / "book" / "intro.html").exists() or (site / "index.html").exists()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_context(offline=True).new_page()
        for name, html in pages.items():
            assert html.exists(), f"no page for chapter {name}"
            page.goto(html.as_uri())
            page.wait_for_timeout(1500)
            text = page.content()
            assert "Traceback (most recent call last)" not in text and not page.locator(".output.error").count(), name
            figures = page.locator("img").count() + page.locator(".widget-image").count()
            assert figures >= 1, f"chapter {name} shows no figure"
            views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
            assert page.locator(".widget-slider").count() == views, f"{name}: widgets rendered twice or not at all"
        page.goto(pages["transfer-depth"].as_uri())
        page.wait_for_selector(".widget-image", timeout=20000)

        def shown():
            return page.evaluate("""() => Array.from(document.querySelectorAll('.widget-image'))
                .filter(e => e.offsetParent !== null).map(e => e.src)""")

        before = shown()
        assert before, "the slider's figures did not render without a kernel"
        page.locator(".widget-slider .noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(500)
        after = shown()
        assert after and after[0] != before[0], "moving the slider did not change the figure"
        browser.close()


def test_reference_notebooks_match_the_chapters():
    """nbval runs tests/notebooks/*.ipynb: they must be executions of the current chapter code."""
    import jupytext
    import nbformat

    for name, path in chapters(ROOT).items():
        reference = ROOT / "tests" / "notebooks" / f"{path.stem}.ipynb"
        assert reference.exists(), f"no reference notebook for {name}: run `make reference-notebooks`"
        chapter_code = [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]
        ref_code = [c.source for c in nbformat.read(reference, as_version=4).cells if c.cell_type == "code"]
        assert ref_code == chapter_code, f"{reference.name} is stale: run `make reference-notebooks`"
        tags = [t for c in nbformat.read(reference, as_version=4).cells for t in c.metadata.get("tags", [])]
        if name != "scale":
            assert "nbval-check-output" in tags, f"{name} regression-checks no summary"
