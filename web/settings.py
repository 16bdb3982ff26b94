"""Settings: one object read from ``UROK_*`` environment variables, with working defaults."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

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
        "UROK_LOGIN_RATE", "5/60", "Sign-in attempts allowed per client address: burst/seconds."
    ),
    Setting("UROK_MAX_EVENT_BYTES", "16384", "Largest Socket.IO event accepted, in bytes."),
    Setting("UROK_EVENT_RATE", "20/40", "Socket.IO events per connection: per second/burst."),
    Setting("UROK_PING_INTERVAL", "25", "Engine.IO heartbeat interval, seconds."),
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
    bus_url: str = "memory://"
    bus_prefix: str = "urok:"
    bus_history: int = 1000
    secret_key: str = ""
    token_ttl: int = 3600
    gc_thresholds: tuple[int, int, int] | None = (100_000, 50, 100)
    gc_freeze: bool = True
    demo: bool = True
    login_burst: int = 5
    login_window_seconds: float = 60.0
    max_event_bytes: int = 16 * 1024
    events_per_second: float = 20.0
    event_burst: float = 40.0
    ping_interval: float = 25.0
    log_level: str = "INFO"
    node_modules: Path = PROJECT_ROOT / "node_modules"

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
    login_burst, login_window = _pair(env, "UROK_LOGIN_RATE", (5, 60))
    events_per_second, event_burst = _pair(env, "UROK_EVENT_RATE", (20, 40))
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        bus_url=bus_url,
        bus_prefix=env.get("UROK_BUS_PREFIX") or "urok:",
        bus_history=int(_number(env, "UROK_BUS_HISTORY", 1000)),
        secret_key=secret,
        token_ttl=int(_number(env, "UROK_TOKEN_TTL", 3600)),
        gc_thresholds=_gc(env),
        gc_freeze=_flag(env, "UROK_GC_FREEZE", True),
        demo=_flag(env, "UROK_DEMO", True),
        login_burst=int(login_burst),
        login_window_seconds=login_window,
        max_event_bytes=int(_number(env, "UROK_MAX_EVENT_BYTES", 16 * 1024)),
        events_per_second=events_per_second,
        event_burst=event_burst,
        ping_interval=_number(env, "UROK_PING_INTERVAL", 25),
        log_level=(env.get("UROK_LOG_LEVEL") or "INFO").upper(),
        node_modules=Path(env.get("UROK_NODE_MODULES") or PROJECT_ROOT / "node_modules"),
    )
