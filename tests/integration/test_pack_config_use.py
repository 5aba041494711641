"""Pack configs end to end: registered with the pack, seen by a Python action as ``self.config``
(datastore templates rendered, secrets decrypted) and by rule templates as ``config_context``."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from st2lite.config import Settings
from st2lite.datastore import KeyValueStore
from st2lite.dispatch import TriggerDispatcher
from st2lite.encryption import generate_key_file
from st2lite.executions import ExecutionFilter
from st2lite.redisdb import Redis
from st2lite.registration import register_from_disk
from st2lite.registry import RegistryStore
from st2lite.rules_engine import RulesEngine
from st2lite.scheduler import Scheduler
from st2lite.statuses import ExecutionStatus
from st2lite.triggers import WEBHOOK_TRIGGER
from st2lite.worker import build_runtime, run_execution

pytestmark = pytest.mark.redis

SCHEMA = {
    "base_url": {"type": "string", "required": True},
    "client_secret": {"type": "string", "secret": True, "required": True},
    "timeout": {"type": "integer", "default": 30},
}


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def looker_pack(root: Path) -> Path:
    pack = root / "looker"
    write(pack / "pack.yaml", {"name": "looker", "description": "d", "version": "0.1.0", "author": "ops"})
    write(pack / "config.schema.yaml", SCHEMA)
    write(
        pack / "actions" / "show_config.yaml",
        {
            "name": "show_config",
            "runner_type": "python-script",
            "entry_point": "show_config.py",
            "parameters": {"label": {"type": "string"}},
        },
    )
    write(
        pack / "actions" / "show_config.py",
        textwrap.dedent(
            """
            from st2common.runners.base_action import Action

            class ShowConfig(Action):
                def run(self, label=None):
                    return {"config": self.config, "label": label}
            """
        ),
    )
    write(
        pack / "rules" / "on_hook.yaml",
        {
            "name": "on_hook",
            "pack": "looker",
            "enabled": True,
            "trigger": {"type": WEBHOOK_TRIGGER, "parameters": {"url": "looker"}},
            "action": {"ref": "looker.show_config", "parameters": {"label": "{{ config_context.base_url }}/x"}},
        },
    )
    return pack


@pytest.fixture
def site(settings: Settings, tmp_path: Path) -> Settings:
    looker_pack(tmp_path / "packs")
    return settings.model_copy(update={"configs_dir": tmp_path / "configs"})


def test_a_python_action_and_rule_templates_see_the_rendered_config(site: Settings, redis_client: Redis) -> None:
    generate_key_file(site.datastore_key_path)
    kv = KeyValueStore.for_settings(redis_client, site, actor="test")
    kv.set("looker_secret", "s3cret", secret=True)
    kv.set("looker_url", "https://looker.example")
    write(
        site.resolved_configs_dir / "looker.yaml",
        {"base_url": "{{ st2kv.system.looker_url }}", "client_secret": "{{ st2kv.system.looker_secret }}"},
    )
    report, _version = register_from_disk(site, redis_client, actor="test")
    assert report.ok, report.problems
    pack = RegistryStore(redis_client).load().content.packs["looker"]
    assert pack.config_file == str(site.resolved_configs_dir / "looker.yaml")

    payload = {"headers": {}, "headers_lower": {}, "body": {}}
    TriggerDispatcher(site, redis_client).dispatch(WEBHOOK_TRIGGER, payload, parameters={"url": "looker"}, actor="t")
    engine = RulesEngine(site, redis_client, name="engine-test")
    engine.drain()
    Scheduler(site, redis_client, site.redis_url, name="scheduler-test").drain()
    (execution,) = engine.executions.search(ExecutionFilter(), limit=10)[0]
    assert execution.parameters["label"] == "https://looker.example/x"
    run_execution(build_runtime(site, site.redis_url, name="worker-test"), execution.id)

    done = engine.executions.get(execution.id)
    assert done.status is ExecutionStatus.SUCCEEDED, done.result
    assert done.result["result"]["config"] == {
        "base_url": "https://looker.example",
        "client_secret": "s3cret",
        "timeout": 30,
    }


def test_a_config_that_breaks_the_schema_keeps_the_pack_out_and_says_where(
    site: Settings, redis_client: Redis, tmp_path: Path
) -> None:
    other = tmp_path / "packs" / "other"
    write(other / "pack.yaml", {"name": "other", "description": "d", "version": "0.1.0", "author": "ops"})
    write(
        other / "actions" / "hello.yaml",
        {"name": "hello", "runner_type": "local-shell-cmd", "parameters": {"cmd": {"default": "echo hi"}}},
    )
    config = write(site.resolved_configs_dir / "looker.yaml", "base_url: https://x\ntimeout: soon\n")

    report, _version = register_from_disk(site, redis_client, actor="test")

    assert [str(p) for p in report.problems] == [
        f"{config}:1: 'client_secret' is a required property",
        f"{config}:2: field 'timeout': 'soon' is not of type 'integer'",
    ]
    content = RegistryStore(redis_client).load().content
    assert "looker" not in content.packs
    assert "looker.show_config" not in content.actions
    assert "other.hello" in content.actions  # the other pack still registers


def test_a_broken_schema_is_reported_with_its_line(site: Settings, redis_client: Redis, tmp_path: Path) -> None:
    schema = write(tmp_path / "packs" / "looker" / "config.schema.yaml", "base_url:\n  type: text\n")
    report, _version = register_from_disk(site, redis_client, actor="test")
    assert [str(p) for p in report.problems] == [
        f"{schema}:1: field 'base_url': type 'text' is not one of array, boolean, integer, null, number, object, "
        "string",
    ]
    assert "looker" not in RegistryStore(redis_client).load().content.packs


def test_a_config_whose_datastore_value_is_wrong_fails_the_execution_clearly(
    site: Settings, redis_client: Redis
) -> None:
    write(site.resolved_configs_dir / "looker.yaml", {"base_url": "u", "client_secret": "{{ st2kv.system.nope }}"})
    write(site.resolved_configs_dir / "unused.yaml", {"x": 1})  # a config for a pack that is not there: ignored
    KeyValueStore.for_settings(redis_client, site, actor="test").set("nope", "x")
    report, _version = register_from_disk(site, redis_client, actor="test")
    assert report.ok, report.problems
    snapshot = RegistryStore(redis_client).load()
    pack = snapshot.content.packs["looker"]
    # a template rendering to a wrong type is caught at use, with what to fix
    bad = pack.model_copy(update={"config": {**pack.config, "timeout": "{{ st2kv.system.nope }}"}})
    runtime = build_runtime(site, site.redis_url, name="worker-test")
    with pytest.raises(Exception, match=r"the config of pack 'looker' is invalid at timeout: 'x' is not of type"):
        runtime.pack_config(bad)
