"""Action policies (StackStorm's ``<pack>/policies/*.yaml``): models and the pure logic around them.

A :class:`Policy` names an action (``resource_ref``), a ``policy_type`` and
its ``parameters``, checked per type by the models below (StackStorm's rules,
``st2common/policies/meta/*.yaml``). The Redis side lives elsewhere: slot
counting, delays and releases in ``lua/transition.lua`` (called by
:mod:`st2lite.scheduler` and every status change), retries and SLA checks in
:mod:`st2lite.policy_sweeps`. See docs/policies.md.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from st2lite import keys
from st2lite.statuses import ExecutionStatus

__all__ = [
    "PARAMETER_MODELS",
    "ActionPolicies",
    "ConcurrencyAttrParameters",
    "ConcurrencyParameters",
    "Policy",
    "PolicyType",
    "RetryParameters",
    "SlaParameters",
    "attribute_digest",
    "retry_context",
    "retry_matches",
]


class PolicyType(StrEnum):
    """The policy types st2lite applies (``action.sla`` is st2lite's own)."""

    CONCURRENCY = "action.concurrency"
    CONCURRENCY_ATTR = "action.concurrency.attr"
    RETRY = "action.retry"
    SLA = "action.sla"


class ConcurrencyParameters(BaseModel):
    """``action.concurrency``: at most ``threshold`` executions of the action scheduled or running."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: StrictInt = Field(ge=1)
    action: Literal["delay", "cancel"] = "delay"


class ConcurrencyAttrParameters(ConcurrencyParameters):
    """``action.concurrency.attr``: the same, counted per value tuple of the parameters ``attributes``."""

    attributes: list[str] = Field(min_length=1)

    @field_validator("attributes")
    @classmethod
    def _unique(cls, attributes: list[str]) -> list[str]:
        twice = sorted({a for a in attributes if attributes.count(a) > 1})
        if twice:
            raise ValueError(f"names {', '.join(twice)} more than once; list each parameter once")
        return attributes


class RetryParameters(BaseModel):
    """``action.retry``: run the action again after it ended ``failed`` (failure) or ``timeout``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    retry_on: Literal["failure", "timeout"]
    max_retry_count: StrictInt = Field(default=2, ge=1, le=5)
    delay: float = Field(default=0, ge=0, le=120)


class SlaParameters(BaseModel):
    """``action.sla`` (st2lite's own): emit ``core.st2.sla_missed`` for a run not done ``duration`` s after creation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    duration: float = Field(gt=0)


#: Policy type -> the model of its ``parameters``.
PARAMETER_MODELS: dict[str, type[BaseModel]] = {
    PolicyType.CONCURRENCY.value: ConcurrencyParameters,
    PolicyType.CONCURRENCY_ATTR.value: ConcurrencyAttrParameters,
    PolicyType.RETRY.value: RetryParameters,
    PolicyType.SLA.value: SlaParameters,
}


class Policy(BaseModel):
    """One policy file. ``parameters`` holds the checked values with their defaults filled in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    pack: str = "default"
    description: str = ""
    enabled: bool = True
    resource_ref: str = Field(min_length=1)
    policy_type: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    metadata_file: str = ""
    # Read-only fields the StackStorm API reports; accepted and ignored on load.
    ref: str = ""
    id: str = ""
    uid: str = ""

    @field_validator("policy_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in PARAMETER_MODELS:
            close = difflib.get_close_matches(value, list(PARAMETER_MODELS), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"use one of: {', '.join(PARAMETER_MODELS)}"
            raise ValueError(f"unknown policy type '{value}'; {hint}")
        return value

    @property
    def full_ref(self) -> str:
        return f"{self.pack}.{self.name}"

    def typed(self) -> Any:
        """The parameters as the model of :attr:`policy_type` (checked when the policy was loaded)."""
        return PARAMETER_MODELS[self.policy_type].model_validate(self.parameters)


@dataclass(frozen=True)
class SlotPolicy:
    """A concurrency policy as the scheduler applies it to one action."""

    ref: str
    threshold: int
    cancel: bool
    #: Parameter names the count is split by (empty: one count for the action).
    attributes: tuple[str, ...] = ()

    def slot_key(self, parameters: Mapping[str, Any]) -> str:
        """The Redis key prefix of this policy's slots and waiting queue for an execution with ``parameters``."""
        return keys.policy_slots(self.ref, attribute_digest(self.attributes, parameters))


@dataclass(frozen=True)
class ActionPolicies:
    """The enabled policies of one action, by kind (several concurrency policies all apply)."""

    concurrency: tuple[SlotPolicy, ...] = ()
    retry: tuple[str, RetryParameters] | None = None
    sla: tuple[str, SlaParameters] | None = None
    refs: tuple[str, ...] = field(default=())

    @property
    def held_back(self) -> bool:
        """True when the scheduler must see its executions (the rules engine's shortcut skips it)."""
        return bool(self.concurrency) or self.sla is not None

    def retry_after(self, status: ExecutionStatus, context: Mapping[str, Any], *, top_level: bool) -> float | None:
        """Seconds before an execution that ended ``status`` is retried under ``action.retry``; None: not retried.

        Only top-level executions are retried, as in StackStorm (a chain's task is its chain's business).
        """
        if not top_level or self.retry is None or not retry_matches(self.retry[1], status, context):
            return None
        return float(self.retry[1].delay)

    def slots(self, action_ref: str, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The concurrency slots an execution with ``parameters`` takes, as ``transition.lua`` reads them."""
        return [
            {
                "k": slot.slot_key(parameters),
                "n": slot.threshold,
                "p": slot.ref,
                "c": (
                    f"canceled by policy {slot.ref}: {slot.threshold} execution(s) of {action_ref} "
                    "already scheduled or running"
                    if slot.cancel
                    else ""
                ),
            }
            for slot in self.concurrency
        ]

    @classmethod
    def of(cls, policies: Iterable[Policy]) -> ActionPolicies:
        """Group ``policies`` (all of one action); disabled ones are left out; the first retry/sla by ref wins."""
        slots: list[SlotPolicy] = []
        retry: tuple[str, RetryParameters] | None = None
        sla: tuple[str, SlaParameters] | None = None
        refs = []
        for policy in sorted(policies, key=lambda p: p.full_ref):
            if not policy.enabled:
                continue
            refs.append(policy.full_ref)
            params = policy.typed()
            if isinstance(params, ConcurrencyParameters):
                attributes = tuple(params.attributes) if isinstance(params, ConcurrencyAttrParameters) else ()
                slots.append(SlotPolicy(policy.full_ref, params.threshold, params.action == "cancel", attributes))
            elif isinstance(params, RetryParameters) and retry is None:
                retry = (policy.full_ref, params)
            elif isinstance(params, SlaParameters) and sla is None:
                sla = (policy.full_ref, params)
        return cls(concurrency=tuple(slots), retry=retry, sla=sla, refs=tuple(refs))


def attribute_digest(attributes: Iterable[str], parameters: Mapping[str, Any]) -> str:
    """Which count an execution falls in: ``all``, or a digest of its values of ``attributes``."""
    names = list(attributes)
    if not names:
        return "all"
    values = orjson.dumps([parameters.get(name) for name in names], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha1(values, usedforsecurity=False).hexdigest()[:16]


#: The statuses ``retry_on`` matches (StackStorm: failure is ``failed`` only).
_RETRY_STATUSES = {"failure": ExecutionStatus.FAILED, "timeout": ExecutionStatus.TIMEOUT}


def retry_matches(params: RetryParameters, status: ExecutionStatus, context: Mapping[str, Any]) -> bool:
    """True when an execution that ended ``status`` with ``context`` is to be retried."""
    return _RETRY_STATUSES[params.retry_on] is status and _retry_count(context) + 1 <= params.max_retry_count


def retry_context(context: Mapping[str, Any], *, policy: str, retried_id: str) -> dict[str, Any]:
    """The context of the retry of an execution with ``context`` (StackStorm's ``policies.retry`` shape)."""
    return {
        **context,
        "policies": {
            "retry": {
                "applied_policy": policy,
                "retry_count": _retry_count(context) + 1,
                "retried_liveaction_id": retried_id,
            }
        },
    }


def _retry_count(context: Mapping[str, Any]) -> int:
    retry = (context.get("policies") or {}).get("retry") or {}
    count = retry.get("retry_count", 0)
    return count if isinstance(count, int) else 0
