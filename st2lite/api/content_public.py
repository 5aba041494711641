"""The StackStorm shapes of registered content: runner types, rules, packs, and rule enforcements.

st2lite has no database ids: a definition's ``id`` is its ref (as for actions
and trigger types), a runner's its name, an enforcement's
``<trigger instance id>:<rule ref>``.
"""

from __future__ import annotations

from typing import Any

from st2lite.api.schemas import utc_z
from st2lite.content import PackMeta
from st2lite.enforcements import RuleEnforcement
from st2lite.rules import Rule
from st2lite.runners import Runner

__all__ = ["enforcement_public", "pack_public", "rule_public", "runner_public"]

#: Runner module names as StackStorm reports them (``runner_module``), by runner type.
_MODULES = {
    "local-shell-cmd": "local_runner",
    "local-shell-script": "local_runner",
    "python-script": "python_runner",
    "http-request": "http_runner",
    "noop": "noop_runner",
    "action-chain": "action_chain_runner",
    "inquirer": "inquirer_runner",
}


def runner_public(runner: Runner) -> dict[str, Any]:
    """``GET /api/v1/runnertypes`` item: ``runner_parameters`` always an object, each spec with a ``type``."""
    parameters = {}
    for name, spec in runner.parameters.items():
        dumped = spec.model_dump(exclude_unset=True)
        dumped.setdefault("type", "string")
        parameters[name] = dumped
    doc = (runner.__doc__ or "").strip().splitlines()
    description = doc[0].split(": ", 1)[-1].replace("``", "") if doc else ""
    return {
        "id": runner.name,
        "uid": f"runner_type:{runner.name}",
        "name": runner.name,
        "description": description[:1].upper() + description[1:],
        "enabled": True,
        "runner_package": _MODULES.get(runner.name, runner.name.replace("-", "_")),
        "runner_module": _MODULES.get(runner.name, runner.name.replace("-", "_")),
        "runner_parameters": parameters,
        "output_key": "result",
    }


def rule_public(rule: Rule, last_fired: str | None = None) -> dict[str, Any]:
    """``GET /api/v1/rules`` item: ``trigger`` and ``action`` always objects.

    ``trigger.ref`` is the trigger type's ref (the ``trigger`` filter of the
    list takes it). ``last_fired`` (st2lite's own) is when the rule last fired,
    or ``None``. Every field here is one ``PUT`` accepts back unchanged.
    """
    trigger = rule.trigger.model_dump(mode="json")
    trigger["ref"] = rule.trigger.type
    return {
        "id": rule.full_ref,
        "uid": f"rule:{rule.pack}:{rule.name}",
        "ref": rule.full_ref,
        "name": rule.name,
        "pack": rule.pack,
        "description": rule.description,
        "enabled": rule.enabled,
        "type": rule.type.model_dump(mode="json"),
        "trigger": trigger,
        "criteria": rule.criteria,
        "action": rule.action.model_dump(mode="json"),
        "tags": rule.tags,
        "context": rule.context,
        "metadata_file": rule.metadata_file,
        "last_fired": utc_z(last_fired),
    }


#: Pack fields never returned: where the pack sits on the registering host's disk is fine, its config is not
#: (it may hold secrets).
_PACK_HIDDEN = frozenset({"config", "config_file", "id", "uid"})


def pack_public(pack: PackMeta) -> dict[str, Any]:
    """``GET /api/v1/packs`` item (pack.yaml's fields, without the pack's config values)."""
    fields = pack.model_dump(mode="json", exclude=set(_PACK_HIDDEN))
    return {"id": pack.ref, "uid": f"pack:{pack.ref}", **fields}


def enforcement_public(enforcement: RuleEnforcement) -> dict[str, Any]:
    """``GET /api/v1/ruleenforcements`` item: ``rule`` an object, ids as strings, ``failure_reason`` a string."""
    pack, _, name = enforcement.rule.partition(".")
    out: dict[str, Any] = {
        "id": enforcement.id,
        "rule": {"ref": enforcement.rule, "id": enforcement.rule, "uid": f"rule:{pack}:{name}"},
        "trigger_instance_id": enforcement.trigger_instance,
        "trigger": enforcement.trigger,
        "execution_id": enforcement.execution,
        "status": enforcement.status.value,
        "failure_reason": enforcement.failure_reason or "",
        "enforced_at": utc_z(enforcement.enforced_at),
    }
    return {k: v for k, v in out.items() if v is not None}
