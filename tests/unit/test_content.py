"""The in-memory registry of definitions: lookups, whole-pack replacement, JSON storage."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from st2lite.actions import Action, ParameterSpec
from st2lite.content import ContentSet, PackMeta, SensorMeta
from st2lite.exceptions import ContentError, UnknownRefError
from st2lite.rules import Rule, RuleAction, RuleTrigger
from st2lite.triggers import BUILTIN_TRIGGER_TYPES, TriggerType


def pack(ref: str) -> PackMeta:
    return PackMeta(name=ref, description="d", version="1.0.0", author="a", path=f"/packs/{ref}")


def action(pack_ref: str, name: str, **parameters: ParameterSpec) -> Action:
    return Action(name=name, pack=pack_ref, runner_type="local-shell-cmd", parameters=parameters)


def rule(pack_ref: str, name: str, *, enabled: bool = True) -> Rule:
    return Rule(
        name=name,
        pack=pack_ref,
        enabled=enabled,
        trigger=RuleTrigger(type="core.st2.webhook", parameters={"url": name}),
        criteria={"trigger.body.name": {"type": "equals", "pattern": "st2"}},
        action=RuleAction(ref=f"{pack_ref}.echo", parameters={"message": "{{ trigger.body.name }}"}),
    )


@pytest.fixture
def content() -> ContentSet:
    return ContentSet(
        packs=[pack("ops"), pack("bi")],
        actions=[
            action("ops", "echo", message=ParameterSpec(type="string", required=True)),
            action("bi", "echo", count=ParameterSpec(type="integer", default=1)),
        ],
        rules=[rule("ops", "b_on"), rule("ops", "a_on"), rule("ops", "off", enabled=False), rule("bi", "r")],
        trigger_types=[TriggerType(pack="ops", name="alert", parameters_schema={"type": "object"})],
        sensors=[SensorMeta(class_name="Poller", name="Poller", pack="ops", entry_point="poller.py")],
    )


# --- PackMeta --------------------------------------------------------------------------------------


def test_pack_ref_defaults_to_a_valid_name() -> None:
    assert pack("ops").ref == "ops"
    unquoted = {"name": "My Pack", "ref": "my_pack", "description": "d", "version": 1.2, "author": "a"}
    assert PackMeta.model_validate(unquoted).version == "1.2.0"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "My Pack"}, "the pack name 'My Pack' is not a valid ref, so a 'ref' is needed"),
        ({"name": "x", "ref": "x-y"}, "'x-y' is not a valid pack ref; use only lowercase letters, digits and _"),
        ({"name": "x", "version": "one"}, "'one' is not a semantic version; write it like 0.1.0"),
    ],
)
def test_pack_meta_rejects_bad_refs_and_versions(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PackMeta.model_validate({"description": "d", "version": "0.1.0", "author": "a", **fields})


# --- lookups ---------------------------------------------------------------------------------------


def test_lookups_by_ref(content: ContentSet) -> None:
    assert content.pack("ops").path == "/packs/ops"
    assert content.action("bi.echo").parameters["count"].default == 1
    assert content.rule("ops.off").enabled is False
    assert content.trigger_type("ops.alert").pack == "ops"
    assert content.sensor("ops.Poller").entry_point == "poller.py"


def test_builtin_trigger_types_are_always_registered() -> None:
    empty = ContentSet()
    assert {t.ref for t in BUILTIN_TRIGGER_TYPES} <= set(empty.trigger_types)
    assert empty.trigger_type("core.st2.webhook").parameters_schema["required"] == ["url"]


@pytest.mark.parametrize(
    ("lookup", "ref", "message"),
    [
        ("action", "ops.ecko", "action 'ops.ecko' is not registered; did you mean 'ops.echo'?"),
        (
            "rule",
            "nothing.here",
            "rule 'nothing.here' is not registered; register the pack that defines it with 'st2lite pack register'",
        ),
        (
            "trigger_type",
            "core.st2.webhok",
            "trigger type 'core.st2.webhok' is not registered; did you mean 'core.st2.webhook'?",
        ),
        ("pack", "opz", "pack 'opz' is not registered; did you mean 'ops'?"),
        ("sensor", "ops.Poler", "sensor 'ops.Poler' is not registered; did you mean 'ops.Poller'?"),
    ],
)
def test_unknown_refs_raise_with_a_suggestion(content: ContentSet, lookup: str, ref: str, message: str) -> None:
    with pytest.raises(UnknownRefError) as info:
        getattr(content, lookup)(ref)
    assert str(info.value) == message
    assert info.value.ref == ref


def test_enabled_rules_are_ordered_by_ref(content: ContentSet) -> None:
    assert [r.full_ref for r in content.enabled_rules()] == ["bi.r", "ops.a_on", "ops.b_on"]


def test_duplicate_refs_are_rejected() -> None:
    with pytest.raises(ContentError, match="^action 'ops.echo' is defined twice; each action ref must be unique$"):
        ContentSet(actions=[action("ops", "echo"), action("ops", "echo")])
    with pytest.raises(ContentError, match="^trigger type 'core.st2.webhook' is defined twice"):
        ContentSet(trigger_types=[BUILTIN_TRIGGER_TYPES[0]])


# --- whole-pack replacement ------------------------------------------------------------------------


def test_with_packs_replaces_a_pack_entirely(content: ContentSet) -> None:
    new_ops = ContentSet(packs=[pack("ops")], actions=[action("ops", "restart")], rules=[rule("ops", "new")])
    merged = content.with_packs(new_ops)
    assert sorted(merged.actions) == ["bi.echo", "ops.restart"]
    assert sorted(merged.rules) == ["bi.r", "ops.new"]
    # The ops trigger type and sensor were not in the new ops content, so they are gone.
    assert "ops.alert" not in merged.trigger_types
    assert dict(merged.sensors) == {}
    assert "core.st2.webhook" in merged.trigger_types
    # The original is unchanged.
    assert sorted(content.actions) == ["bi.echo", "ops.echo"]


def test_without_packs_keeps_builtins(content: ContentSet) -> None:
    left = content.without_packs(["ops", "bi"])
    assert dict(left.packs) == {}
    assert dict(left.rules) == {}
    assert set(left.trigger_types) == {t.ref for t in BUILTIN_TRIGGER_TYPES}


# --- storage ---------------------------------------------------------------------------------------


def test_to_json_keys_are_kind_and_ref_without_builtins(content: ContentSet) -> None:
    stored = content.to_json()
    assert sorted(stored) == [
        "action:bi.echo",
        "action:ops.echo",
        "pack:bi",
        "pack:ops",
        "rule:bi.r",
        "rule:ops.a_on",
        "rule:ops.b_on",
        "rule:ops.off",
        "sensor:ops.Poller",
        "trigger_type:ops.alert",
    ]
    assert json.loads(stored["action:bi.echo"])["parameters"] == {"count": {"type": "integer", "default": 1}}


def test_json_round_trip_keeps_every_definition(content: ContentSet) -> None:
    stored = content.to_json()
    restored = ContentSet.from_json(stored)
    assert restored.to_json() == stored
    assert restored.rule("ops.a_on") == content.rule("ops.a_on")
    # Unset defaults stay unset: a parameter without a default must not gain `default: None`.
    assert restored.action("ops.echo").parameters["message"].has_default is False
    assert restored.action("bi.echo").parameters["count"].has_default is True


def test_from_json_accepts_bytes_as_redis_returns_them(content: ContentSet) -> None:
    raw = {key.encode(): value.encode() for key, value in content.to_json().items()}
    assert ContentSet.from_json(raw).to_json() == content.to_json()


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (
            {"widget:ops.x": "{}"},
            "stored content entry 'widget:ops.x' has unknown kind 'widget' "
            "(known: pack, action, rule, trigger_type, sensor, policy, webhook, alias); "
            "re-register the packs with 'st2lite pack register'",
        ),
        (
            {"pack:ops": "{not json"},
            "stored content entry 'pack:ops' is invalid (Invalid JSON: key must be a string "
            "at line 1 column 2); re-register the packs with 'st2lite pack register'",
        ),
        (
            {"action:ops.other": '{"name": "echo", "pack": "ops", "runner_type": "noop"}'},
            "stored content entry 'action:ops.other' holds 'ops.echo'; "
            "re-register the packs with 'st2lite pack register'",
        ),
    ],
)
def test_from_json_rejects_bad_entries(entries: dict[str, str], message: str) -> None:
    with pytest.raises(ContentError) as info:
        ContentSet.from_json(entries)
    assert str(info.value) == message


def test_repr_counts_definitions(content: ContentSet) -> None:
    trigger_types = len(BUILTIN_TRIGGER_TYPES) + 1  # the fixture declares one of its own
    assert (
        repr(content)
        == f"ContentSet(packs=2, actions=2, rules=4, trigger_types={trigger_types}, sensors=1, policies=0, "
        "webhooks=0, aliases=0)"
    )
