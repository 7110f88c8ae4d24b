"""Progress a user can follow, in a terminal or in a log file.

In a terminal, a tqdm bar redraws itself in place. When stderr is not a terminal (a CI log, ``nohup``,
a pipe), the same bar is written as plain lines, one every few seconds at most, each with the count
done, the elapsed time and tqdm's estimate of the time left, so a long run never looks stalled.
"""
from __future__ import annotations

import sys

__all__ = ["bar", "bar_options", "PLAIN_INTERVAL"]

PLAIN_INTERVAL = 5.0  # seconds between plain lines


class _Lines:
    """A file for tqdm that turns each in-place redraw into one plain line."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "").strip()
        if text:
            self.stream.write(text + "\n")

    def flush(self) -> None:
        self.stream.flush()


def bar_options(stream=None) -> dict:
    """tqdm keyword arguments for ``stream`` (stderr by default): in place on a terminal, plain lines elsewhere."""
    stream = stream if stream is not None else sys.stderr
    if hasattr(stream, "isatty") and stream.isatty():
        return {"file": stream}
    return {"file": _Lines(stream), "mininterval": PLAIN_INTERVAL, "ascii": True, "dynamic_ncols": False}


def bar(total: int, desc: str, unit: str, enabled: bool | None = None, stream=None, **tqdm_options):
    """A progress bar; ``enabled=None`` shows it only on a terminal (library calls inside notebooks stay quiet)."""
    from tqdm import tqdm

    stream = stream if stream is not None else sys.stderr
    if enabled is None:
        enabled = hasattr(stream, "isatty") and stream.isatty()
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, **bar_options(stream), **tqdm_options)
