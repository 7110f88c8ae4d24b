"""Re-execute a chapter of the book with new parameters (papermill), from the command line.

    python -m tlcore.book list
    python -m tlcore.book run transfer-depth -p quick false -p seeds 10 [-o out.ipynb]

Chapter names are the file names under ``book/`` with ``-`` or ``_``. Parameter values are read as
YAML scalars or lists (``false``, ``10``, ``0.5``, ``[20, 100]``, ``teacher``). Names that the chapter's
``parameters`` cell does not define are rejected before anything runs.
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

__all__ = ["chapters", "chapter_parameters", "run_chapter", "main"]

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def chapters() -> dict[str, Path]:
    """Executable chapters (MyST notebooks with a ``parameters`` cell), by hyphenated name."""
    out = {}
    for path in sorted(BOOK.glob("*.md")):
        if "tags: [parameters]" in path.read_text():
            out[path.stem.replace("_", "-")] = path
    return out


def _chapter(name: str) -> Path:
    known = chapters()
    key = name.replace("_", "-").removesuffix(".md")
    if key not in known:
        raise SystemExit(f"unknown chapter {name!r}; expected one of {sorted(known)}")
    return known[key]


def chapter_parameters(path: Path) -> dict:
    """The defaults of a chapter's ``parameters`` cell (literal assignments only)."""
    import jupytext

    nb = jupytext.read(path)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"{path.name} must have exactly one cell tagged 'parameters', found {len(cells)}")
    params = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            params[node.targets[0].id] = ast.literal_eval(node.value)
    return params


def _parse_value(text: str):
    import yaml

    return yaml.safe_load(text)


def run_chapter(name: str, parameters: dict | None = None, output: str | Path | None = None) -> Path:
    """Execute chapter ``name`` with ``parameters`` overriding its defaults; return the notebook path."""
    import jupytext
    import papermill

    path = _chapter(name)
    defaults = chapter_parameters(path)
    parameters = dict(parameters or {})
    for key in parameters:
        if key not in defaults:
            raise SystemExit(f"unknown parameter {key!r} for chapter {path.stem!r}; "
                             f"expected one of {sorted(defaults)}")
    output = Path(output) if output else ROOT / "results" / f"{path.stem.replace('_', '-')}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(jupytext.read(path), str(output), parameters=parameters, cwd=str(BOOK),
                               kernel_name="python3", progress_bar=False)
    return output


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tlcore.book", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="chapters and their parameters")
    run = sub.add_parser("run", help="execute a chapter with parameters")
    run.add_argument("chapter")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    run.add_argument("-o", "--output", help="executed notebook (default results/CHAPTER.ipynb)")
    args = parser.parse_args(argv)
    if args.command == "list":
        for name, path in chapters().items():
            params = ", ".join(f"{k}={v!r}" for k, v in chapter_parameters(path).items())
            print(f"{name}: {params}")
        return 0
    params = {k: _parse_value(v) for k, v in args.parameter}
    out = run_chapter(args.chapter, params, args.output)
    print(f"executed {args.chapter} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
