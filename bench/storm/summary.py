"""The Markdown summary of a storm report."""

from __future__ import annotations

from typing import Any

ROWS = (
    ("urok", None),
    ("raw aiohttp (ceiling)", "baseline_raw"),
    ("python-socketio stock", "baseline_stock"),
)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _row(name: str, m: dict[str, Any]) -> str:
    latency = m.get("join_latency_ms") or {}
    delivery = m.get("room_delivery_latency_ms") or {}
    deliveries = m.get("deliveries") or {}
    failed = sum((m.get("joins_failed") or {}).values())
    cells = [
        name,
        f"{_fmt(m.get('joins_ok'))} / {_fmt(failed)}",
        _fmt(m.get("joins_per_server_cpu_s")),
        " / ".join(_fmt(latency.get(k)) for k in ("p50", "p95", "p99", "p999")),
        _fmt(m.get("rss_kb_per_conn")),
        _fmt(m.get("deliveries_per_server_cpu_s")),
        f"{_fmt(deliveries.get('received'))}/{_fmt(deliveries.get('expected'))}",
        " / ".join(_fmt(delivery.get(k)) for k in ("p50", "p99")),
    ]
    return "| " + " | ".join(cells) + " |"


_PHASE_WORDS = {"joins": "joining", "chat": "chatting", "leave": "students left"}


def markdown(report: dict[str, Any]) -> str:
    gc = report.get("gc", {})
    beat = report.get("heartbeat", {})
    lines = [
        f"# Storm: {report['students']:,} students, {report.get('workers')} urok worker(s)",
        "",
        f"Arrivals: {report['shape']} to {report['rate']:g} joins/s (ramp {report['ramp']:g} s), "
        f"scheduled over {report.get('arrival_schedule_seconds')} s; database "
        f"{report['database']}; connections placed by {report.get('placement', 'any')}; "
        f"{report.get('cpus')} CPUs shared by server and load. "
        f"GC thresholds {gc.get('thresholds')}, freeze {gc.get('freeze')}; "
        f"heartbeat {beat.get('ping_interval_s')} s; writes linger "
        f"{report.get('write_linger_s', 0):g} s; WebSockets served by "
        f"{report.get('websocket_front', 'aiohttp')}.",
        "",
        "| server | joins ok / failed | joins per server CPU-s | join latency ms p50 / p95 / "
        "p99 / p99.9 | RSS KB per conn | deliveries per server CPU-s | deliveries | "
        "delivery ms p50 / p99 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, key in ROWS:
        metrics = report if key is None else report.get(key)
        if metrics:
            lines.append(_row(name, metrics))
    reconnect = report.get("reconnect")
    if reconnect:
        lines += [
            "",
            f"Reconnect storm after SIGKILL of one worker: {reconnect['clients']:,} clients "
            f"dropped, {reconnect['resumed']:,} resumed in {reconnect['seconds']} s, "
            f"lost {reconnect['lost']}, duplicated {reconnect['duplicated']}, "
            f"reloads {reconnect['reloads']}; "
            f"{_fmt(reconnect.get('rejoins_per_server_cpu_s'))} re-joins per server CPU-s.",
        ]
    ending = report.get("lesson_end")
    if ending:
        closed = ending.get("visits_closed")
        lines += [
            "",
            f"Lesson end: {ending['clients']:,} students left within {ending['spread_s']:g} s; "
            f"the server was busy for {ending['server_busy_s']} s, "
            f"{_fmt(ending.get('leaves_per_server_cpu_s'))} leaves per server CPU-s"
            + (f", {closed:,} visits closed." if closed is not None else "."),
        ]
    found = report.get("profile") or {}
    if found:
        phase = _PHASE_WORDS.get(found.get("phase", "joins"), "joining")
        libraries = ", ".join(
            f"{k} {v}%" for k, v in found.get("inclusive_percent_by_library", {}).items()
        )
        lines += [
            "",
            f"py-spy of one worker while {phase} ({found['samples']} samples): {libraries}.",
        ]
    failed = report.get("joins_failed") or {}
    if failed:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(failed.items()))
        lines += ["", f"urok join failures: {reasons}."]
    return "\n".join(lines) + "\n"
