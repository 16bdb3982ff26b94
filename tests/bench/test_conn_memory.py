"""The per-connection memory breakdown runs and accounts for the connections it held."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _heap_per_connection(front: str) -> tuple[float, str]:
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.conn_memory",
            "--connections",
            "60",
            "--top",
            "5",
            "--front",
            front,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    found = re.search(
        rf"60 connections held \({front}\): ([\d.]+) KB of Python heap each", finished.stdout
    )
    assert found is not None, finished.stdout
    return float(found.group(1)), finished.stdout


def test_the_memory_breakdown_measures_held_connections_both_ways() -> None:
    through_aiohttp, report = _heap_per_connection("aiohttp")
    assert 2 < through_aiohttp < 200
    assert "aiohttp/web_protocol.py" in report
    through_door, report = _heap_per_connection("door")
    assert 1 < through_door < through_aiohttp
    assert "aiohttp/web_protocol.py" not in report


def test_the_connection_count_is_bounded() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "bench.conn_memory", "--connections", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert finished.returncode == 2
    assert "--connections must be between" in finished.stderr
