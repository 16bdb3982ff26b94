"""The process's open-files limit, and how many client connections fit under it."""

from __future__ import annotations

import resource

RESERVED_FILES_MIN = 512
"""Descriptors kept back from clients at the least: database and Redis connections, media
sockets, log and static files."""

_NO_LIMIT_TARGET = 1 << 20


def raise_open_files_limit() -> int:
    """Raise the soft open-files limit to the hard one (as far as the system allows) and
    return the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = max(soft, _NO_LIMIT_TARGET) if hard == resource.RLIM_INFINITY else hard
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
        return target
    return soft


def open_files_limit() -> int:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return _NO_LIMIT_TARGET if soft == resource.RLIM_INFINITY else soft


def connection_ceiling(open_files: int) -> int:
    """Client connections one process may hold under ``open_files`` descriptors: a tenth,
    and at least ``RESERVED_FILES_MIN``, stays free for everything else."""
    reserve = max(RESERVED_FILES_MIN, open_files // 10)
    return max(open_files - reserve, 1)
