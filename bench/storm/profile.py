"""An optional py-spy profile of one server worker during a phase, summarised as the
share of samples spent in each library and the heaviest functions (inclusive)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

# py-spy names files relative to their sys.path entry ("sqlalchemy/orm/session.py:2445)").
CATEGORIES = (
    ("sqlalchemy", ("sqlalchemy/",)),
    ("asyncpg", ("asyncpg/",)),
    ("aiosqlite", ("aiosqlite/",)),
    ("socketio/engineio", ("socketio/", "engineio/")),
    ("aiohttp", ("aiohttp/",)),
    ("redis client", ("redis/",)),
    ("jwt", ("jwt/",)),
    ("msgspec/msgpack", ("msgspec/", "msgpack/")),
    ("logging", ("logging/",)),
    ("urok: web/", ("web/",)),
    ("urok: classroom/", ("classroom/",)),
    ("urok: presence/", ("presence/",)),
    ("urok: realtime/", ("realtime/",)),
)


# Frames every sample passes through: the event loop and process start-up.
SCAFFOLDING = ("/asyncio/", "runners.py", "spawn.py", "process.py", "cli.py", "<module>")


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return found if Path(found).exists() else None


def start(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes] | None:
    tool = py_spy()
    if tool is None:
        return None
    options = ["--duration", str(int(seconds)), "--rate", "100", "--nonblocking"]
    return subprocess.Popen(
        [tool, "record", "--pid", str(pid), *options, "--format", "raw", "--output", str(output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _frame_file(frame: str) -> str:
    return frame.rsplit("(", 1)[-1]


def summarise(path: Path, project: Path, top: int = 15) -> dict[str, Any]:
    """Shares of samples (inclusive) by library and by function."""
    samples = 0
    by_category: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    marker = str(project)
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = [f.replace(marker, "urok-project") for f in stack.split(";")]
        seen_categories = set()
        for frame in frames:
            if any(part in frame for part in SCAFFOLDING):
                continue
            file = _frame_file(frame)
            for name, needles in CATEGORIES:
                if file.startswith(needles):
                    seen_categories.add(name)
        by_category.update(dict.fromkeys(seen_categories, count))
        by_function.update(dict.fromkeys(set(frames), count))
    if not samples:
        return {}
    share = {k: round(100 * v / samples, 1) for k, v in by_category.most_common()}
    heaviest = {
        k: round(100 * v / samples, 1)
        for k, v in by_function.most_common(200)
        if "asyncio" not in k
        and "runners.py" not in k
        and "spawn" not in k
        and "process.py" not in k
        and "cli.py" not in k
    }
    return {
        "samples": samples,
        "inclusive_percent_by_library": share,
        "inclusive_percent_by_function": dict(list(heaviest.items())[:top]),
    }
