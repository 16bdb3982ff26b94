"""Checking compact HS256 JSON Web Tokens (RFC 7515 / 7519) with one prepared key.

Every connection and every room entry checks a token: PyJWT spends most of such a check
preparing the key again (is it a PEM, is it long enough) and in its general parser. Our
tokens are only ever HS256 with a key of our own, so checking one is the signature, two
base64url segments and a JSON object. Tokens are still made with PyJWT; what is checked
here is exactly what it makes. Claims are checked by the callers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

import msgspec

ALGORITHM = "HS256"

_decode_json = msgspec.json.Decoder().decode


class InvalidToken(Exception):
    """Not a genuine HS256 token of this key (malformed, another algorithm, forged)."""


def _segment(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("a segment is not base64url") from exc


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = _decode_json(raw)
    except msgspec.DecodeError as exc:
        raise InvalidToken("a segment is not JSON") from exc
    if not isinstance(value, dict):
        raise InvalidToken("a segment is not a JSON object")
    return value


class HS256Verifier:
    """Verifies tokens signed with one key; the headers already seen valid are remembered
    (every token we make has the same header)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._good_headers: set[str] = set()

    def claims(self, token: str) -> dict[str, Any]:
        """The claims of a token whose signature is this key's; ``InvalidToken`` otherwise."""
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("a token has three segments")
        header, payload, signature = parts
        try:
            signed = f"{header}.{payload}".encode("ascii")
        except UnicodeEncodeError as exc:
            raise InvalidToken("a token is ASCII") from exc
        if header not in self._good_headers:
            self._check_header(header)
        expected = hmac.new(self._key, signed, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _segment(signature)):
            raise InvalidToken("the signature does not match")
        return _json_object(_segment(payload))

    def _check_header(self, header: str) -> None:
        fields = _json_object(_segment(header))
        if fields.get("alg") != ALGORITHM:
            raise InvalidToken("only HS256 is accepted")
        if "crit" in fields:
            raise InvalidToken("no critical header extension is understood")
        if len(self._good_headers) < 16:
            self._good_headers.add(header)


def numeric(claims: dict[str, Any], name: str) -> int | float:
    """A NumericDate or integer claim; ``InvalidToken`` if it is missing or not a number."""
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"the {name} claim must be a number")
    return value
