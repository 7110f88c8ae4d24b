"""The book: chapter parameters, papermill re-execution, reference notebooks (the built site: test_site.py)."""
import subprocess
import sys
from pathlib import Path

import pytest

from tlcore.book import chapter_parameters, chapters, run_chapter

ROOT = Path(__file__).resolve().parents[1]


def test_every_chapter_has_parameters_and_is_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text()
    found = chapters()
    assert len(found) >= 7
    for name, path in found.items():
        params = chapter_parameters(path)
        assert params.get("quick") is True, f"{name} must default to quick mode"
        assert f"book/{path.stem}" in toc
    assert not list((ROOT / "book").glob("*.ipynb")), "chapters are committed as MyST markdown only"


def test_papermill_rerun_with_parameters(tmp_path):
    out = run_chapter("tasks", {"n_probe": 500, "seed": 1}, tmp_path / "tasks.ipynb")
    import nbformat

    nb = nbformat.read(out, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "n_probe = 500" in injected[0].source
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))


def test_unknown_parameter_or_chapter_is_rejected(tmp_path):
    with pytest.raises(SystemExit, match="unknown parameter 'quik'"):
        run_chapter("tasks", {"quik": False}, tmp_path / "x.ipynb")
    with pytest.raises(SystemExit, match="unknown chapter 'nope'"):
        run_chapter("nope")
    cli = subprocess.run([sys.executable, "-m", "tlcore.book", "run", "tasks", "-p", "quik", "false"],
                         capture_output=True, text=True)
    assert cli.returncode != 0 and "unknown parameter 'quik'" in cli.stderr


def test_reference_notebooks_match_the_chapters():
    """nbval runs tests/notebooks/*.ipynb: they must be executions of the current chapter code."""
    import jupytext
    import nbformat

    for name, path in chapters().items():
        reference = ROOT / "tests" / "notebooks" / f"{path.stem}.ipynb"
        assert reference.exists(), f"no reference notebook for {name}: run `make reference-notebooks`"
        chapter_code = [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]
        ref_code = [c.source for c in nbformat.read(reference, as_version=4).cells if c.cell_type == "code"]
        assert ref_code == chapter_code, f"{reference.name} is stale: run `make reference-notebooks`"
        tags = [t for c in nbformat.read(reference, as_version=4).cells for t in c.metadata.get("tags", [])]
        if name != "scale":
            assert "nbval-check-output" in tags, f"{name} regression-checks no summary"
