"""A small storm through the real command line: every student joins, every chat message
arrives, after a worker is killed everyone comes back with nothing lost or repeated, and at
the lesson's end everyone leaves and every visit is closed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

STUDENTS = 600


@pytest.mark.timeout(120)
def test_small_storm_report(tmp_path: Path) -> None:
    report_path = tmp_path / "storm.json"
    summary_path = tmp_path / "storm.md"
    chart_path = tmp_path / "storm.png"
    command = [
        sys.executable,
        "-m",
        "web.cli",
        "bench",
        "storm",
        f"--students={STUDENTS}",
        "--workers=2",
        "--rate=400",
        "--ramp=1",
        "--chat-rounds=1",
        "--hold=0.5",
        "--leave-spread=1",
        "--baselines=raw",
        "--timeout=100",
        f"--json={report_path}",
        f"--markdown={summary_path}",
        f"--chart={chart_path}",
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=110)
    assert finished.returncode == 0, finished.stderr[-3000:]
    report = json.loads(report_path.read_text())

    assert report["students"] == STUDENTS
    assert report["joins_ok"] == STUDENTS
    assert report["joins_failed"] == {}
    assert set(report["join_latency_ms"]) == {"p50", "p95", "p99", "p999"}
    assert report["joins_per_server_cpu_s"] > 0
    assert report["rss_kb_per_conn"] is not None

    deliveries = report["deliveries"]
    assert deliveries["expected"] == STUDENTS  # one message per room of 30, 20 rooms
    assert deliveries["received"] == deliveries["expected"]
    assert report["deliveries_per_server_cpu_s"] > 0

    reconnect = report["reconnect"]
    assert reconnect["clients"] > 0
    assert reconnect["resumed"] == reconnect["clients"]
    assert reconnect["lost"] == 0
    assert reconnect["duplicated"] == 0
    assert reconnect["after_kill_receipts"] == reconnect["after_kill_expected_receipts"]
    assert reconnect["connected_at_end"] == STUDENTS

    ending = report["lesson_end"]
    assert ending["clients"] == STUDENTS and ending["everyone_out"]
    assert ending["visits_closed"] == STUDENTS, "every departure closed its visit"
    assert ending["leaves_per_server_cpu_s"] > 0
    assert "Lesson end: 600 students left" in summary_path.read_text()

    raw = report["baseline_raw"]
    assert raw["joins_ok"] == STUDENTS
    assert raw["lesson_end"]["clients"] == STUDENTS
    assert raw["deliveries"]["received"] == raw["deliveries"]["expected"]
    assert report["gc"] == {"thresholds": "100000,50,100", "freeze": True}
    assert "| urok |" in summary_path.read_text()

    cpu = report["cpu_timeline"]
    assert cpu and [p["second"] for p in cpu] == sorted({p["second"] for p in cpu})
    for point in cpu:
        assert 0 <= point["machine_user"] <= 1 and 0 <= point["machine_kernel"] <= 1
        assert point["server_cores"] >= 0
    assert sum(p["server_cores"] for p in cpu) > 0, "the server worked while students joined"
    assert chart_path.read_bytes().startswith(b"\x89PNG")


@pytest.mark.timeout(120)
def test_a_storm_placed_by_lesson_reaches_every_member(tmp_path: Path) -> None:
    """Each student connects to the port of the worker holding their lesson."""
    report_path = tmp_path / "storm.json"
    command = [
        sys.executable,
        "-m",
        "web.cli",
        "bench",
        "storm",
        "--students=300",
        "--workers=2",
        "--placement=lesson",
        "--rate=300",
        "--ramp=1",
        "--chat-rounds=1",
        "--hold=0.5",
        "--no-kill",
        "--leave-spread=0.5",
        "--baselines=none",
        "--timeout=100",
        f"--json={report_path}",
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=110)
    assert finished.returncode == 0, finished.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["placement"] == "lesson"
    assert report["joins_ok"] == 300 and report["joins_failed"] == {}
    assert report["deliveries"]["received"] == report["deliveries"]["expected"] == 300
    assert report["lesson_end"]["visits_closed"] == 300
