"""``urok bench media`` runs end to end (tiny: three subscribers, one-second windows)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

KEYS = {
    "core_per_subscriber",
    "baseline_core_per_subscriber",
    "rss_mb_per_subscriber",
    "packets_out_per_s",
    "added_latency_ms_p50",
}


def test_bench_media_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "media.json"
    command = [sys.executable, "-m", "web.cli", "bench", "media", "--subscribers", "3"]
    command += ["--baseline-subscribers", "1", "--seconds", "1", "--json", str(out)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=120)
    result = json.loads(out.read_text())
    assert result.keys() >= KEYS
    assert result["core_per_subscriber"] < result["baseline_core_per_subscriber"]
    assert result["packets_out_per_s"] > 3 * 50  # audio alone is 50 packets a second
    assert result["runs"]["sfu"]["video_fps_per_subscriber"] > 20
