"""ChatOps end to end under ``st2lite up``: a chat webhook runs ``core.alias_execute``, the aliased action runs
with the parameters read from the text, and its result comes back as ``core.st2.generic.notifytrigger``
(proved by a rule on that trigger, which echoes the rendered message)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import FINAL, Procs, Up, wait_for, webhook_rule, write_rules

pytestmark = pytest.mark.e2e

PACK_FILES = {
    "pack.yaml": "name: chatdemo\ndescription: ChatOps demo\nversion: 0.1.0\nauthor: tests\n",
    "actions/restart.yaml": """\
name: restart
runner_type: local-shell-cmd
description: Pretend to restart a unit.
parameters:
  unit:
    type: string
    required: true
  dry_run:
    type: boolean
    default: false
  cmd:
    default: "echo restarting {{ unit }} dry={{ dry_run }}"
    immutable: true
""",
    "aliases/restart.yaml": """\
name: restart
description: Restart a unit from chat
action_ref: chatdemo.restart
formats:
  - display: "restart <unit> [dry <true|false>]"
    representation:
      - "restart {{unit}} dry {{dry_run=true}}"
ack:
  format: "restarting {{ execution.parameters.unit }} for {{ user }}"
  append_url: false
result:
  format: "{{ execution.result.stdout | trim }} ({{ execution.status }})"
""",
}


def write_pack(root: Path) -> Path:
    for name, text in PACK_FILES.items():
        path = root / "chatdemo" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_chat_command_runs_its_alias_and_the_result_comes_back_as_a_notify_trigger(
    procs: Procs, site: Path, tmp_path: Path
) -> None:
    packs = write_pack(tmp_path / "packs")
    chat = webhook_rule(
        "chat",
        "core.alias_execute",
        {
            "command": "{{ trigger.body.text }}",
            "user": "{{ trigger.body.user }}",
            "source_channel": "{{ trigger.body.channel }}",
            "notification_route": "chat",
        },
    )
    post_back = {
        "enabled": True,
        "trigger": {"type": "core.st2.generic.notifytrigger"},
        "criteria": {"trigger.route": {"type": "equals", "pattern": "chat"}},
        "action": {
            "ref": "core.echo",
            "parameters": {
                "message": "{{ trigger.data.source_channel }} {{ trigger.data.user }}: {{ trigger.message }}"
            },
        },
    }
    write_rules(site, {"chat": chat, "post_back": post_back})
    up = Up.start(procs, tmp_path / "home", site, workers=2, ST2LITE_PACKS_PATH=packs)

    accepted = up.post("/api/v1/webhooks/chat", json={"text": "restart nginx", "user": "ann", "channel": "#ops"})
    assert accepted.status_code == 202, accepted.text
    [caller] = wait_for(lambda: up.executions_of(accepted.json()["id"]), what="core.alias_execute to start")
    called = up.wait_status(caller.id, set(FINAL))
    assert called["status"] == "succeeded", called
    launched = called["result"]["result"]
    assert launched["actionalias"] == "chatdemo.restart"
    assert launched["message"] == "restarting nginx for ann"

    restarted = up.wait_status(launched["execution"], set(FINAL))
    assert restarted["status"] == "succeeded", restarted
    assert restarted["parameters"]["unit"] == "nginx" and restarted["parameters"]["dry_run"] is True
    assert restarted["result"]["stdout"].strip() == "restarting nginx dry=true"
    assert restarted["context"]["action_alias_ref"] == "chatdemo.restart"

    def echoed() -> list[dict[str, object]]:
        found = [e for e in up.executions() if e.action == "core.echo" and e.status.value in FINAL]
        return [up.execution(e.id) for e in found]

    [echo] = wait_for(echoed, what="the notify rule's core.echo to end")
    assert echo["status"] == "succeeded"
    assert echo["result"]["stdout"].strip() == "#ops ann: restarting nginx dry=true (succeeded)"

    # A command no alias takes: core.alias_execute fails saying so, and nothing else runs.
    before = {e.id for e in up.executions()}
    refused = up.post("/api/v1/webhooks/chat", json={"text": "dance", "user": "bo", "channel": "#ops"})
    assert refused.status_code == 202
    [failed] = wait_for(lambda: up.executions_of(refused.json()["id"]), what="core.alias_execute to start")
    ended = up.wait_status(failed.id, set(FINAL))
    assert ended["status"] == "failed"
    assert ended["result"]["result"]["error"].startswith("command 'dance' matched no action alias; list the aliases")
    assert {e.id for e in up.executions()} - before == {failed.id}
    assert [a["ref"] for a in up.get("/api/v1/actionalias").json()] == ["chatdemo.restart"]
    assert up.stop() == 0
