"""The per-connection memory breakdown runs and accounts for the connections it held."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_memory_breakdown_measures_held_connections() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "bench.conn_memory", "--connections", "60", "--top", "5"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    found = re.search(r"60 connections held: ([\d.]+) KB of Python heap each", finished.stdout)
    assert found is not None, finished.stdout
    assert 2 < float(found.group(1)) < 200
    assert "aiohttp/web_protocol.py" in finished.stdout


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
