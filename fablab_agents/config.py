"""Agent configuration: TOML values in Klipper-style named sections (`[agent]`, `[machine prusa-1]`).

Every option is read once with its type and bounds; an option nobody read is a typo and an error
naming its section and key.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import ValidationError

from fablab_agents.prepare.options import PrepareOptions, read_prepare_options
from protocol.errors import InvalidInput
from protocol.payloads import Capabilities, LoadedSpool
from protocol.processes import check_process
from protocol.topics import ID_PATTERN

# `[machine prusa-1]` is not TOML; it is rewritten to the quoted key `["machine prusa-1"]`.
_NAMED_HEADER = re.compile(r'^\s*\[\s*([a-z_]+)\s+([^\]"\s]+)\s*\]\s*(#.*)?$')
SECTION_KINDS = ("agent", "machine")


class Section:
    """The options of one config section; remembers which ones were read."""

    def __init__(self, name: str, options: Mapping[str, Any], source: str) -> None:
        self.name = name
        self.source = source
        self._options = dict(options)
        self._read: set[str] = set()

    def _where(self, key: str) -> str:
        return f"{self.source}: [{self.name}] {key}"

    def _take(self, key: str, default: Any, required: bool) -> Any:
        self._read.add(key)
        if key in self._options:
            return self._options[key]
        if required:
            raise InvalidInput(f"{self._where(key)}: missing required option")
        return default

    def get_str(self, key: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self._take(key, default, required)
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"{self._where(key)}: expected a string, got {value!r}")
        return value

    def get_float(
        self,
        key: str,
        default: float | None = None,
        *,
        required: bool = False,
        minval: float | None = None,
        maxval: float | None = None,
        above: float | None = None,
    ) -> Any:
        value = self._take(key, default, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidInput(f"{self._where(key)}: expected a number, got {value!r}")
        self._check_bounds(key, value, minval, maxval, above)
        return float(value)

    def get_int(
        self,
        key: str,
        default: int | None = None,
        *,
        required: bool = False,
        minval: int | None = None,
        maxval: int | None = None,
    ) -> Any:
        value = self._take(key, default, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{self._where(key)}: expected an integer, got {value!r}")
        self._check_bounds(key, value, minval, maxval, None)
        return value

    def get_bool(self, key: str, default: bool) -> bool:
        value = self._take(key, default, False)
        if not isinstance(value, bool):
            raise InvalidInput(f"{self._where(key)}: expected true or false, got {value!r}")
        return value

    def get_list(self, key: str, default: list[Any], *, item: type, length: int | None = None) -> list[Any]:
        value = self._take(key, default, False)
        kinds = (int, float) if item is float else (item,)
        if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, kinds) for v in value):
            raise InvalidInput(f"{self._where(key)}: expected a list of {item.__name__}, got {value!r}")
        if length is not None and len(value) != length:
            raise InvalidInput(f"{self._where(key)}: expected {length} values, got {len(value)}")
        return value

    def get_table(self, key: str) -> dict[str, Any]:
        """An inline table such as `{ pla = "pla.ini" }`; absent means empty."""
        value = self._take(key, {}, False)
        if not isinstance(value, dict):
            raise InvalidInput(f"{self._where(key)}: expected a table like {{ key = value }}, got {value!r}")
        return dict(value)

    def has(self, key: str) -> bool:
        return key in self._options

    def rest(self) -> dict[str, Any]:
        """Options not read so far (handed on to a driver), marking them read."""
        remaining = {k: v for k, v in self._options.items() if k not in self._read}
        self._read.update(remaining)
        return remaining

    def check_all_read(self) -> None:
        unknown = sorted(set(self._options) - self._read)
        if unknown:
            raise InvalidInput(f"{self._where(unknown[0])}: unknown option")

    def _check_bounds(
        self, key: str, value: float, minval: float | None, maxval: float | None, above: float | None
    ) -> None:
        if minval is not None and value < minval:
            raise InvalidInput(f"{self._where(key)}: must be at least {minval}, got {value}")
        if maxval is not None and value > maxval:
            raise InvalidInput(f"{self._where(key)}: must be at most {maxval}, got {value}")
        if above is not None and value <= above:
            raise InvalidInput(f"{self._where(key)}: must be greater than {above}, got {value}")


@dataclass(frozen=True)
class MqttTarget:
    """Where and as whom the agent connects to the broker."""

    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool


@dataclass(frozen=True)
class MachineConfig:
    """One machine of the fablab: what it can make, how it is driven."""

    id: str
    driver: str
    capabilities: Capabilities
    operator_confirm: bool = True
    driver_options: dict[str, Any] = field(default_factory=dict)
    # lowest X/Y/Z a file may reach (slicers put purge lines just off the bed, e.g. Y -3 on a Prusa)
    volume_min_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    # how this machine turns a mesh or a drawing into its own G-code (slicer profile, cut table)
    prepare: PrepareOptions = field(default_factory=PrepareOptions)


@dataclass(frozen=True)
class AgentConfig:
    """The whole agent configuration."""

    fablab: str
    id: str
    coordinator_url: str
    mqtt_url: str
    token: str | None = None
    heartbeat_s: float = 10.0
    local_port: int = 8410
    keepalive_s: int = 30
    reconnect_max_s: float = 30.0
    download_max_mb: float = 200.0
    download_timeout_s: float = 30.0
    progress_step: float = 0.02
    progress_interval_s: float = 5.0
    journal_max_entries: int = 100_000
    machines: tuple[MachineConfig, ...] = ()

    @property
    def mqtt(self) -> MqttTarget:
        return parse_mqtt_url(self.mqtt_url)

    def machine(self, machine_id: str) -> MachineConfig | None:
        return next((m for m in self.machines if m.id == machine_id), None)


def load_agent_config(source: Path | str | Mapping[str, Any]) -> AgentConfig:
    """Read an agent config from a TOML file or from an already parsed mapping."""
    if isinstance(source, Mapping):
        return _build(_sections(source, "config"), "config")
    path = Path(source)
    return _build(_sections(_read_toml(path), str(path)), str(path))


def with_simulated(config: AgentConfig, count: int, time_scale: float = 600.0) -> AgentConfig:
    """Add `count` simulated FDM printers (sim-1, sim-2, ...) to a config."""
    taken = {m.id for m in config.machines}
    extra: list[MachineConfig] = []
    number = 1
    while len(extra) < count:
        machine_id = f"sim-{number}"
        number += 1
        if machine_id in taken:
            continue
        extra.append(
            MachineConfig(
                id=machine_id,
                driver="simulated",
                capabilities=Capabilities(
                    process="fdm_print",
                    make="peerfab",
                    model="simulated printer",
                    build_volume_mm=(250.0, 210.0, 210.0),
                    nozzle_mm=0.4,
                    materials=("pla", "petg"),
                    max_hotend_c=285.0,
                    max_bed_c=120.0,
                ),
                driver_options={"time_scale": time_scale},
            )
        )
    return replace(config, machines=config.machines + tuple(extra))


def parse_mqtt_url(url: str) -> MqttTarget:
    """Split mqtt://user:password@host:port (or mqtts://) into its parts."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise InvalidInput(f"mqtt_url {url!r}: expected mqtt://[user:password@]host[:port]")
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"mqtt_url {url!r}: invalid port") from exc
    tls = parts.scheme == "mqtts"
    return MqttTarget(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InvalidInput(f"agent config {path} does not exist") from exc
    lines = [_quote_header(line) for line in text.splitlines()]
    try:
        return tomllib.loads("\n".join(lines))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: invalid TOML: {exc}") from exc


def _quote_header(line: str) -> str:
    match = _NAMED_HEADER.match(line)
    if not match:
        return line
    return f'["{match.group(1)} {match.group(2)}"]'


def _sections(data: Mapping[str, Any], source: str) -> list[tuple[str, str, Mapping[str, Any]]]:
    """Flatten into (kind, name, options); accepts "machine prusa-1" keys and [machine.prusa-1] tables."""
    result: list[tuple[str, str, Mapping[str, Any]]] = []
    for key, value in data.items():
        kind, _, name = key.partition(" ")
        if kind not in SECTION_KINDS:
            raise InvalidInput(f"{source}: unknown section [{key}] (known: agent, machine NAME)")
        if not isinstance(value, Mapping):
            raise InvalidInput(f"{source}: [{key}] must be a section of options")
        if kind == "machine" and not name:
            result.extend(("machine", sub, opts) for sub, opts in _nested_machines(value, source))
        else:
            result.append((kind, name.strip(), value))
    return result


def _nested_machines(value: Mapping[str, Any], source: str) -> list[tuple[str, Mapping[str, Any]]]:
    for options in value.values():
        if not isinstance(options, Mapping):
            raise InvalidInput(f"{source}: [machine] needs a name, as in [machine prusa-1]")
    return list(value.items())


def _build(sections: list[tuple[str, str, Mapping[str, Any]]], source: str) -> AgentConfig:
    agents = [opts for kind, _, opts in sections if kind == "agent"]
    if len(agents) != 1:
        raise InvalidInput(f"{source}: exactly one [agent] section is required")
    machines = [_machine(name, opts, source) for kind, name, opts in sections if kind == "machine"]
    seen: set[str] = set()
    for machine in machines:
        if machine.id in seen:
            raise InvalidInput(f"{source}: [machine {machine.id}] is defined twice")
        seen.add(machine.id)
    return _agent(Section("agent", agents[0], source), tuple(machines))


def _agent(section: Section, machines: tuple[MachineConfig, ...]) -> AgentConfig:
    config = AgentConfig(
        fablab=_id(section, "fablab"),
        id=_id(section, "id"),
        coordinator_url=_http_url(section, "coordinator_url"),
        mqtt_url=section.get_str("mqtt_url", required=True),
        token=section.get_str("token"),
        heartbeat_s=section.get_float("heartbeat_s", 10.0, minval=0.1, maxval=3600),
        local_port=section.get_int("local_port", 8410, minval=0, maxval=65535),
        keepalive_s=section.get_int("keepalive_s", 30, minval=5, maxval=300),
        reconnect_max_s=section.get_float("reconnect_max_s", 30.0, minval=0.1, maxval=3600),
        download_max_mb=section.get_float("download_max_mb", 200.0, above=0, maxval=100_000),
        download_timeout_s=section.get_float("download_timeout_s", 30.0, above=0, maxval=3600),
        progress_step=section.get_float("progress_step", 0.02, above=0, maxval=1),
        progress_interval_s=section.get_float("progress_interval_s", 5.0, above=0, maxval=3600),
        journal_max_entries=section.get_int("journal_max_entries", 100_000, minval=100),
        machines=machines,
    )
    section.check_all_read()
    try:
        parse_mqtt_url(config.mqtt_url)
    except InvalidInput as exc:
        raise InvalidInput(f"{section.source}: [agent] {exc.message}") from exc
    return config


def _machine(name: str, options: Mapping[str, Any], source: str) -> MachineConfig:
    section = Section(f"machine {name}", options, source)
    if not ID_PATTERN.match(name):
        raise InvalidInput(
            f"{source}: [machine {name}]: machine names use lower-case letters, digits, '-' or '_'"
        )
    volume = section.get_list("build_volume_mm", [0, 0, 0], item=float, length=3)
    if any(v < 0 for v in volume):
        raise InvalidInput(f"{source}: [machine {name}] build_volume_mm: values must be >= 0")
    capabilities = Capabilities(
        process=check_process(
            section.get_str("process", required=True), f"{source}: [machine {name}] process"
        ),
        make=section.get_str("make", ""),
        model=section.get_str("model", ""),
        build_volume_mm=(float(volume[0]), float(volume[1]), float(volume[2])),
        nozzle_mm=section.get_float("nozzle_mm", above=0, maxval=10),
        materials=tuple(m.lower() for m in section.get_list("materials", [], item=str)),
        max_hotend_c=section.get_float("max_hotend_c", minval=0, maxval=600),
        max_bed_c=section.get_float("max_bed_c", minval=0, maxval=250),
        max_spindle_rpm=section.get_float("max_spindle_rpm", above=0, maxval=200_000),
        speed_factor=section.get_float("speed_factor", 1.0, above=0, maxval=100),
        tolerance_mm=section.get_float("tolerance_mm", minval=0, maxval=10),
        spool=_spool(section),
    )
    driver = section.get_str("driver", required=True)
    confirm = section.get_bool("operator_confirm", True)
    low = section.get_list("volume_min_mm", [0, 0, 0], item=float, length=3)
    prepare = read_prepare_options(section, capabilities.process)
    return MachineConfig(
        id=name,
        driver=driver,
        capabilities=capabilities,
        operator_confirm=confirm,
        driver_options=section.rest(),
        volume_min_mm=(float(low[0]), float(low[1]), float(low[2])),
        prepare=prepare,
    )


def _spool(section: Section) -> LoadedSpool | None:
    """`spool = { material = "pla", colour = "orange", remaining_g = 750 }`: what is loaded at start."""
    table = section.get_table("spool")
    if not table:
        return None
    try:
        return LoadedSpool.model_validate(table)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"{section.source}: [{section.name}] spool: {problems}") from exc


def _id(section: Section, key: str) -> str:
    value: str = section.get_str(key, required=True)
    if not ID_PATTERN.match(value):
        raise InvalidInput(
            f"{section.source}: [agent] {key}: {value!r} is not a valid id "
            "(lower-case letters, digits, '-' or '_')"
        )
    return value


def _http_url(section: Section, key: str) -> str:
    value: str = section.get_str(key, required=True)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{section.source}: [agent] {key}: expected an http(s) URL, got {value!r}")
    return value.rstrip("/")
