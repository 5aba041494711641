"""Settings: defaults, environment, YAML file, and errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from st2lite.config import load_settings
from st2lite.exceptions import ConfigError


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ST2LITE_API_PORT", "9200")
    monkeypatch.setenv("ST2LITE_PACKS_PATH", "/a:/b")

    settings = load_settings()

    assert settings.api_port == 9200
    assert settings.packs_paths == [Path("/a"), Path("/b")]
    assert settings.resolved_api_url == "http://127.0.0.1:9200"


def test_a_yaml_file_is_read_and_flags_win_over_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "custom.yaml"
    config.write_text("api_port: 9300\nworkers: 4\n")
    monkeypatch.setenv("ST2LITE_CONFIG", str(config))

    settings = load_settings(workers=8)

    assert settings.api_port == 9300
    assert settings.workers == 8


def test_an_invalid_value_names_the_setting_and_its_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ST2LITE_API_PORT", "notaport")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert "setting 'api_port' (ST2LITE_API_PORT)" in str(caught.value)


def test_a_redis_url_without_a_scheme_is_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_settings(redis_url="localhost:6379")

    assert "setting 'redis_url' (ST2LITE_REDIS_URL)" in str(caught.value)
    assert "must start with redis://" in str(caught.value)


def test_an_unknown_setting_in_the_file_is_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "st2lite.yaml"
    config.write_text("api_prot: 9300\n")
    monkeypatch.chdir(tmp_path)

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert "setting 'api_prot'" in str(caught.value)


def test_a_missing_config_file_named_in_the_environment_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ST2LITE_CONFIG", str(tmp_path / "nope.yaml"))

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert "which is not a file" in str(caught.value)


def test_a_config_file_that_is_not_a_mapping_is_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "st2lite.yaml"
    config.write_text("- api_port\n- 9300\n")
    monkeypatch.chdir(tmp_path)

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert str(caught.value) == "st2lite.yaml must hold a mapping of settings (name: value), not a list"


def test_action_trigger_statuses_are_comma_separated_and_checked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ST2LITE_ACTION_TRIGGER_STATUSES", "failed, timeout")
    assert load_settings().action_trigger_statuses == ("failed", "timeout")

    monkeypatch.setenv("ST2LITE_ACTION_TRIGGER_STATUSES", '["failed"]')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert 'unknown status(es) ["failed"]' in str(caught.value)
