"""The core pack declares the built-in file and HTTP sensors and their trigger types; rules are checked on them."""

from __future__ import annotations

from pathlib import Path

from st2lite.packs import PackSource, discover, load_all
from st2lite.registration import BUILTIN_PACKS_DIR

CORE = PackSource(path=BUILTIN_PACKS_DIR / "core", builtin=True)


def site_with_rule(tmp_path: Path, trigger: str) -> Path:
    site = tmp_path / "site"
    (site / "rules").mkdir(parents=True)
    (site / "rules" / "r.yaml").write_text(
        f"name: r\ntrigger:\n{trigger}action:\n  ref: core.noop\n",
    )
    return site


def test_core_declares_the_sensors_and_their_trigger_types() -> None:
    report = load_all([CORE])

    assert report.problems == []
    content = report.content
    assert content.sensor("core.FileWatchSensor").trigger_type_refs == [
        "core.st2.file_watch",
        "core.st2.file_watch.line",
    ]
    assert content.sensor("core.HttpPollSensor").trigger_type_refs == ["core.st2.http_poll"]
    assert content.sensor("core.FileWatchSensor").entry_point == "file_watch.py"
    for ref in ("core.st2.file_watch", "core.st2.file_watch.line", "core.st2.http_poll"):
        trigger_type = content.trigger_type(ref)
        assert trigger_type.parameters_schema["additionalProperties"] is False
        assert trigger_type.payload_schema["type"] == "object"


def test_the_thin_sensor_modules_import_the_typed_classes() -> None:
    namespace: dict[str, object] = {}
    for name in ("file_watch", "http_poll"):
        code = (BUILTIN_PACKS_DIR / "core" / "sensors" / f"{name}.py").read_text()
        exec(compile(code, name, "exec"), namespace)
    from st2lite.sensors.file_watch import FileWatchSensor
    from st2lite.sensors.http_poll import HttpPollSensor

    assert namespace["FileWatchSensor"] is FileWatchSensor
    assert namespace["HttpPollSensor"] is HttpPollSensor


def test_a_rule_with_good_trigger_parameters_registers(tmp_path: Path) -> None:
    site = site_with_rule(
        tmp_path,
        "  type: core.st2.file_watch\n  parameters:\n    path: /srv/inbox\n    glob: '*.csv'\n    events: [created]\n",
    )
    report = load_all([CORE, *discover([], site_dir=site)])

    assert report.problems == []
    assert report.content.rule("default.r").trigger.parameters["glob"] == "*.csv"


def test_bad_trigger_parameters_are_registration_errors(tmp_path: Path) -> None:
    site = site_with_rule(
        tmp_path,
        "  type: core.st2.file_watch\n  parameters:\n    glob: 'sub/*.csv'\n    events: [changed]\n",
    )
    report = load_all([CORE, *discover([], site_dir=site)])

    found = sorted(p.message for p in report.problems)
    assert found == [
        "'changed' is not one of ['created', 'modified', 'moved', 'deleted'] "
        "(parameters of trigger type 'core.st2.file_watch')",
        "'path' is a required property (parameters of trigger type 'core.st2.file_watch')",
        "'sub/*.csv' does not match '^[^/]+$' (parameters of trigger type 'core.st2.file_watch')",
    ]
    assert "default.r" not in report.content.rules


def test_a_bad_poll_url_is_a_registration_error(tmp_path: Path) -> None:
    site = site_with_rule(
        tmp_path, "  type: core.st2.http_poll\n  parameters:\n    url: ftp://example.com\n    interval: 0\n"
    )
    report = load_all([CORE, *discover([], site_dir=site)])

    assert sorted(p.message for p in report.problems) == [
        "'ftp://example.com' does not match '^https?://' (parameters of trigger type 'core.st2.http_poll')",
        "0 is less than the minimum of 0.01 (parameters of trigger type 'core.st2.http_poll')",
    ]
