"""Pure: the concrete triggers (trigger type + parameters) that enabled rules ask sensors for.

A rule bound to a parameterised trigger type (``core.st2.IntervalTimer`` with
``{unit: seconds, delta: 5}``, a file watch with a path) creates a *trigger*;
the sensor emitting that type is told with ``add_trigger`` and, when no
enabled rule uses it any more, ``remove_trigger``. Two rules with the same
type and parameters share one trigger, as in StackStorm. A trigger's id is
derived from its type and canonical parameters, so every process computes the
same id for it without any shared state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from st2lite.rules import Rule

__all__ = ["TriggerChanges", "concrete_triggers", "diff_triggers", "trigger_dict", "trigger_id"]


def trigger_id(trigger_type: str, parameters: Mapping[str, Any]) -> str:
    """A stable id for the trigger ``trigger_type`` with ``parameters`` (hex, 16 characters)."""
    canonical = orjson.dumps(dict(parameters), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(trigger_type.encode() + b"|" + canonical).hexdigest()[:16]


def trigger_dict(trigger_type: str, parameters: dict[str, Any], description: str = "") -> dict[str, Any]:
    """The trigger dict ``add_trigger`` receives for a rule on ``trigger_type`` with ``parameters``."""
    pack, _, type_name = trigger_type.partition(".")
    ident = trigger_id(trigger_type, parameters)
    name = f"{type_name}.{ident}"
    return {
        "id": ident,
        "ref": f"{pack}.{name}",
        "uid": f"trigger:{pack}:{name}:{ident}",
        "name": name,
        "pack": pack,
        "type": trigger_type,
        "parameters": parameters,
        "description": description,
    }


def concrete_triggers(rules: Iterable[Rule], trigger_types: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The triggers, by id, that the enabled ``rules`` bind to among ``trigger_types``.

    Each is StackStorm's sanitised trigger dict ``{id, ref, uid, name, pack,
    type, parameters, description}`` as ``add_trigger`` receives it.
    """
    wanted = set(trigger_types)
    found: dict[str, dict[str, Any]] = {}
    for rule in rules:
        if not rule.enabled or rule.trigger.type not in wanted:
            continue
        trigger = trigger_dict(rule.trigger.type, dict(rule.trigger.parameters), rule.trigger.description)
        found.setdefault(trigger["id"], trigger)
    return found


@dataclass(frozen=True)
class TriggerChanges:
    """What changed between two sets of triggers (each list sorted by id)."""

    added: list[dict[str, Any]]
    updated: list[dict[str, Any]]
    removed: list[dict[str, Any]]

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def diff_triggers(old: Mapping[str, dict[str, Any]], new: Mapping[str, dict[str, Any]]) -> TriggerChanges:
    """``added``, ``updated`` (same id, other fields changed, e.g. the description) and ``removed``."""
    return TriggerChanges(
        added=[new[i] for i in sorted(new.keys() - old.keys())],
        updated=[new[i] for i in sorted(new.keys() & old.keys()) if new[i] != old[i]],
        removed=[old[i] for i in sorted(old.keys() - new.keys())],
    )
