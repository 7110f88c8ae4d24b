"""The README's examples run as written.

Every ```python block of README.md, and every ```bash block whose first command is
``python -m tlcore...``, runs in a fresh subprocess: this interpreter (``python`` on the PATH is it),
cwd a temporary folder, ``TLCORE_CACHE_DIR`` inside it, this checkout first on PYTHONPATH, 300 s.

HTML comments just before a block (only blank lines between) steer it; readers of the rendered
README do not see them:

* ``<!-- readme-test: skip -->``  the next block is not run (e.g. it needs a Dask cluster);
* ``<!-- readme-test: setup -->`` the next block (Python) is not run on its own: its code is prepended
  to the next Python block, or run just before the next bash block in the same folder. A setup
  block may sit inside the comment itself, hidden from readers::

      <!-- readme-test: setup
      ```python
      make_the_files_the_next_example_reads()
      ```
      -->

Blocks inside any other HTML comment are ignored (commented-out examples).
"""
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TIMEOUT_S = 300
MARKER = re.compile(r"<!--\s*readme-test:\s*([\w-]+)")
FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
PYTHON_LANGS = {"python", "py", "python3"}
SHELL_LANGS = {"bash", "sh", "shell"}


@dataclass
class Block:
    lang: str
    code: str
    line: int  # of the opening fence in README.md
    marker: str | None = None  # "skip", "setup" or None


def readme_blocks(text: str) -> list[Block]:
    """Fenced blocks with the readme-test marker just before each (see the module docstring)."""
    blocks, marker, in_comment = [], None, False
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if fence:
            close, body = fence.group(1), []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(close):
                body.append(lines[i])
                i += 1
            if not in_comment or marker:
                blocks.append(Block(fence.group(2).lower(), "\n".join(body), i - len(body), marker))
            marker = None
        else:
            found = MARKER.search(line)
            if found:
                if found.group(1) not in ("skip", "setup"):
                    raise ValueError(f"README.md:{i + 1}: unknown marker readme-test: {found.group(1)}")
                marker = found.group(1)
            comment_line = in_comment or "<!--" in line
            if "<!--" in line:
                in_comment = "-->" not in line.rsplit("<!--", 1)[1]
            elif "-->" in line:
                in_comment = False
            if line.strip() and not comment_line:
                marker = None  # a marker applies only to the block right after it
        i += 1
    return blocks


def _is_tlcore_command(block: Block) -> bool:
    commands = [ln.strip() for ln in block.code.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return bool(commands) and commands[0].startswith("python -m tlcore")


@dataclass
class Case:
    block: Block
    setup: str  # Python code run first (prepended for Python blocks)

    @property
    def id(self):
        first = next((ln.strip() for ln in self.block.code.splitlines() if ln.strip()), "")
        return f"README.md:{self.block.line} {first[:60]}"


def readme_cases(text: str) -> list[Case]:
    cases, setup = [], []
    for block in readme_blocks(text):
        if block.marker == "skip":
            continue
        if block.marker == "setup":
            if block.lang not in PYTHON_LANGS:
                raise ValueError(f"README.md:{block.line}: a readme-test setup block must be Python")
            setup.append(block.code)
        elif block.lang in PYTHON_LANGS or (block.lang in SHELL_LANGS and _is_tlcore_command(block)):
            cases.append(Case(block, "\n".join(setup)))
            setup = []
    return cases


CASES = readme_cases(README.read_text())


def test_markers_are_understood():
    text = """
<!-- readme-test: skip -->
```python
skipped()
```
<!-- readme-test: setup
```python
prepared = 1
```
-->

```python
print(prepared)
```
<!-- an old example, commented out
```python
ignored()
```
-->
```bash
python -m tlcore.book list
```
```bash
make test
```
"""
    cases = readme_cases(text)
    assert [(c.block.lang, c.block.code, c.setup) for c in cases] == [
        ("python", "print(prepared)", "prepared = 1"), ("bash", "python -m tlcore.book list", "")]
    with pytest.raises(ValueError, match="unknown marker"):
        readme_blocks("<!-- readme-test: skp -->\n```python\nx\n```\n")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_readme_block_runs(case, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("python", "python3"):  # the README's `python` is this interpreter
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
        shim.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, TLCORE_CACHE_DIR=str(tmp_path / "cache"), MPLBACKEND="Agg",
               PATH=os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    if case.block.lang in PYTHON_LANGS:
        (work / "block.py").write_text(case.setup + "\n" + case.block.code + "\n")
        commands = [[sys.executable, "block.py"]]
    else:
        (work / "block.sh").write_text(case.block.code + "\n")
        commands = [["bash", "-euo", "pipefail", "block.sh"]]
        if case.setup:
            (work / "setup.py").write_text(case.setup + "\n")
            commands.insert(0, [sys.executable, "setup.py"])
    for command in commands:
        code, stderr = _run(command, work, env)
        if code is None:
            pytest.fail(f"{case.id}: still running after {TIMEOUT_S} s\n{stderr[-3000:]}")
        if code:
            pytest.fail(f"{case.id}: {' '.join(command)} exited {code}\n{stderr[-3000:]}")


def _run(command, cwd, env):
    """(exit code or None on timeout, stderr). On timeout the whole process group is killed, so a
    block's own children (a papermill kernel, a worker pool) do not outlive the test."""
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=TIMEOUT_S)
        return proc.returncode, stderr
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        return None, stderr
