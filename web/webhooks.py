"""The outbound webhook: notices POSTed as JSON with an HMAC-SHA256 signature.

Headers: ``X-Urok-Notice-Id`` (the same on every retry, so receivers can drop repeats),
``X-Urok-Timestamp`` (Unix seconds) and ``X-Urok-Signature: sha256=<hex>``, the HMAC of
``<timestamp>.<body>`` with the shared secret.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import aiohttp

TIMEOUT = aiohttp.ClientTimeout(total=10)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The value of ``X-Urok-Signature`` for a body sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookError(Exception):
    """The receiver did not accept the notice (no answer, or a status other than 2xx)."""


class WebhookSender:
    """Posts notices to one URL; one HTTP client for the life of the server."""

    def __init__(self, url: str, secret: str) -> None:
        self._url = url
        self._secret = secret
        self._client: aiohttp.ClientSession | None = None

    async def __call__(self, notice_id: str, body: bytes) -> None:
        if self._client is None:
            self._client = aiohttp.ClientSession(timeout=TIMEOUT)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "urok-webhook",
            "X-Urok-Notice-Id": notice_id,
            "X-Urok-Timestamp": timestamp,
            "X-Urok-Signature": signature(self._secret, timestamp, body),
        }
        try:
            async with self._client.post(self._url, data=body, headers=headers) as response:
                if not 200 <= response.status < 300:
                    raise WebhookError(f"the receiver answered {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise WebhookError(f"the receiver did not answer: {type(exc).__name__}") from exc

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
