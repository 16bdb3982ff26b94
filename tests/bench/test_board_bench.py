"""``urok bench board`` runs end to end (tiny: three students, a few hundred operations)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_board_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "board.json"
    command = [sys.executable, "-m", "web.cli", "bench", "board", "--students", "3"]
    command += ["--strokes", "10", "--operations", "600", "--writers", "2", "--json", str(out)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=240)
    result = json.loads(out.read_text())

    fan_out = result["fan_out"]
    assert fan_out["all_delivered"] is True
    assert fan_out["deliveries"] == fan_out["count"] == 3 * 10
    assert 0 < fan_out["p50_ms"] <= fan_out["p99_ms"]
    assert fan_out["server_cpu_ms_per_stroke"] > 0

    soak = result["soak"]
    assert soak["board_version"] >= 600
    assert soak["snapshot_version"] >= 500, "a snapshot is taken every 500 operations"
    assert soak["first_10pct"]["count"] == soak["last_10pct"]["count"] == 60
    assert soak["last_over_first_p99"] > 0
