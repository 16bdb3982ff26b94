"""Server processes under test: urok's supervised workers or a baseline, started as a
subprocess group on loopback and always killed at the end."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.storm import procstat

EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Timeout|Exit)\w*: ")


class ServerFailed(RuntimeError):
    """The server did not come up."""


class ServerGroup:
    """A process (urok's supervisor, or a baseline) and the workers that serve the port."""

    def __init__(
        self, name: str, argv: list[str], env: Mapping[str, str], port: int, log: Path
    ) -> None:
        self.name = name
        self.log = log
        self.port = port
        self._argv = argv
        self._env = dict(env)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, workers: int, timeout: float = 60.0) -> list[int]:
        """Start and wait until ``workers`` processes listen on the port; return their pids."""
        self.process = subprocess.Popen(
            self._argv,
            env=self._env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab"),
        )
        return self.wait_workers(workers, timeout)

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        candidates = [self.process.pid, *procstat.children(self.process.pid)]
        return sorted(procstat.listening(candidates, self.port))

    def wait_workers(
        self, workers: int, timeout: float, exclude: set[int] | None = None
    ) -> list[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise ServerFailed(f"{self.name} exited during start-up: {self._tail()}")
            pids = [p for p in self.worker_pids() if not exclude or p not in exclude]
            if len(pids) >= workers:
                return pids
            time.sleep(0.1)
        raise ServerFailed(f"{self.name}: {workers} workers did not listen in {timeout:.0f} s")

    def _tail(self) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").splitlines()[-5:])
        except OSError:
            return ""

    def log_summary(self) -> dict[str, Any]:
        """How many warnings and errors the server logged, and the last few of them."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return {}
        notable = [line for line in lines if " WARNING " in line or " ERROR " in line]
        exceptions = Counter(
            line.split(":", 1)[0][:120] + ": " + line.split(":", 1)[1].strip()[:100]
            for line in lines
            if EXCEPTION_LINE.match(line)
        )
        return {
            "warnings": sum(" WARNING " in line for line in notable),
            "errors": sum(" ERROR " in line for line in notable),
            "exceptions": dict(exceptions.most_common(5)),
            "last": [line[-200:] for line in notable[-3:]],
        }

    def stop(self) -> None:
        """Terminate the whole process group; kill what is left after a grace period."""
        if self.process is None:
            return
        pgid = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self.process = None
        # Workers left behind by their supervisor are in the same group: wait until the
        # whole group is gone, so that nothing writes to Redis after its keys are deleted.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
