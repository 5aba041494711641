"""Which concrete triggers the enabled rules ask sensors for, and what changed between two registry versions."""

from __future__ import annotations

from typing import Any

from st2lite.rules import Rule
from st2lite.sensors.triggers import concrete_triggers, diff_triggers, trigger_id

TIMER = "core.st2.IntervalTimer"


def rule(name: str, parameters: dict[str, Any], *, enabled: bool = True, trigger: str = TIMER) -> Rule:
    return Rule.model_validate(
        {
            "name": name,
            "pack": "ops",
            "enabled": enabled,
            "trigger": {"type": trigger, "parameters": parameters},
            "action": {"ref": "core.noop"},
        }
    )


def test_the_id_does_not_depend_on_the_order_of_the_parameters() -> None:
    assert trigger_id(TIMER, {"unit": "seconds", "delta": 5}) == trigger_id(TIMER, {"delta": 5, "unit": "seconds"})
    assert trigger_id(TIMER, {"unit": "seconds", "delta": 5}) != trigger_id(TIMER, {"unit": "seconds", "delta": 6})
    assert trigger_id(TIMER, {}) != trigger_id("core.st2.CronTimer", {})


def test_rules_with_the_same_trigger_share_one_and_disabled_or_other_types_are_left_out() -> None:
    every_5s = {"unit": "seconds", "delta": 5}
    found = concrete_triggers(
        [
            rule("a", every_5s),
            rule("b", {"delta": 5, "unit": "seconds"}),
            rule("c", {"unit": "minutes", "delta": 1}, enabled=False),
            rule("d", {"url": "x"}, trigger="core.st2.webhook"),
        ],
        [TIMER],
    )
    assert list(found) == [trigger_id(TIMER, every_5s)]
    (trigger,) = found.values()
    ident = trigger["id"]
    assert trigger == {
        "id": ident,
        "ref": f"core.st2.IntervalTimer.{ident}",
        "uid": f"trigger:core:st2.IntervalTimer.{ident}:{ident}",
        "name": f"st2.IntervalTimer.{ident}",
        "pack": "core",
        "type": TIMER,
        "parameters": every_5s,
        "description": "",
    }


def test_diff_names_what_was_added_updated_and_removed() -> None:
    a, b, c = ({"unit": "seconds", "delta": n} for n in (1, 2, 3))
    old = concrete_triggers([rule("a", a), rule("b", b)], [TIMER])
    new = concrete_triggers([rule("b", b), rule("c", c)], [TIMER])
    changes = diff_triggers(old, new)
    assert [t["parameters"] for t in changes.added] == [c]
    assert [t["parameters"] for t in changes.removed] == [a]
    assert changes.updated == []
    assert changes

    described = {i: {**t, "description": "now described"} for i, t in new.items()}
    again = diff_triggers(new, described)
    assert (again.added, again.removed) == ([], [])
    assert [t["description"] for t in again.updated] == ["now described"] * 2
    assert not diff_triggers(new, dict(new))
