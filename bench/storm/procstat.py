"""CPU time and memory of server processes, read from /proc; and who listens on a port."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # fields 14 and 15 of the whole line


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    return inodes


def listening(pids: list[int], port: int) -> list[int]:
    """Those of ``pids`` that hold a listening socket on ``port``."""
    inodes = _listening_inodes(port)
    return [pid for pid in pids if any(link[8:-1] in inodes for link in _sockets(pid))]


def _sockets(pid: int) -> list[str]:
    """The process's socket links ("socket:[inode]"); none if it is gone. A descriptor
    closed while they are read is skipped, not the process: a worker closing connections
    must still be found."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []
    links = []
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            links.append(link)
    return links


INFRA = ("postgres", "redis-server")


def infra_cpu() -> dict[tuple[str, int], float]:
    """CPU seconds of every PostgreSQL and Redis process on the machine, by (program, pid)
    (shared with anything else using them, so read it as an upper bound)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm in INFRA:
            found[(comm, int(entry.name))] = cpu_seconds(int(entry.name))
    return found


def infra_spent(before: dict[tuple[str, int], float]) -> dict[str, float]:
    """CPU used by PostgreSQL and Redis since ``before`` (new processes from 0; processes
    that ended in between are not counted)."""
    totals = dict.fromkeys(INFRA, 0.0)
    for (comm, pid), now in infra_cpu().items():
        totals[comm] += now - before.get((comm, pid), 0.0)
    return {name: round(value, 2) for name, value in totals.items()}


def machine_cpu_seconds() -> tuple[float, float, float]:
    """The whole machine's CPU time since boot, in seconds summed over its cores: spent in
    user space, in the kernel (interrupts included), and in all (idle and waiting too)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, _steal = fields
    return (user + nice) / TICKS, (system + irq + softirq) / TICKS, sum(fields) / TICKS
