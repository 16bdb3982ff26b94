"""Media tests run real aiortc peers on loopback only."""

from __future__ import annotations

import pytest

from media.config import use_loopback_only


@pytest.fixture(autouse=True)
def loopback_only() -> None:
    use_loopback_only()
