"""Off a terminal, progress is a few plain lines: the first state, one line per interval, the last state."""

from __future__ import annotations

import io

from supernas.core.progress import PlainLines, make_progress


class Log(io.StringIO):
    def isatty(self) -> bool:
        return False


def test_a_log_gets_the_first_and_last_state_not_every_redraw():
    log = Log()
    for _ in make_progress(range(200), desc="train", unit="step", stream=log):
        pass
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in log.getvalue()
    assert lines[0].startswith("train:   0%") and "0/200" in lines[0]
    assert lines[1].startswith("train: 100%") and "200/200" in lines[1]


def test_redraws_within_the_interval_are_held_back():
    log = Log()
    lines = PlainLines(log, every_s=3600)
    for text in ["\rstep 1", "\rstep 2", "\rstep 3"]:
        lines.write(text)
    assert log.getvalue() == "step 1\n"  # the first at once, then nothing within the hour
    lines.write("\n")  # the bar closes
    assert log.getvalue() == "step 1\nstep 3\n"


def test_disabled_progress_writes_nothing():
    log = Log()
    for _ in make_progress(range(5), enabled=False, stream=log):
        pass
    assert log.getvalue() == ""
