"""Re-execute a chapter of the book with new parameters (papermill), from the command line.

    python -m tlcore.book list
    python -m tlcore.book run transfer-depth -p quick false -p seeds 10 [-o out.ipynb] [--book DIR]

Chapters are the MyST notebooks with a ``parameters`` cell in the book's ``book/`` folder, found
from ``--book`` or the current directory (the root of a checkout, or ``book/`` itself); names
take ``-`` or ``_``. Values are read as YAML scalars or lists (``false``, ``10``, ``0.5``,
``[20, 100]``, ``teacher``) and must have the type of the chapter's default; unknown names are
rejected before any kernel starts, and so is an output path that is a folder, the chapter itself, or in
a missing or read-only folder. The chapter is executed in memory and the notebook written whole
only when the run succeeds, so a failed or stopped run (Ctrl-C: exit 130, SIGTERM: 143) never
replaces an earlier good result and leaves no temporary file.
"""
from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

from .files import OutputError, check_output, run_command, write_atomic
from .progress import bar_options

__all__ = ["ChapterError", "find_book", "chapters", "chapter_parameters", "check_parameters", "run_chapter",
           "main"]


class ChapterError(ValueError):
    """A problem with a chapter name, its parameters or its execution, said in one line."""


# A chapter: a MyST notebook whose parameters cell is tagged ``parameters`` (among other tags, e.g. hide-input).
_PARAMETERS_TAG = re.compile(r"^:tags: \[[^\]]*\bparameters\b[^\]]*\]", re.MULTILINE)


def _is_chapter(path: Path) -> bool:
    return bool(_PARAMETERS_TAG.search(path.read_text()))


def find_book(start: str | Path | None = None) -> Path:
    """The folder of chapters: ``start`` (or the working directory) if it holds them, else its ``book/``."""
    start = Path(start) if start is not None else Path.cwd()
    for folder in (start, start / "book"):
        if folder.is_dir() and any(_is_chapter(p) for p in folder.glob("*.md")):
            return folder
    raise ChapterError(f"no chapters found in {str(start)!r} or its book/ folder; run from the root of a "
                       "checkout of the book or pass --book DIR")


def chapters(book: str | Path | None = None) -> dict[str, Path]:
    """Executable chapters (MyST notebooks with a ``parameters`` cell), by hyphenated name."""
    folder = find_book(book)
    return {path.stem.replace("_", "-"): path for path in sorted(folder.glob("*.md"))
            if _is_chapter(path)}


def _chapter(name: str, book) -> Path:
    known = chapters(book)
    key = name.replace("_", "-").removesuffix(".md")
    if key not in known:
        raise ChapterError(f"unknown chapter {name!r}; expected one of {sorted(known)}")
    return known[key]


def chapter_parameters(path: Path) -> dict:
    """The defaults of a chapter's ``parameters`` cell (literal assignments only)."""
    import jupytext

    nb = jupytext.read(path)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ChapterError(f"{path.name} must have exactly one cell tagged 'parameters', found {len(cells)}")
    params = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            params[node.targets[0].id] = ast.literal_eval(node.value)
    return params


def _kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def check_parameters(path: Path, parameters: dict) -> dict:
    """Parameters checked against the chapter's defaults: known names, the defaults' types."""
    defaults = chapter_parameters(path)
    for key, value in parameters.items():
        if key not in defaults:
            raise ChapterError(f"unknown parameter {key!r} for chapter {path.stem!r}; "
                               f"expected one of {sorted(defaults)}")
        default = defaults[key]
        if default is not None and _kind(value) != _kind(default):
            raise ChapterError(f"parameter {key}={value!r} must be a {_kind(default)} like its default "
                               f"{default!r}")
        if isinstance(default, int) and not isinstance(default, bool) and isinstance(value, float) \
                and not value.is_integer():
            raise ChapterError(f"parameter {key}={value!r} must be an integer like its default {default!r}")
    return dict(parameters)


def run_chapter(name: str, parameters: dict | None = None, output: str | Path | None = None,
                book: str | Path | None = None, progress: bool = False) -> Path:
    """Execute chapter ``name`` with ``parameters`` overriding its defaults; return the notebook path."""
    import jupytext
    import nbformat
    import papermill

    path = _chapter(name, book)
    parameters = check_parameters(path, dict(parameters or {}))
    if output:
        output = Path(output)
        if output.suffix != ".ipynb":
            raise ChapterError(f"-o {str(output)!r}: the executed notebook's name must end in .ipynb")
    else:
        output = Path.cwd() / "results" / f"{path.stem.replace('_', '-')}.ipynb"
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ChapterError(f"cannot make the folder {str(output.parent)!r} ({exc.strerror})") from None
    try:  # before any kernel starts: not the chapter itself, not a folder, a writable folder
        check_output(output, "-o", [path])
    except OutputError as exc:
        raise ChapterError(str(exc)) from None
    try:  # executed in memory (no output path), then written whole: nothing half-written, no temp file
        nb = papermill.execute_notebook(jupytext.read(path), None, parameters=parameters, cwd=str(path.parent),
                                        kernel_name="python3", progress_bar=bar_options() if progress else False)
    except papermill.PapermillExecutionError as exc:
        raise ChapterError(f"chapter {path.stem!r} failed in cell {exc.exec_count}: {exc.ename}: "
                           f"{str(exc.evalue).splitlines()[0] if exc.evalue else ''}") from None
    try:
        write_atomic(output, nbformat.writes(nb).encode())
    except OSError as exc:
        raise ChapterError(f"cannot write {str(output)!r} ({exc.strerror or exc}); any earlier file is "
                           "unchanged") from None
    return output


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tlcore.book", description=__doc__.split("\n")[0])
    parser.add_argument("--book", help="folder of the chapters (default: ./book or .)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="chapters and their parameters")
    run = sub.add_parser("run", help="execute a chapter with parameters")
    run.add_argument("chapter")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    run.add_argument("-o", "--output", help="executed notebook (default results/CHAPTER.ipynb)")
    args = parser.parse_args(argv)
    return run_command(lambda: _command(args), "python -m tlcore.book")


def _command(args) -> int:
    import yaml

    try:
        if args.command == "list":
            for name, path in chapters(args.book).items():
                params = ", ".join(f"{k}={v!r}" for k, v in chapter_parameters(path).items())
                print(f"{name}: {params}")
            return 0
        try:
            params = {k: yaml.safe_load(v) for k, v in args.parameter}
        except yaml.YAMLError as exc:
            raise ChapterError(f"a parameter value is not valid YAML ({type(exc).__name__})") from None
        out = run_chapter(args.chapter, params, args.output, args.book, progress=True)
    except ChapterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"executed {args.chapter} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
