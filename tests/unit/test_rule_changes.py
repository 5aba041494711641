"""Merging the rules API's entries over the packs' rules, and checking a rule given as data (pure)."""

from __future__ import annotations

from typing import Any

from st2lite.actions import Action
from st2lite.content import ContentSet
from st2lite.packs import check_rule
from st2lite.rule_changes import RuleChange, apply_rule_changes, decode_changes
from st2lite.rules import Rule

NOOP = Action(name="noop", pack="core", runner_type="noop")


def rule(name: str, *, pack: str = "site", enabled: bool = True, url: str = "x") -> Rule:
    return Rule.model_validate(
        {
            "name": name,
            "pack": pack,
            "enabled": enabled,
            "trigger": {"type": "core.st2.webhook", "parameters": {"url": url}},
            "action": {"ref": "core.noop"},
        }
    )


FILES = ContentSet(actions=[NOOP], rules=[rule("from_file"), rule("other")])


def change(**fields: Any) -> RuleChange:
    return RuleChange(actor="api:alice", at="2026-01-01T00:00:00+00:00", **fields)


def test_no_changes_is_the_packs_content() -> None:
    assert apply_rule_changes(FILES, {}) is FILES


def test_a_created_rule_is_added_and_an_enabled_override_applies_to_the_file_rule() -> None:
    merged = apply_rule_changes(
        FILES,
        {"site.from_api": change(rule=rule("from_api", url="y")), "site.from_file": change(enabled=False)},
    )

    assert sorted(merged.rules) == ["site.from_api", "site.from_file", "site.other"]
    assert merged.rules["site.from_file"].enabled is False
    assert merged.rules["site.from_file"].trigger == FILES.rules["site.from_file"].trigger
    assert [r.full_ref for r in merged.enabled_rules()] == ["site.from_api", "site.other"]
    assert merged.actions == FILES.actions


def test_a_file_wins_over_a_created_rule_of_the_same_ref() -> None:
    merged = apply_rule_changes(FILES, {"site.other": change(rule=rule("other", url="api"))})

    assert merged.rules["site.other"].trigger.parameters == {"url": "x"}


def test_an_override_of_a_rule_gone_from_its_pack_does_nothing() -> None:
    merged = apply_rule_changes(FILES, {"site.gone": change(enabled=True)})

    assert sorted(merged.rules) == ["site.from_file", "site.other"]


def test_an_unreadable_entry_is_skipped_not_fatal() -> None:
    decoded = decode_changes({"site.bad": b"{not json", "site.ok": b'{"actor": "a", "at": "t", "enabled": false}'})

    assert list(decoded) == ["site.ok"]
    assert decoded["site.ok"].enabled is False


def test_check_rule_accepts_a_valid_rule_and_names_every_bad_field() -> None:
    good = {
        "name": "r",
        "trigger": {"type": "core.st2.webhook", "parameters": {"url": "u"}},
        "action": {"ref": "core.noop"},
    }

    ok, none = check_rule(good, FILES)
    bad, problems = check_rule(
        {**good, "pack": "Bad", "criteria": {"trigger.x": {"type": "nope"}}, "action": {"ref": "core.nop"}}, FILES
    )

    assert ok is not None and ok.full_ref == "default.r" and none == []
    assert bad is None
    assert [p.field for p in problems] == ["criteria.trigger.x", "pack", "action.ref"]
    assert "did you mean 'core.noop'?" in problems[-1].message
    assert str(problems[0]).startswith("request body: field 'criteria.trigger.x': ")
