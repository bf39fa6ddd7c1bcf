"""One progress behaviour for every long command (train, adapt, run, proxies-report).

On a terminal: a tqdm bar. Anywhere else (a log file, a pipe, a CI job): the same bar text as a plain
line every ``every_s`` seconds and a last one at the end, instead of nothing (tqdm's default off a
terminal) or every redraw (tqdm writing to a file).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable
from typing import TextIO

from tqdm import tqdm

PLAIN_EVERY_S = 30.0


class PlainLines:
    """A file for tqdm off a terminal: its redraws become one plain line every ``every_s`` seconds, and
    the last redraw is written when the bar closes (tqdm ends a closed bar with a newline)."""

    def __init__(self, stream: TextIO, every_s: float = PLAIN_EVERY_S) -> None:
        self.stream, self.every_s = stream, every_s
        self.last, self.pending = -math.inf, ""

    def write(self, text: str) -> None:
        line = text.replace("\r", "").strip()
        if line:
            self.pending = line
        now = time.monotonic()
        if self.pending and (now - self.last >= self.every_s or text.endswith("\n")):
            self.stream.write(self.pending + "\n")
            self.stream.flush()
            self.last, self.pending = now, ""

    def flush(self) -> None:
        self.stream.flush()


def make_progress(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    initial: int = 0,
    desc: str | None = None,
    unit: str = "it",
    enabled: bool = True,
    stream: TextIO | None = None,
) -> tqdm:
    """A tqdm bar over ``iterable`` (or one to update by hand): on a terminal as usual, elsewhere as
    periodic plain lines; nothing at all when not ``enabled``."""
    stream = stream or sys.stderr
    if iterable is not None and total is None and hasattr(iterable, "__len__"):
        total = initial + len(iterable)
    if not enabled:
        return tqdm(iterable, total=total, initial=initial, disable=True)
    if stream.isatty():
        return tqdm(
            iterable, total=total, initial=initial, desc=desc, unit=unit, file=stream, dynamic_ncols=True
        )
    return tqdm(
        iterable,
        total=total,
        initial=initial,
        desc=desc,
        unit=unit,
        file=PlainLines(stream),
        ncols=100,
        ascii=True,
        mininterval=0,
    )
