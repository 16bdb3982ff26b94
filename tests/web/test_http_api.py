"""The HTTP API over real loopback sockets: sign-in, tokens, timetable, bad input."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest

from classroom.roles import Principal, Role
from classroom.tokens import TokenService
from tests.clients import get_json, login
from tests.conftest import TEST_SECRET, LiveServer, make_settings, start_server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def fetch(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with http.request(method, url, **kwargs) as response:
        return response.status, await response.json(), response


async def test_health_names_node_database_and_bus(
    live_server: LiveServer, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await fetch(http, "GET", f"{live_server.url}/api/health")
    assert status == 200
    assert body["status"] == "ok"
    assert body["database"] == "sqlite"
    assert body["bus"] == "memory"


async def test_sign_in_then_me_and_timetable(live_server: LiveServer) -> None:
    token = await login(live_server.url, "student")
    me = await get_json(live_server.url, "/api/me", token)
    assert me["role"] == "student"
    assert me["school_class"]["name"] == "5А"
    assert "password_hash" not in me
    today = await get_json(live_server.url, "/api/timetable", token)
    assert today["from"] == today["to"]
    assert len(today["lessons"]) == 5
    assert all(lesson["school_class"]["name"] == "5А" for lesson in today["lessons"])
    week_end = (dt.date.fromisoformat(today["from"]) + dt.timedelta(days=6)).isoformat()
    week = await get_json(
        live_server.url, f"/api/timetable?from={today['from']}&to={week_end}", token
    )
    assert len(week["lessons"]) == 35
    assert any(lesson["online"] for lesson in week["lessons"])


async def test_a_parent_gets_each_childs_lessons(live_server: LiveServer) -> None:
    token = await login(live_server.url, "parent")
    me = await get_json(live_server.url, "/api/me", token)
    assert [child["school_class"]["name"] for child in me["children"]] == ["5А", "6Б"]
    today = await get_json(live_server.url, "/api/timetable", token)
    by_child = {lesson["child"]["id"] for lesson in today["lessons"]}
    assert by_child == {child["id"] for child in me["children"]}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"username": "teacher", "password": ', "malformed_json"),
        (b"[1, 2, 3]", "invalid_body"),
        (b'{"username": 5, "password": "x"}', "invalid_body"),
        (b'{"username": "teacher"}', "invalid_body"),
        (b"", "missing_body"),
        (b'{"username": "' + b"x" * 100 + b'", "password": "p"}', "invalid_body"),
        (b'{"username": "a", "password": "' + b"x" * 70_000 + b'"}', "body_too_large"),
    ],
)
async def test_bad_sign_in_bodies_get_400_with_a_reason(
    live_server: LiveServer, http: aiohttp.ClientSession, body: bytes, code: str
) -> None:
    status, reply, _ = await fetch(
        http,
        "POST",
        f"{live_server.url}/api/login",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    assert status == 400
    assert reply["error"]["code"] == code
    assert reply["error"]["message"]
    status, _, _ = await fetch(http, "GET", f"{live_server.url}/api/health")
    assert status == 200


async def test_wrong_password_is_401(live_server: LiveServer, http: aiohttp.ClientSession) -> None:
    status, body, response = await fetch(
        http,
        "POST",
        f"{live_server.url}/api/login",
        json={"username": "teacher", "password": "wrong"},
    )
    assert status == 401
    assert body["error"]["code"] == "bad_credentials"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_sign_in_is_rate_limited(
    live_server: LiveServer, http: aiohttp.ClientSession
) -> None:
    statuses = []
    for _ in range(live_server.settings.login_burst + 1):
        status, body, response = await fetch(
            http,
            "POST",
            f"{live_server.url}/api/login",
            json={"username": "teacher", "password": "wrong"},
        )
        statuses.append(status)
    assert statuses[:-1] == [401] * live_server.settings.login_burst
    assert statuses[-1] == 429
    assert body["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) >= 1


def _forged(secret: str) -> str:
    return TokenService(secret, 60).issue(Principal(1, Role.ADMIN, 1))


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "token_missing"),
        ("Basic abc", "token_missing"),
        ("Bearer not-a-jwt", "token_invalid"),
        ("Bearer " + _forged("another-secret-that-is-long-enough-0123456789"), "token_invalid"),
        (
            "Bearer "
            + TokenService(TEST_SECRET, 60).issue(
                Principal(1, Role.ADMIN, 1), now=time.time() - 3600
            ),
            "token_expired",
        ),
        (
            "Bearer "
            + jwt.encode(
                {
                    "sub": "1",
                    "role": "admin",
                    "school": 1,
                    "iss": "urok",
                    "iat": int(time.time()),
                    "exp": int(time.time()) + 60,
                },
                TEST_SECRET,
                algorithm="HS512",
            ),
            "token_invalid",
        ),
    ],
)
async def test_missing_forged_and_expired_tokens_are_401(
    live_server: LiveServer, http: aiohttp.ClientSession, header: str | None, code: str
) -> None:
    headers = {"Authorization": header} if header else {}
    status, body, _ = await fetch(http, "GET", f"{live_server.url}/api/me", headers=headers)
    assert status == 401
    assert body["error"]["code"] == code


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("from=yesterday", "bad_parameter"),
        ("from=2026-09-10&to=2026-09-01", "bad_range"),
        ("from=2026-01-01&to=2026-12-31", "range_too_long"),
    ],
)
async def test_bad_timetable_queries_are_400(
    live_server: LiveServer, http: aiohttp.ClientSession, query: str, code: str
) -> None:
    token = await login(live_server.url, "teacher")
    status, body, _ = await fetch(
        http,
        "GET",
        f"{live_server.url}/api/timetable?{query}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert status == 400
    assert body["error"]["code"] == code


async def test_a_panel_has_no_timetable(
    live_server: LiveServer, http: aiohttp.ClientSession
) -> None:
    token = await login(live_server.url, "panel")
    status, body, _ = await fetch(
        http,
        "GET",
        f"{live_server.url}/api/timetable",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert status == 403
    assert body["error"]["code"] == "no_timetable"


async def test_unknown_api_paths_and_methods_answer_in_json(
    live_server: LiveServer, http: aiohttp.ClientSession
) -> None:
    status, body, _ = await fetch(http, "GET", f"{live_server.url}/api/nothing-here")
    assert status == 404
    assert body["error"]["code"] == "not_found"
    status, body, _ = await fetch(http, "DELETE", f"{live_server.url}/api/login")
    assert status == 405
    assert body["error"]["code"] == "method_not_allowed"


async def test_openapi_describes_every_api_route(
    live_server: LiveServer, http: aiohttp.ClientSession
) -> None:
    status, document, _ = await fetch(http, "GET", f"{live_server.url}/api/openapi.json")
    assert status == 200
    assert document["openapi"].startswith("3.")
    routes = {
        (route.method.lower(), route.resource.canonical)
        for route in live_server.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method != "HEAD"
    }
    described = {(method, path) for path, item in document["paths"].items() for method in item}
    assert routes == described
    timetable = document["paths"]["/api/timetable"]["get"]
    assert {p["name"] for p in timetable["parameters"]} == {"from", "to"}
    assert "LessonView" in document["components"]["schemas"]
    assert timetable["security"] == [{"bearer": []}]


async def test_tokens_of_another_deployment_are_refused(tmp_path: Path) -> None:
    other_secret = "a-different-deployment-secret-0123456789abcdef"
    server, runner = await start_server(
        dataclasses.replace(make_settings(tmp_path), secret_key=other_secret)
    )
    try:
        token = TokenService(TEST_SECRET, 60).issue(Principal(1, Role.ADMIN, 1))
        async with aiohttp.ClientSession() as http:
            status, body, _ = await fetch(
                http, "GET", f"{server.url}/api/me", headers={"Authorization": f"Bearer {token}"}
            )
        assert status == 401
        assert body["error"]["code"] == "token_invalid"
    finally:
        await runner.cleanup()
