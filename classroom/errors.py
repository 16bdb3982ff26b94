"""Domain errors: a stable machine-readable code and a human message.

One place in ``web`` maps them to HTTP statuses and Socket.IO error replies.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain reports to a caller."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(DomainError):
    """The request is malformed or breaks a rule about its content."""

    code = "invalid_input"


class Unauthenticated(DomainError):
    """No identity, or one that cannot be trusted (bad credentials, bad token)."""

    code = "unauthenticated"


class Forbidden(DomainError):
    """The identity is known but may not do this."""

    code = "forbidden"


class NotFound(DomainError):
    """The object does not exist, or the caller may not know that it does."""

    code = "not_found"


class RateLimited(DomainError):
    """Too many attempts; ``retry_after`` seconds until the next one may succeed."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Overloaded(RateLimited):
    """This node has more of this work queued than it can serve in time; try again after
    ``retry_after`` seconds (possibly on another node)."""

    code = "overloaded"


class Conflict(DomainError):
    """The object changed since the caller read it (e.g. correcting an old grade version)."""

    code = "conflict"
