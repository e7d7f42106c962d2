"""Typed settings: embedded defaults, then a TOML file, then PEERFAB_SECTION__KEY variables.

Every key is checked: a key nobody reads is a typo, and a typo is an error naming it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from protocol.errors import InvalidInput

ENV_PREFIX = "PEERFAB_"
NOTICE_RETENTION_DAYS = 90.0


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DatabaseSettings(_Section):
    url: str | None = Field(None, description="SQLAlchemy URL; unset means a SQLite file in the data dir")
    echo: bool = False


class StorageSettings(_Section):
    data_dir: Path = Path("peerfab-data")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8400, ge=0, le=65535)
    public_url: str | None = Field(None, description="URL agents use to reach this coordinator")
    threads: int = Field(16, ge=1, le=256, description="server threads for requests")
    event_streams: int = Field(
        200, ge=1, le=5000, description="live dashboard pages open at once (each holds a server thread)"
    )


class LimitsSettings(_Section):
    max_archive_mb: float = Field(200, gt=0)
    max_unpacked_mb: float = Field(1000, gt=0)
    max_ratio: float = Field(
        50, ge=2, description="unpacked bytes per archive byte beyond the first 10 MB (zip bombs)"
    )
    max_members: int = Field(5000, gt=0)
    max_triangles: int = Field(5_000_000, gt=0)
    max_file_mb: float = Field(500, gt=0)


class MqttSettings(_Section):
    url: str | None = Field(None, description="mqtt://user:pass@host:port; unset starts an embedded broker")
    embedded_host: str = "127.0.0.1"
    embedded_port: int = Field(11883, ge=0, le=65535)
    client_id: str = "peerfab-coordinator"
    keepalive_s: int = Field(30, gt=0)


class DispatchSettings(_Section):
    lease_s: float = Field(
        60.0, gt=0, description="an offered or running job goes back to the queue after this silence"
    )
    tick_s: float = Field(1.0, gt=0, le=60, description="how often leases expire and dispatch rounds run")
    plan_time_limit_s: float = Field(
        10.0, gt=0, le=600, description="CP-SAT time per plan, in the background"
    )
    replan_every_s: float = Field(600.0, gt=0, description="plan again this often even when nothing changed")
    learn_every_s: float = Field(
        60.0, gt=0, description="look this often for new measured speeds and machine estimates"
    )
    policy: Literal["plan", "fifo"] = Field(
        "plan", description="plan: machines follow the build plan; fifo: priority, then queue order"
    )


class ReciprocitySettings(_Section):
    """The reciprocity order of the dispatch round (docs/commons.md, Reciprocity); off by default."""

    enabled: bool = Field(False, description="order contended jobs by what their builds' parties gave")
    parties: Literal["fablab", "person", "both"] = Field(
        "both", description="whose record counts: the build site's fablab, the person who started it, or both"
    )
    window_days: float = Field(90.0, gt=0, le=3650, description="ledger events older than this count nothing")
    half_life_days: float = Field(30.0, gt=0, le=3650, description="an event counts half as much after this")
    hour_weight: float = Field(1.0, ge=0, le=1000, description="value of a machine or bench hour (w_h)")
    gram_weight: float = Field(0.01, ge=0, le=1000, description="value of a gram of material (w_g)")
    part_weight: float = Field(0.1, ge=0, le=1000, description="value of a part produced (w_p)")
    work_weight: float = Field(
        0.5, ge=0, le=1000, description="value of a design published, an operator intervention (w_d)"
    )
    prior: float = Field(1.0, gt=0, le=1e6, description="value a party is assumed to have given and received")
    advance_s: float = Field(
        3600.0, ge=0, le=7 * 86400, description="how far a job moves ahead of (or behind) its queue time"
    )
    max_wait_s: float = Field(
        14400.0, gt=0, le=30 * 86400, description="a job queued this long goes first, whatever the scores"
    )
    refresh_s: float = Field(60.0, ge=0, le=86400, description="read the scores from the ledger this often")
    lookahead: int = Field(200, ge=0, le=2000, description="queued jobs the round weighs at least")


class NotificationSettings(_Section):
    retention_days: float = Field(
        NOTICE_RETENTION_DAYS, gt=0, le=36500,
        description="notices and their delivery log are deleted this long after they were written",
    )  # fmt: skip


class AuthSettings(_Section):
    public_reads: bool = Field(True, description="false: every API read and dashboard page needs a token")
    session_secret: str | None = Field(
        None, description="signs the flash-message cookie; unset: a new random secret at every start"
    )
    session_hours: float = Field(12, gt=0, le=24 * 30, description="a dashboard sign-in lasts this long")
    secure_cookies: bool = Field(
        False, description="mark cookies Secure (HTTPS only); set it when a TLS proxy serves the coordinator"
    )


class Settings(_Section):
    database: DatabaseSettings = DatabaseSettings()
    storage: StorageSettings = StorageSettings()
    server: ServerSettings = ServerSettings()
    limits: LimitsSettings = LimitsSettings()
    mqtt: MqttSettings = MqttSettings()
    dispatch: DispatchSettings = DispatchSettings()
    reciprocity: ReciprocitySettings = ReciprocitySettings()
    notifications: NotificationSettings = NotificationSettings()
    auth: AuthSettings = AuthSettings()

    @property
    def database_url(self) -> str:
        """The configured URL, or a SQLite file inside the data directory."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.storage.data_dir / 'peerfab.db').resolve()}"

    @property
    def files_dir(self) -> Path:
        return self.storage.data_dir / "files"


def load_settings(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build settings from defaults, an optional TOML file, the environment and explicit overrides."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    config_path = path or env.get(ENV_PREFIX + "CONFIG")
    if config_path:
        data = _read_toml(Path(config_path))
    _merge(data, _env_overrides(env))
    _merge(data, dict(overrides or {}))
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        source = str(config_path) if config_path else "settings"
        raise InvalidInput(f"{source}: {_describe(exc)}") from exc


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidInput(f"config file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: invalid TOML: {exc}") from exc


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """PEERFAB_MQTT__URL=... -> {"mqtt": {"url": ...}}; variables without '__' are not settings."""
    result: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        result.setdefault(section, {})[key] = value
    return result


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = dict(value) if isinstance(value, Mapping) else value


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        message = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
