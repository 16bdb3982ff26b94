"""Checking tokens: what PyJWT makes with our key passes, anything else is refused."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time

import jwt
import pytest

from classroom.errors import Forbidden, Unauthenticated
from classroom.join_links import JoinLinks
from classroom.roles import Principal, Role
from classroom.signed_tokens import HS256Verifier, InvalidToken
from classroom.tokens import ISSUER, TokenService

KEY = "a-test-secret-key-that-is-long-enough-for-hs512-too-0123456789abcdef"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _token(header: dict[str, object], claims: dict[str, object], key: str = KEY) -> str:
    """A token signed by hand, to make what PyJWT would refuse to make."""
    signed = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key.encode(), signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{_b64(signature)}"


def _claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": ISSUER,
        "sub": "7",
        "role": "student",
        "school": 1,
        "iat": now,
        "exp": now + 60,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_pyjwt_tokens_pass_with_their_claims() -> None:
    verifier = HS256Verifier(KEY.encode())
    claims = _claims()
    token = jwt.encode(claims, KEY, algorithm="HS256")
    assert verifier.claims(token) == claims
    assert verifier.claims(token) == claims  # the remembered header


@pytest.mark.parametrize(
    "spoil",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # the signature
        lambda t: t.split(".")[0] + "." + _b64(b'{"sub":"1"}') + "." + t.split(".")[2],
        lambda t: t + ".x",
        lambda t: t.replace(".", "", 1),
        lambda t: t[:10] + "é" + t[10:],
        lambda t: t.split(".")[0] + ".!!!." + t.split(".")[2],
        lambda t: "",
    ],
    ids=["signature", "payload", "four-segments", "two-segments", "non-ascii", "base64", "empty"],
)
def test_spoilt_tokens_are_refused(spoil: object) -> None:
    token = jwt.encode(_claims(), KEY, algorithm="HS256")
    with pytest.raises(InvalidToken):
        HS256Verifier(KEY.encode()).claims(spoil(token))  # type: ignore[operator]


def test_other_keys_algorithms_and_shapes_are_refused() -> None:
    verifier = HS256Verifier(KEY.encode())
    with pytest.raises(InvalidToken, match="signature"):
        verifier.claims(jwt.encode(_claims(), KEY + "x", algorithm="HS256"))
    with pytest.raises(InvalidToken, match="HS256"):
        verifier.claims(jwt.encode(_claims(), KEY, algorithm="HS512"))
    with pytest.raises(InvalidToken, match="HS256"):
        verifier.claims(_token({"alg": "none"}, _claims()))
    with pytest.raises(InvalidToken, match="critical"):
        verifier.claims(_token({"alg": "HS256", "crit": ["b64"]}, _claims()))
    with pytest.raises(InvalidToken, match="object"):
        verifier.claims(_token({"alg": "HS256"}, [1, 2]))  # type: ignore[arg-type]


def test_access_tokens_are_checked_as_pyjwt_checked_them() -> None:
    tokens = TokenService(KEY, ttl_seconds=60)
    principal = Principal(person_id=7, role=Role.STUDENT, school_id=1)
    assert tokens.verify(tokens.issue(principal)) == principal

    def refused(claims: dict[str, object]) -> str:
        with pytest.raises(Unauthenticated) as raised:
            tokens.verify(jwt.encode(claims, KEY, algorithm="HS256"))
        return raised.value.code

    now = int(time.time())
    assert refused(_claims(exp=now - 1, iat=now - 61)) == "token_expired"
    assert refused(_claims(exp=None)) == "token_invalid"
    assert refused(_claims(iat=None)) == "token_invalid"
    assert refused(_claims(iat=now + 30)) == "token_invalid"  # issued in the future
    assert refused(_claims(iss="someone-else")) == "token_invalid"
    assert refused(_claims(sub=7)) == "token_invalid"
    assert refused(_claims(aud="urok:join")) == "token_invalid"
    assert refused(_claims(exp="tomorrow")) == "token_invalid"
    assert refused(_claims(role="janitor")) == "token_invalid"
    with pytest.raises(Unauthenticated) as raised:
        tokens.verify(None)
    assert raised.value.code == "token_missing"


def test_join_links_and_access_tokens_cannot_pass_for_each_other() -> None:
    links = JoinLinks(KEY)
    tokens = TokenService(KEY, ttl_seconds=60)
    now = dt.datetime.now(dt.UTC)
    link = links.issue(42, 7, 0, now + dt.timedelta(minutes=5))
    claims = links.read(link, now=now)
    assert (claims.lesson_id, claims.person_id, claims.generation) == (42, 7, 0)
    with pytest.raises(Forbidden) as expired:
        links.read(link, now=now + dt.timedelta(minutes=5))
    assert expired.value.code == "link_expired"
    with pytest.raises(Unauthenticated):
        tokens.verify(link)
    access = tokens.issue(Principal(person_id=7, role=Role.STUDENT, school_id=1))
    with pytest.raises(Forbidden) as refused:
        links.read(access, now=now)
    assert refused.value.code == "link_invalid"
