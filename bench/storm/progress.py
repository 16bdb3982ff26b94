"""A one-line progress bar on stderr."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, enabled: bool = True) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()
        self.enabled = enabled
        self._last = 0.0
        self._last_count = 0
        self._last_at = time.monotonic()
        self.rate = 0.0

    def show(self, phase: str, done: int, total: int, extra: str = "") -> None:
        now = time.monotonic()
        if now - self._last_at >= 1.0:
            self.rate = (done - self._last_count) / (now - self._last_at)
            self._last_count, self._last_at = done, now
        if not self.enabled or now - self._last < (0.2 if self.tty else 5.0):
            return
        self._last = now
        width = 24
        filled = int(width * done / total) if total else width
        bar = "#" * filled + "." * (width - filled)
        line = f"{self.label:>6} {phase:<12} [{bar}] {done}/{total} {self.rate:6.0f}/s {extra}"
        if self.tty:
            sys.stderr.write("\r" + line[:150].ljust(110))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def note(self, text: str) -> None:
        """A line of its own (a phase finished)."""
        if self.enabled and self.tty:
            sys.stderr.write("\r" + " " * 110 + "\r")
        sys.stderr.write(f"{self.label}: {text}\n")
        sys.stderr.flush()
