"""The room-entry micro-benchmark runs against PostgreSQL and reports both sides' CPU."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.arrivals", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_entries_are_measured_on_both_sides() -> None:
    finished = _run("--students", "300", "--entries", "40", "--batch", "3", "--rounds", "2")
    assert finished.returncode == 0, finished.stderr[-3000:]
    rounds = re.findall(
        r"round (\d): (\d+) µs of this process's CPU and (\d+) µs of PostgreSQL's per entry, "
        r"in batches of 3",
        finished.stdout,
    )
    assert [number for number, _ours, _theirs in rounds] == ["1", "2"], finished.stdout
    assert all(int(ours) > 0 for _number, ours, _theirs in rounds)


def test_every_student_enters_once() -> None:
    finished = _run("--students", "300", "--entries", "100", "--rounds", "2")
    assert finished.returncode == 2
    assert "every student enters once" in finished.stderr
