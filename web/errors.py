"""The one place where domain errors become HTTP statuses and Socket.IO error replies."""

from __future__ import annotations

from classroom.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Overloaded,
    RateLimited,
    Unauthenticated,
)
from realtime.router import ErrorReply

HTTP_STATUS: dict[type[DomainError], int] = {
    InvalidInput: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    RateLimited: 429,
    Overloaded: 503,
    Conflict: 409,
}


def http_status(error: DomainError) -> int:
    for kind in type(error).__mro__:
        status = HTTP_STATUS.get(kind)
        if status is not None:
            return status
    return 400


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def translate(exc: Exception) -> ErrorReply | None:
    """A Socket.IO error reply for a domain error; None for anything else (a bug)."""
    if isinstance(exc, RateLimited):
        return ErrorReply(exc.code, exc.message, {"retry_after": round(exc.retry_after, 1)})
    if isinstance(exc, DomainError):
        return ErrorReply(exc.code, exc.message)
    return None
