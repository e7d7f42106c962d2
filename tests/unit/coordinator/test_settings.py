from __future__ import annotations

from pathlib import Path

import pytest

from coordinator.settings import load_settings
from protocol.errors import InvalidInput

CONFIG = Path(__file__).resolve().parents[3] / "config" / "coordinator.toml"


def test_shipped_config_equals_the_embedded_defaults() -> None:
    assert load_settings(CONFIG, env={}) == load_settings(env={})


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    settings = load_settings(CONFIG, env={"PEERFAB_SERVER__PORT": "9001", "PEERFAB_MQTT__URL": "mqtt://h:1"})
    assert settings.server.port == 9001 and settings.mqtt.url == "mqtt://h:1"


def test_unknown_key_is_an_error_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[server]\nprot = 80\n")
    with pytest.raises(InvalidInput, match=r"server\.prot: unknown key"):
        load_settings(config, env={})
    with pytest.raises(InvalidInput, match=r"databse: unknown key"):
        load_settings(env={"PEERFAB_DATABSE__URL": "x"})


def test_bad_values_are_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="server.port"):
        load_settings(env={"PEERFAB_SERVER__PORT": "seventy"})
    config = tmp_path / "broken.toml"
    config.write_text("[server\n")
    with pytest.raises(InvalidInput, match="invalid TOML"):
        load_settings(config, env={})


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(env={}, overrides={"storage": {"data_dir": str(tmp_path)}})
    assert settings.database_url == f"sqlite:///{tmp_path / 'peerfab.db'}"
