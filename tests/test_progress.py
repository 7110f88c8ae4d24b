"""Progress output: in place on a terminal, plain lines in a log."""
import io

from tlcore.progress import bar, bar_options


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_when_not_a_terminal():
    log = io.StringIO()
    with bar(total=3, desc="cells", unit="cell", enabled=True, stream=log) as b:
        for _ in range(3):
            b.update()
    text = log.getvalue()
    assert "\r" not in text and text.endswith("\n")
    assert text.splitlines()[-1].startswith("cells: 100%") and "3/3" in text


def test_quiet_by_default_off_a_terminal_and_in_place_on_one():
    log = io.StringIO()
    with bar(total=2, desc="x", unit="cell", stream=log) as b:
        b.update(2)
    assert log.getvalue() == ""  # a library call inside a notebook prints nothing
    assert bar_options(_Terminal())["file"].isatty() and "mininterval" in bar_options(io.StringIO())
