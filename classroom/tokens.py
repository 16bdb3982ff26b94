"""Short-lived access tokens (JWT, HS256) that carry a principal."""

from __future__ import annotations

import time

import jwt

from classroom.errors import Unauthenticated
from classroom.roles import Principal, Role
from classroom.signed_tokens import HS256Verifier, InvalidToken, numeric

ALGORITHM = "HS256"
ISSUER = "urok"


class TokenService:
    """Issues and checks access tokens; the same token serves HTTP and Socket.IO."""

    def __init__(self, secret_key: str, ttl_seconds: int) -> None:
        if len(secret_key.encode()) < 32:
            raise ValueError("the secret key must be at least 32 bytes long")
        self._key = secret_key
        self._verifier = HS256Verifier(secret_key.encode())
        self.ttl_seconds = ttl_seconds

    def issue(self, principal: Principal, *, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        claims = {
            "iss": ISSUER,
            "sub": str(principal.person_id),
            "role": principal.role.value,
            "school": principal.school_id,
            "iat": issued,
            "exp": issued + self.ttl_seconds,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: object) -> Principal:
        """The principal named by a valid token; ``Unauthenticated`` with a reason otherwise."""
        if not isinstance(token, str) or not token:
            raise Unauthenticated("an access token is required", code="token_missing")
        try:
            claims = self._verifier.claims(token)
            now = time.time()
            expired = numeric(claims, "exp") <= now
            if numeric(claims, "iat") > now or "nbf" in claims or "aud" in claims:
                raise InvalidToken("not an access token of this server")
            if claims.get("iss") != ISSUER or not isinstance(claims.get("sub"), str):
                raise InvalidToken("not an access token of this server")
        except InvalidToken as exc:
            raise Unauthenticated("the access token is not valid", code="token_invalid") from exc
        if expired:
            raise Unauthenticated("the access token has expired", code="token_expired")
        try:
            return Principal(
                person_id=int(claims["sub"]),
                role=Role(claims["role"]),
                school_id=int(claims["school"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise Unauthenticated("the access token is not valid", code="token_invalid") from exc
