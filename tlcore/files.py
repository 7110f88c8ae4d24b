"""Files the project writes: checked before any work, written whole or not at all.

Every output (advice JSON and plots, model files, executed notebooks, shipped tables, cache
entries) goes through :func:`write_atomic`: a temporary file in the same folder, flushed to disk
and renamed into place, so a full disk or a kill leaves the earlier good file, never a part of a
new one, and no temporary file. :func:`check_output` refuses, before anything is computed, an
output path that could not be written or that is one of the command's own inputs.
"""
from __future__ import annotations

import os
import signal
import stat
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Callable, Iterable

__all__ = ["write_atomic", "check_output", "same_file", "file_kind", "OutputError", "Terminated", "run_command"]


class OutputError(ValueError):
    """An output path that must not or cannot be written; one line naming it."""


def write_atomic(path: str | os.PathLike, data: bytes, mode: int | None = None) -> None:
    """Write ``path`` so that a reader sees the old file or the whole new one, never a part.

    ``mode`` sets the file's permissions (default: what a plain ``open`` would give, after the
    umask; ``mkstemp`` alone makes private files). On any failure, a full disk or a signal
    included, the temporary file is removed and the old file stays as it was.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable (POSIX; not possible on Windows)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def file_kind(mode: int) -> str:
    """What a stat mode is, in words ("a folder", "a FIFO", ...)."""
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISLNK, "a symbolic link"), (stat.S_ISREG, "a regular file")):
        if test(mode):
            return name
    return "not a regular file"


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file (after resolving links; hard links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def _access(path, mode: int) -> bool:
    """``os.access`` for the effective user (the one that will write), where the system can say."""
    if os.access in os.supports_effective_ids:
        return os.access(path, mode, effective_ids=True)
    return os.access(path, mode)


def check_output(path: str | os.PathLike, flag: str, inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Refuse an output ``path`` before any work: one of ``inputs``, a folder, not a regular file,
    in a missing or read-only folder, or a read-only file. ``flag`` names the option in the message."""
    p = Path(path)
    shown = repr(str(path))
    for given in inputs:
        if same_file(p, given):
            raise OutputError(f"{flag} {shown} is the input file {str(given)!r}: writing it would destroy "
                              "the input; choose another file name")
    try:
        st = os.stat(p)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"{flag} {shown} cannot be checked ({exc.strerror})") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{flag} {shown} is a folder, not a file")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{flag} {shown} is {file_kind(st.st_mode)}, not a regular file")
    parent = p.parent
    if not parent.is_dir():
        raise OutputError(f"{flag} {shown}: folder {str(parent)!r} does not exist")
    if not _access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{flag} {shown}: folder {str(parent)!r} is not writable")
    if st is not None and not _access(p, os.W_OK):
        raise OutputError(f"{flag} {shown} is not writable (a read-only file)")
    return p


class Terminated(BaseException):
    """SIGTERM turned into an exception, so that every ``finally`` and cleanup runs as for Ctrl-C."""


def run_command(main: Callable[[], int], prog: str) -> int:
    """Run a command line's body: Ctrl-C ends with one line and exit status 130, SIGTERM with one
    line and 143 (128 + the signal), and the writers' cleanup leaves no temporary file behind."""
    def terminate(signum, frame):
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread: signals are not ours to handle
        previous = None
    shown = warnings.showwarning
    warnings.showwarning = lambda message, category, *rest, **kw: print(
        f"{prog}: warning: {message}", file=sys.stderr)  # one line, not Python's two with a source line
    try:
        return main()
    except KeyboardInterrupt:
        _close_bars()
        print(f"{prog}: interrupted (Ctrl-C); no partial file was left", file=sys.stderr)
        return 130
    except Terminated:
        _close_bars()
        print(f"{prog}: terminated (SIGTERM); no partial file was left", file=sys.stderr)
        return 143
    finally:
        warnings.showwarning = shown
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _close_bars() -> None:
    """Close the progress bars a stopped command leaves open, so that their last line comes first."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", ()) or ()):
        try:
            bar.close()
        except Exception:
            pass
