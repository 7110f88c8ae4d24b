"""The book: chapter parameters, papermill re-execution, reference notebooks (the built site: test_site.py)."""
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
