"""Run urok's supervisor for the bench (``python -m bench.storm.serve_urok``): it restarts a
killed worker whatever the number of workers, even one."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from classroom.storage.database import Database
from web.cli import supervise
from web.settings import load_settings


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await db.migrate()
    finally:
        await db.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--worker-ports", type=int, default=None, help="see `urok serve`")
    args = parser.parse_args()
    settings = load_settings()
    if not settings.uses_redis or not settings.secret_key:
        print("serve_urok needs UROK_BUS_URL=redis://… and UROK_SECRET_KEY", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level)
    asyncio.run(_migrate(settings.database_url))
    return supervise(settings, args.host, args.port, args.workers, 0, args.worker_ports)


if __name__ == "__main__":
    raise SystemExit(main())
