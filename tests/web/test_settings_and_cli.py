"""Settings from the environment and the ``urok`` command line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from web.limits import connection_ceiling
from web.settings import SETTINGS_DOC, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_run_a_demo_school_with_no_services(tmp_path: Path) -> None:
    settings = load_settings({"UROK_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'urok.db'}"
    assert settings.bus_url == "memory://"
    assert settings.demo is True
    assert settings.gc_thresholds == (100_000, 50, 100)
    assert settings.uses_redis is False


def test_the_secret_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = load_settings({"UROK_DATA_DIR": str(tmp_path)}).with_secret()
    second = load_settings({"UROK_DATA_DIR": str(tmp_path)}).with_secret()
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    mode = stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode)
    assert mode == 0o600


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"UROK_BUS_URL": "kafka://x"}, "UROK_BUS_URL"),
        ({"UROK_SECRET_KEY": "short"}, "at least 32 bytes"),
        ({"UROK_GC_THRESHOLDS": "1,2"}, "UROK_GC_THRESHOLDS"),
        ({"UROK_DEMO": "maybe"}, "UROK_DEMO"),
        ({"UROK_TOKEN_TTL": "-5"}, "UROK_TOKEN_TTL"),
        ({"UROK_LOGIN_RATE": "lots"}, "UROK_LOGIN_RATE"),
        ({"UROK_MEDIA_ICE_SERVERS": "http://stun.example"}, "UROK_MEDIA_ICE_SERVERS"),
        ({"UROK_MEDIA_ICE_SERVERS": '[{"url": "stun:x"}]'}, "UROK_MEDIA_ICE_SERVERS"),
        ({"UROK_MEDIA_ICE_SERVERS": "[1]"}, "UROK_MEDIA_ICE_SERVERS"),
        ({"UROK_MEDIA_LOOPBACK_ONLY": "perhaps"}, "UROK_MEDIA_LOOPBACK_ONLY"),
        ({"UROK_DB_POOL_SIZE": "0"}, "UROK_DB_POOL_SIZE must be at least 1"),
        ({"UROK_DB_POOL_SIZE": "many"}, "UROK_DB_POOL_SIZE"),
        ({"UROK_MAX_CONNECTIONS": "0"}, "UROK_MAX_CONNECTIONS"),
        ({"UROK_MAX_CONNECTIONS": "-3"}, "UROK_MAX_CONNECTIONS"),
        ({"UROK_MAX_CONNECTIONS": "lots"}, "UROK_MAX_CONNECTIONS"),
        ({"UROK_WEBSOCKET_FRONT": "nginx"}, "UROK_WEBSOCKET_FRONT must be door or aiohttp"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment):
        load_settings(env)


def test_media_ice_servers_and_loopback_switch() -> None:
    assert load_settings({}).media.ice_servers == ()  # no STUN server is asked by default
    plain = load_settings({"UROK_MEDIA_ICE_SERVERS": "stun:a.example:3478, stun:b.example"})
    assert [server.urls for server in plain.media.ice_servers] == [
        ("stun:a.example:3478",),
        ("stun:b.example",),
    ]
    turn = load_settings(
        {
            "UROK_MEDIA_ICE_SERVERS": '[{"urls": ["turn:t.example"], "username": "u", '
            '"credential": "c"}]',
            "UROK_MEDIA_LOOPBACK_ONLY": "1",
        }
    ).media
    assert turn.loopback_only is True
    (server,) = turn.ice_servers
    assert (server.urls, server.username, server.credential) == (("turn:t.example",), "u", "c")


def test_the_database_pool_size_is_a_setting() -> None:
    assert load_settings({}).db_pool_size == 20
    assert load_settings({"UROK_DB_POOL_SIZE": "6"}).db_pool_size == 6


def test_gc_thresholds_can_be_left_to_the_interpreter() -> None:
    assert load_settings({"UROK_GC_THRESHOLDS": "default"}).gc_thresholds is None
    assert load_settings({"UROK_GC_THRESHOLDS": "700,10,10"}).gc_thresholds == (700, 10, 10)


def test_the_connection_ceiling_is_automatic_unless_set() -> None:
    assert load_settings({}).max_connections is None
    assert load_settings({"UROK_MAX_CONNECTIONS": "auto"}).max_connections is None
    assert load_settings({"UROK_MAX_CONNECTIONS": "15000"}).max_connections == 15000


def test_the_automatic_ceiling_keeps_descriptors_for_everything_else() -> None:
    assert connection_ceiling(20_000) == 18_000
    assert connection_ceiling(1_024) == 512
    assert connection_ceiling(100) == 1


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for setting in SETTINGS_DOC:
        assert f"`{setting.env}`" in readme, setting.env


def run_urok(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def test_help_lists_the_serve_options() -> None:
    top = run_urok("--help")
    assert top.returncode == 0 and "serve" in top.stdout
    serve = run_urok("serve", "--help")
    assert serve.returncode == 0
    for option in ("--host", "--port", "--workers"):
        assert option in serve.stdout
    assert "default: 8080" in serve.stdout


def test_several_workers_refuse_to_start_without_redis(tmp_path: Path) -> None:
    result = run_urok(
        "serve", "--workers", "2", env={"UROK_DATA_DIR": str(tmp_path), "UROK_BUS_URL": "memory://"}
    )
    assert result.returncode == 2
    assert "needs a shared bus" in result.stderr
    assert "UROK_BUS_URL=redis://" in result.stderr


def test_worker_ports_must_fit_below_65536_and_leave_the_shared_port_alone(
    tmp_path: Path,
) -> None:
    env = {"UROK_DATA_DIR": str(tmp_path), "UROK_BUS_URL": "redis://127.0.0.1:6379/0"}
    too_high = run_urok("serve", "--workers", "2", "--worker-ports", "65535", env=env)
    assert too_high.returncode == 2
    assert "--worker-ports must leave room for 2 ports below 65536" in too_high.stderr
    overlapping = run_urok(
        "serve", "--port", "9001", "--workers", "2", "--worker-ports", "9000", env=env
    )
    assert overlapping.returncode == 2
    assert "must not include the shared --port" in overlapping.stderr


def test_media_workers_need_redis_and_a_worker_index_below_their_number(tmp_path: Path) -> None:
    assert load_settings({}).media_workers == 0
    redis = {"UROK_BUS_URL": "redis://127.0.0.1:6379/0"}
    assert load_settings({**redis, "UROK_MEDIA_WORKERS": "3"}).media_workers == 3
    with pytest.raises(SettingsError, match="UROK_MEDIA_WORKERS"):
        load_settings({"UROK_MEDIA_WORKERS": "2"})
    with pytest.raises(SettingsError, match="UROK_MEDIA_WORKERS"):
        load_settings({**redis, "UROK_MEDIA_WORKERS": "two"})
    env = {"UROK_DATA_DIR": str(tmp_path), "UROK_BUS_URL": "memory://"}
    result = run_urok("serve", "--media-workers", "1", env=env)
    assert result.returncode == 2 and "needs a shared bus" in result.stderr
    two = {**env, **redis, "UROK_MEDIA_WORKERS": "2"}
    result = run_urok("media-worker", "--index", "2", env=two)
    assert result.returncode == 2 and "--index" in result.stderr


def test_a_bad_setting_stops_the_command_with_its_name(tmp_path: Path) -> None:
    result = run_urok("serve", env={"UROK_DATA_DIR": str(tmp_path), "UROK_BUS_URL": "nats://x"})
    assert result.returncode == 2
    assert "UROK_BUS_URL" in result.stderr


def test_serve_seeds_the_demo_school_and_prints_the_url_to_open(tmp_path: Path) -> None:
    from tests.conftest import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "UROK_DATA_DIR": str(tmp_path), "UROK_LOG_LEVEL": "WARNING"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline().strip()
        url = f"http://127.0.0.1:{port}/"
        assert first_line == f"urok is running: open {url}"
        assert "urok-demo" in process.stdout.readline()
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
            assert "<form" in response.read().decode()
        assert (tmp_path / "urok.db").exists()
        assert (tmp_path / "secret_key").exists()
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert process.returncode == 0
