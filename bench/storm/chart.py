"""A PNG of the storm: arrivals per second and join latency percentiles over time."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

SERIES = (("urok", None), ("raw", "baseline_raw"), ("stock", "baseline_stock"))


def draw(report: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - an optional extra
        raise SystemExit("--chart needs matplotlib: pip install -e '.[bench]'") from exc
    cpu = report.get("cpu_timeline") or []
    panels = 3 if cpu else 2
    figure, axes = plt.subplots(panels, 1, figsize=(10, 3.5 * panels), sharex=True)
    arrivals, latency = axes[0], axes[1]
    timeline = report.get("join_timeline") or []
    seconds = [p["second"] for p in timeline]
    arrivals.bar(
        seconds,
        [p.get("scheduled", 0) for p in timeline],
        width=1.0,
        color="#c8d3e6",
        label="arrivals scheduled",
    )
    arrivals.bar(
        seconds,
        [p["arrivals"] for p in timeline],
        width=0.6,
        color="#4c72b0",
        label="of them joined (acked)",
    )
    arrivals.set_ylabel("students per second")
    arrivals.legend(fontsize=8)
    arrivals.set_title(
        f"urok storm: {report['students']:,} students, {report.get('workers')} worker(s), "
        f"{report['shape']} to {report['rate']:g}/s"
    )
    styles = {"p50": "-", "p95": "--", "p99": ":"}
    for name, key in SERIES:
        metrics = report if key is None else report.get(key)
        if not metrics:
            continue
        points = metrics.get("join_timeline") or []
        for q, style in styles.items():
            kept = [p for p in points if p.get(q) is not None and not math.isnan(p[q])]
            xs = [p["second"] for p in kept]
            ys = [p[q] for p in kept]
            if xs:
                latency.plot(xs, ys, style, label=f"{name} {q}")
    latency.set_yscale("log")
    latency.set_ylabel("join latency, ms (arrival → ack)")
    latency.legend(fontsize=8, ncol=3)
    if cpu:
        _draw_cpu(axes[2], cpu, report.get("cpus") or 1)
    axes[-1].set_xlabel("seconds since the first scheduled arrival")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _draw_cpu(axis: Any, points: list[dict[str, Any]], cpus: int) -> None:
    """The machine's cores in use (user space and kernel stacked) and the server's share."""
    seconds = [p["second"] for p in points]
    user = [p["machine_user"] * cpus for p in points]
    kernel = [p["machine_kernel"] * cpus for p in points]
    axis.stackplot(
        seconds, user, kernel, colors=("#c8d3e6", "#e6a3a3"), labels=("machine: user", "kernel")
    )
    axis.plot(seconds, [p["server_cores"] for p in points], "-", color="#4c72b0", label="server")
    axis.set_ylim(0, cpus * 1.05)
    axis.set_ylabel(f"cores in use (of {cpus})")
    axis.legend(fontsize=8, ncol=3, loc="upper left")
