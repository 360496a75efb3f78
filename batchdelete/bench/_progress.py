"""The progress line of a run: on stderr when it is a terminal, redrawn in
place (steps done / planned, time so far, what runs now); silent otherwise."""

from __future__ import annotations

import shutil
import time
from typing import TextIO

__all__ = ["Progress"]

WIDTH = 20  # characters of the bar


class Progress:
    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        self.on = stream is not None and stream.isatty()
        self.total = 0
        self.done = 0
        self.started = time.monotonic()
        self.drawn = False

    def plan(self, steps: int) -> None:
        """`steps` more steps to come."""
        self.total += steps

    def step(self, label: str) -> None:
        """A step starts: `label` says what it measures."""
        self._draw(label)
        self.done += 1

    def _draw(self, label: str) -> None:
        if not self.on or self.stream is None:
            return
        total = max(self.total, self.done + 1)
        filled = WIDTH * self.done // total
        seconds = int(time.monotonic() - self.started)
        line = (
            f"bench [{'#' * filled}{'.' * (WIDTH - filled)}] {self.done}/{total} "
            f"{seconds // 60}:{seconds % 60:02d} {label}"
        )
        width = shutil.get_terminal_size((80, 24)).columns - 1
        self.stream.write("\r\x1b[K" + line[:width])
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """Clear the line (before the results, or an error, are written)."""
        if self.on and self.drawn and self.stream is not None:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False
