"""Settings: one object read from ``UROK_*`` environment variables, with working defaults."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from classroom.rooms import RoomTimes
from classroom.storage.database import DEFAULT_POOL_SIZE
from media.config import IceServer, MediaConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Setting:
    """Documentation of one environment variable (rendered in README's table)."""

    env: str
    default: str
    meaning: str


SETTINGS_DOC: tuple[Setting, ...] = (
    Setting("UROK_DATA_DIR", "./var", "Folder for the SQLite file and the generated secret key."),
    Setting(
        "UROK_DATABASE_URL",
        "sqlite+aiosqlite:///<data dir>/urok.db",
        "SQLAlchemy async URL; `postgresql+asyncpg://…` for PostgreSQL.",
    ),
    Setting(
        "UROK_DB_POOL_SIZE",
        str(DEFAULT_POOL_SIZE),
        "PostgreSQL connections per server process, opened at start (workers × this must stay "
        "under the server's `max_connections`).",
    ),
    Setting(
        "UROK_BUS_URL",
        "memory://",
        "`memory://` (one process) or `redis://host:port/db` (many processes or nodes).",
    ),
    Setting("UROK_BUS_PREFIX", "urok:", "Prefix of every Redis key and channel the bus uses."),
    Setting(
        "UROK_BUS_HISTORY",
        "1000",
        "Events kept per channel so that reconnecting clients can resume.",
    ),
    Setting(
        "UROK_SECRET_KEY",
        "generated into <data dir>/secret_key",
        "Key that signs access tokens (at least 32 bytes). Every node must share it.",
    ),
    Setting("UROK_TOKEN_TTL", "3600", "Lifetime of an access token, in seconds."),
    Setting(
        "UROK_GC_THRESHOLDS",
        "100000,50,100",
        "CPython `gc.set_threshold` values; `default` keeps the interpreter's own.",
    ),
    Setting("UROK_GC_FREEZE", "1", "Freeze start-up objects out of the collector (`gc.freeze`)."),
    Setting("UROK_DEMO", "1", "Seed the demo school into an empty database on start."),
    Setting(
        "UROK_DEMO_LESSON_NOW",
        "1",
        "With the demo: add an online lesson of 5А going on now at each start, if none is.",
    ),
    Setting(
        "UROK_LOGIN_RATE", "5/60", "Sign-in attempts allowed per client address: burst/seconds."
    ),
    Setting(
        "UROK_MAX_CONNECTIONS",
        "auto",
        "Client connections one server process holds; more are refused with 503 and "
        "`Retry-After`. `auto`: the open-files limit (raised to its hard limit at start) "
        "less a tenth, at least 512, kept for the database, Redis and files.",
    ),
    Setting(
        "UROK_WEBSOCKET_FRONT",
        "door",
        "How new Socket.IO WebSockets are served: `door`, read straight off the socket below "
        "aiohttp (a quarter of the memory per connection), or `aiohttp`, through aiohttp's "
        "request handler. Everything else is served by aiohttp either way.",
    ),
    Setting("UROK_MAX_EVENT_BYTES", "16384", "Largest Socket.IO event accepted, in bytes."),
    Setting("UROK_EVENT_RATE", "20/40", "Socket.IO events per connection: per second/burst."),
    Setting("UROK_PING_INTERVAL", "25", "Engine.IO heartbeat interval, seconds."),
    Setting(
        "UROK_ROOM_OPENS_BEFORE",
        "300",
        "Seconds before the start when an online lesson's room opens by itself.",
    ),
    Setting(
        "UROK_ROOM_OVERRUN", "600", "Seconds after the end when a room not ended by hand closes."
    ),
    Setting(
        "UROK_RECONNECT_GRACE",
        "15",
        "Seconds a dropped participant may take to come back without splitting their stay.",
    ),
    Setting(
        "UROK_JOIN_CONCURRENCY",
        "48",
        "Room entries one server process works on at once; more wait in a queue.",
    ),
    Setting(
        "UROK_JOIN_MAX_WAIT",
        "5",
        "Seconds an entry may wait for its turn before it is refused as `overloaded` (retried).",
    ),
    Setting(
        "UROK_ABSENCE_AFTER",
        "300",
        "Seconds after the start when students who have not joined are marked absent.",
    ),
    Setting(
        "UROK_LINKS_SHOWN_BEFORE",
        "172800",
        "Seconds before the start from which join links show in timetables.",
    ),
    Setting(
        "UROK_WEBHOOK_URL",
        "(none)",
        "Where absence notices are POSTed as signed JSON (an SMS or push gateway).",
    ),
    Setting(
        "UROK_WEBHOOK_SECRET",
        "(none)",
        "Key of the `X-Urok-Signature` HMAC-SHA256 header; required with a webhook URL.",
    ),
    Setting(
        "UROK_INTEGRATION_KEY",
        "(none)",
        "API key of school integrations (clinic illness notes); none disables them.",
    ),
    Setting(
        "UROK_SWEEP_INTERVAL",
        "2",
        "Seconds between runs of the absence check and the notice dispatcher.",
    ),
    Setting(
        "UROK_MEDIA_ICE_SERVERS",
        "(none)",
        "STUN/TURN servers of the media server: URLs separated by commas, or JSON "
        '`[{"urls": [...], "username": ..., "credential": ...}]`.',
    ),
    Setting(
        "UROK_MEDIA_LOOPBACK_ONLY",
        "0",
        "Media over 127.0.0.1 only (tests, single-machine setups): offer loopback candidates.",
    ),
    Setting(
        "UROK_MEDIA_PLI_INTERVAL",
        "1",
        "Least seconds between keyframe requests forwarded to a publisher.",
    ),
    Setting(
        "UROK_MEDIA_WORKERS",
        "0",
        "Media worker processes lesson rooms are spread over (lesson id modulo this); 0 keeps "
        "media in the server process. Above 0 needs a Redis bus; `urok serve --media-workers`.",
    ),
    Setting(
        "UROK_RECORDING_RETENTION_DAYS",
        "30",
        "Days a lesson recording is kept before its file and row are deleted.",
    ),
    Setting("UROK_LOG_LEVEL", "INFO", "Python logging level."),
    Setting(
        "UROK_NODE_MODULES",
        "<project>/node_modules",
        "Where the Socket.IO browser client is served from.",
    ),
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server needs to start; see ``SETTINGS_DOC`` for the variables."""

    data_dir: Path = field(default_factory=lambda: Path("var"))
    database_url: str = ""
    db_pool_size: int = DEFAULT_POOL_SIZE
    """PostgreSQL connections per server process (fixed: opened at start, never more)."""
    bus_url: str = "memory://"
    bus_prefix: str = "urok:"
    bus_history: int = 1000
    secret_key: str = ""
    token_ttl: int = 3600
    gc_thresholds: tuple[int, int, int] | None = (100_000, 50, 100)
    gc_freeze: bool = True
    demo: bool = True
    demo_lesson_now: bool = True
    login_burst: int = 5
    login_window_seconds: float = 60.0
    max_connections: int | None = None
    """Client connections per server process; None: from the open-files limit."""
    websocket_front: str = "door"
    """``door`` (``realtime.front_door``) or ``aiohttp``."""
    max_event_bytes: int = 16 * 1024
    events_per_second: float = 20.0
    event_burst: float = 40.0
    ping_interval: float = 25.0
    room_opens_before: float = 300.0
    room_overrun: float = 600.0
    reconnect_grace: float = 15.0
    join_concurrency: int = 48
    """Room entries a process works on at once. An entry holds its turn while it waits for
    its visit's batched write (up to ``write_linger``) and, at a cold start, for the room's
    first reads: mostly waiting, so the turns must outnumber what the CPU alone would need
    (16 let a cold worker through 100–300 entries a second)."""
    join_max_wait: float = 5.0
    write_linger: float = 0.02
    """Seconds a chat message's store or a room entry's visit may wait for others that
    follow it closely, to be written with them (``classroom.batches``); 0: never waits."""
    absence_after: float = 300.0
    links_shown_before: float = 172800.0
    webhook_url: str = ""
    webhook_secret: str = ""
    integration_key: str = ""
    sweep_interval: float = 2.0
    media_ice_servers: tuple[IceServer, ...] = ()
    media_loopback_only: bool = False
    media_pli_interval: float = 1.0
    media_workers: int = 0
    """Media worker processes owning lesson rooms; 0: media runs in the server process."""
    recording_retention_days: float = 30.0
    log_level: str = "INFO"
    node_modules: Path = PROJECT_ROOT / "node_modules"

    @property
    def room_times(self) -> RoomTimes:
        return RoomTimes(
            opens_before=dt.timedelta(seconds=self.room_opens_before),
            overrun=dt.timedelta(seconds=self.room_overrun),
            reconnect_grace=dt.timedelta(seconds=self.reconnect_grace),
            absence_after=dt.timedelta(seconds=self.absence_after),
            links_shown_before=dt.timedelta(seconds=self.links_shown_before),
        )

    @property
    def media(self) -> MediaConfig:
        return MediaConfig(
            ice_servers=self.media_ice_servers,
            loopback_only=self.media_loopback_only,
            pli_interval=self.media_pli_interval,
        )

    @property
    def uses_redis(self) -> bool:
        return self.bus_url.split(":", 1)[0] in {"redis", "rediss", "unix"}

    def with_secret(self) -> Settings:
        """These settings with a secret key: the configured one, or one stored in the data
        folder (generated on first run, readable by the owner only)."""
        if self.secret_key:
            return self
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return replace(self, secret_key=path.read_text().strip())


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be 1 or 0, not {raw!r}")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive")
    return value


def _max_connections(env: Mapping[str, str]) -> int | None:
    raw = env.get("UROK_MAX_CONNECTIONS", "")
    if raw in {"", "auto"}:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise SettingsError(f"UROK_MAX_CONNECTIONS must be auto or a positive number, not {raw!r}")
    return int(raw)


def _websocket_front(env: Mapping[str, str]) -> str:
    raw = env.get("UROK_WEBSOCKET_FRONT", "") or "door"
    if raw not in {"door", "aiohttp"}:
        raise SettingsError(f"UROK_WEBSOCKET_FRONT must be door or aiohttp, not {raw!r}")
    return raw


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if not 0 <= value <= 256:
        raise SettingsError(f"{name} must be between 0 and 256")
    return value


def _pool_size(env: Mapping[str, str]) -> int:
    size = _count(env, "UROK_DB_POOL_SIZE", DEFAULT_POOL_SIZE)
    if size < 1:
        raise SettingsError("UROK_DB_POOL_SIZE must be at least 1")
    return size


def _pair(env: Mapping[str, str], name: str, default: tuple[float, float]) -> tuple[float, float]:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        first, second = (float(part) for part in raw.split("/"))
    except ValueError:
        raise SettingsError(f"{name} must look like 5/60, not {raw!r}") from None
    if first <= 0 or second <= 0:
        raise SettingsError(f"{name} must be positive")
    return first, second


def _gc(env: Mapping[str, str]) -> tuple[int, int, int] | None:
    raw = env.get("UROK_GC_THRESHOLDS", "100000,50,100")
    if raw.strip().lower() == "default":
        return None
    try:
        first, second, third = (int(part) for part in raw.split(","))
    except ValueError:
        raise SettingsError(
            f"UROK_GC_THRESHOLDS must be three integers or 'default', not {raw!r}"
        ) from None
    return first, second, third


def _ice_servers(env: Mapping[str, str]) -> tuple[IceServer, ...]:
    raw = (env.get("UROK_MEDIA_ICE_SERVERS") or "").strip()
    if not raw:
        return ()
    if not raw.startswith("["):
        urls = [url.strip() for url in raw.split(",") if url.strip()]
        return tuple(IceServer((url,)) for url in _ice_urls(urls))
    try:
        entries = json.loads(raw)
        servers = []
        for entry in entries:
            urls = entry["urls"]
            urls = [urls] if isinstance(urls, str) else list(urls)
            username, credential = entry.get("username"), entry.get("credential")
            if not all(isinstance(x, str | None) for x in (username, credential)):
                raise TypeError("username and credential must be strings")
            servers.append(IceServer(tuple(_ice_urls(urls)), username, credential))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SettingsError(f"UROK_MEDIA_ICE_SERVERS is not a list of servers: {exc}") from None
    return tuple(servers)


def _ice_urls(urls: Sequence[object]) -> list[str]:
    for url in urls:
        if not isinstance(url, str) or not url.startswith(("stun:", "turn:", "turns:")):
            raise SettingsError(f"UROK_MEDIA_ICE_SERVERS: {url!r} is not a stun: or turn: URL")
    return [str(url) for url in urls]


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from the environment (``os.environ`` by default)."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("UROK_DATA_DIR") or "var")
    database_url = env.get("UROK_DATABASE_URL") or (
        f"sqlite+aiosqlite:///{(data_dir / 'urok.db').resolve()}"
    )
    bus_url = env.get("UROK_BUS_URL") or "memory://"
    if bus_url.split(":", 1)[0] not in {"memory", "redis", "rediss", "unix"}:
        raise SettingsError(f"UROK_BUS_URL must start with memory:// or redis://, not {bus_url!r}")
    secret = env.get("UROK_SECRET_KEY", "")
    if secret and len(secret.encode()) < 32:
        raise SettingsError("UROK_SECRET_KEY must be at least 32 bytes long")
    webhook_url = env.get("UROK_WEBHOOK_URL", "")
    webhook_secret = env.get("UROK_WEBHOOK_SECRET", "")
    if webhook_url and not webhook_url.startswith(("http://", "https://")):
        raise SettingsError(f"UROK_WEBHOOK_URL must be an http(s) URL, not {webhook_url!r}")
    if webhook_url and len(webhook_secret.encode()) < 32:
        raise SettingsError("UROK_WEBHOOK_SECRET of at least 32 bytes is required with a webhook")
    integration_key = env.get("UROK_INTEGRATION_KEY", "")
    if integration_key and len(integration_key) < 24:
        raise SettingsError("UROK_INTEGRATION_KEY must be at least 24 characters long")
    media_workers = _count(env, "UROK_MEDIA_WORKERS", 0)
    if media_workers and bus_url.split(":", 1)[0] == "memory":
        raise SettingsError("UROK_MEDIA_WORKERS above 0 needs a Redis bus (UROK_BUS_URL)")
    login_burst, login_window = _pair(env, "UROK_LOGIN_RATE", (5, 60))
    events_per_second, event_burst = _pair(env, "UROK_EVENT_RATE", (20, 40))
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        db_pool_size=_pool_size(env),
        bus_url=bus_url,
        bus_prefix=env.get("UROK_BUS_PREFIX") or "urok:",
        bus_history=int(_number(env, "UROK_BUS_HISTORY", 1000)),
        secret_key=secret,
        token_ttl=int(_number(env, "UROK_TOKEN_TTL", 3600)),
        gc_thresholds=_gc(env),
        gc_freeze=_flag(env, "UROK_GC_FREEZE", True),
        demo=_flag(env, "UROK_DEMO", True),
        demo_lesson_now=_flag(env, "UROK_DEMO_LESSON_NOW", True),
        login_burst=int(login_burst),
        login_window_seconds=login_window,
        max_connections=_max_connections(env),
        websocket_front=_websocket_front(env),
        max_event_bytes=int(_number(env, "UROK_MAX_EVENT_BYTES", 16 * 1024)),
        events_per_second=events_per_second,
        event_burst=event_burst,
        ping_interval=_number(env, "UROK_PING_INTERVAL", 25),
        room_opens_before=_number(env, "UROK_ROOM_OPENS_BEFORE", 300),
        room_overrun=_number(env, "UROK_ROOM_OVERRUN", 600),
        reconnect_grace=_number(env, "UROK_RECONNECT_GRACE", 15),
        join_concurrency=int(_number(env, "UROK_JOIN_CONCURRENCY", 48)),
        join_max_wait=_number(env, "UROK_JOIN_MAX_WAIT", 5),
        write_linger=_number(env, "UROK_WRITE_LINGER", 0.02),
        absence_after=_number(env, "UROK_ABSENCE_AFTER", 300),
        links_shown_before=_number(env, "UROK_LINKS_SHOWN_BEFORE", 172800),
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        integration_key=integration_key,
        sweep_interval=_number(env, "UROK_SWEEP_INTERVAL", 2),
        media_ice_servers=_ice_servers(env),
        media_loopback_only=_flag(env, "UROK_MEDIA_LOOPBACK_ONLY", False),
        media_pli_interval=_number(env, "UROK_MEDIA_PLI_INTERVAL", 1),
        media_workers=media_workers,
        recording_retention_days=_number(env, "UROK_RECORDING_RETENTION_DAYS", 30),
        log_level=(env.get("UROK_LOG_LEVEL") or "INFO").upper(),
        node_modules=Path(env.get("UROK_NODE_MODULES") or PROJECT_ROOT / "node_modules"),
    )
