"""Join links: a signed token per person per lesson occurrence, valid in the room's window
and revocable by the teacher. A link names its lesson and its person; it opens nothing else."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.errors import Forbidden
from classroom.signed_tokens import HS256Verifier, InvalidToken, numeric
from classroom.storage.database import Database
from classroom.storage.models import JoinLinkGeneration

ALGORITHM = "HS256"
AUDIENCE = "urok:join"
MAX_LINK_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class JoinClaims:
    lesson_id: int
    person_id: int
    generation: int


def join_url(lesson_id: int, token: str) -> str:
    """The page address a join link opens."""
    return f"/lesson/{lesson_id}?link={token}"


class JoinLinks:
    """Makes and reads join-link tokens with a key of their own, derived from the secret,
    and an audience that access tokens never carry: neither can pass for the other."""

    def __init__(self, secret_key: str) -> None:
        self._key = hmac.new(secret_key.encode(), b"urok join links", hashlib.sha256).digest()
        self._verifier = HS256Verifier(self._key)

    def issue(
        self, lesson_id: int, person_id: int, generation: int, expires_at: dt.datetime
    ) -> str:
        claims = {
            "aud": AUDIENCE,
            "lid": lesson_id,
            "sub": str(person_id),
            "gen": generation,
            "exp": int(expires_at.timestamp()),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def read(self, token: str, *, now: dt.datetime) -> JoinClaims:
        """The claims of a genuine, unexpired link; ``Forbidden`` with a reason otherwise."""
        if not token or len(token) > MAX_LINK_LENGTH:
            raise Forbidden("this join link is not valid", code="link_invalid")
        try:
            claims = self._verifier.claims(token)
            expires = numeric(claims, "exp")
            if claims.get("aud") != AUDIENCE or not isinstance(claims.get("sub"), str):
                raise InvalidToken("not a join link")
            parsed = JoinClaims(int(claims["lid"]), int(claims["sub"]), int(claims["gen"]))
        except (InvalidToken, KeyError, ValueError, TypeError) as exc:
            raise Forbidden("this join link is not valid", code="link_invalid") from exc
        # Expiry is checked against the caller's clock so that tests and the server agree.
        if expires <= now.timestamp():
            raise Forbidden("this join link has expired", code="link_expired")
        return parsed


async def generation(session: AsyncSession, lesson_id: int, person_id: int) -> int:
    """The current generation of a person's link for a lesson (0 until first revoked)."""
    found = await session.scalar(
        select(JoinLinkGeneration.generation).where(
            JoinLinkGeneration.lesson_id == lesson_id, JoinLinkGeneration.person_id == person_id
        )
    )
    return found or 0


async def generations(
    session: AsyncSession, lesson_ids: list[int], person_ids: list[int]
) -> dict[tuple[int, int], int]:
    """Current generations of many links at once: (lesson, person) → generation."""
    if not lesson_ids or not person_ids:
        return {}
    rows = await session.execute(
        select(
            JoinLinkGeneration.lesson_id,
            JoinLinkGeneration.person_id,
            JoinLinkGeneration.generation,
        ).where(
            JoinLinkGeneration.lesson_id.in_(lesson_ids),
            JoinLinkGeneration.person_id.in_(person_ids),
        )
    )
    return {(lesson, person): gen for lesson, person, gen in rows.all()}


async def revoke(db: Database, lesson_id: int, person_id: int) -> int:
    """Invalidate every link the person has for the lesson; return the new generation."""
    async with db.session() as session:
        row = await session.get(JoinLinkGeneration, (lesson_id, person_id))
        if row is None:
            row = JoinLinkGeneration(lesson_id=lesson_id, person_id=person_id, generation=1)
            session.add(row)
        else:
            row.generation += 1
        new_generation = row.generation
        await session.commit()
    return new_generation


def check_claims(claims: JoinClaims, lesson_id: int, person_id: int, current: int) -> None:
    """Refuse a link made for another lesson or person, or one that was revoked."""
    if claims.lesson_id != lesson_id:
        raise Forbidden("this join link is for another lesson", code="link_wrong_lesson")
    if claims.person_id != person_id:
        raise Forbidden("this join link was made for someone else", code="link_not_yours")
    if claims.generation != current:
        raise Forbidden("the teacher has revoked this join link", code="link_revoked")
