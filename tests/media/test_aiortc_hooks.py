"""The media server reaches into aiortc 1.16.0's internals: fail loudly if they change."""

from __future__ import annotations

import re
from pathlib import Path

from media.aiortc_hooks import AIORTC_VERSION, check_aiortc

ROOT = Path(__file__).resolve().parents[2]


def test_aiortc_is_the_version_the_hooks_were_written_for() -> None:
    check_aiortc()  # raises AiortcChanged naming what moved


def test_the_aiortc_pin_matches_the_hooks() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(rf'"aiortc=={re.escape(AIORTC_VERSION)}"', pyproject), (
        "aiortc must stay pinned to the version media/aiortc_hooks.py was written for"
    )
