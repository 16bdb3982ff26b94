"""The database micro-benchmarks (a room miss, a room entry's record and its reads) run against
PostgreSQL and report both sides' CPU per round."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROUND = r"round (\d): (\d+) µs of this process's CPU and (\d+) µs of PostgreSQL's per "


def _run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def _rounds(finished: subprocess.CompletedProcess[str], unit: str) -> list[tuple[str, ...]]:
    assert finished.returncode == 0, finished.stderr[-3000:]
    rounds = re.findall(ROUND + re.escape(unit), finished.stdout)
    assert [number for number, _ours, _theirs in rounds] == ["1", "2"], finished.stdout
    assert all(int(ours) > 0 for _number, ours, _theirs in rounds)
    return rounds


def test_a_room_and_its_class_read_are_measured_on_both_sides() -> None:
    finished = _run("bench.room_miss", "--students", "90", "--reads", "30", "--rounds", "2")
    _rounds(finished, "room and class read")


def test_entries_are_measured_on_both_sides() -> None:
    finished = _run(
        "bench.arrivals", "--students", "300", "--entries", "40", "--batch", "3", "--rounds", "2"
    )
    _rounds(finished, "entry, in batches of 3")


def test_the_counts_are_bounded() -> None:
    finished = _run("bench.room_miss", "--students", "0")
    assert finished.returncode == 2
    assert "--students must be between" in finished.stderr
    finished = _run("bench.arrivals", "--students", "300", "--entries", "100", "--rounds", "2")
    assert finished.returncode == 2
    assert "every student enters once" in finished.stderr


def test_the_background_polls_are_measured_on_both_sides() -> None:
    finished = _run("bench.background_polls", "--students", "60", "--polls", "30", "--rounds", "2")
    _rounds(finished, "round of polls")


def test_a_room_entrys_reads_are_measured_on_both_sides() -> None:
    finished = _run("bench.room_entry", "--students", "90", "--entries", "30", "--rounds", "2")
    _rounds(finished, "entry")
