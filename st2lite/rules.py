"""Rules: when a trigger of some type fires and its payload meets the criteria, run an action."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Rule", "RuleAction", "RuleTrigger", "RuleType"]


class RuleTrigger(BaseModel):
    """The trigger a rule listens to: a trigger type plus its parameters."""

    model_config = ConfigDict(frozen=True, extra="allow")

    type: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    description: str = ""
    ref: str = ""


class RuleAction(BaseModel):
    """The action a rule runs, with parameters that may be Jinja templates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ref: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


class RuleType(BaseModel):
    """``standard`` rules always run; ``backstop`` rules only when no standard rule matched."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ref: Literal["standard", "backstop"] = "standard"
    parameters: dict[str, Any] = Field(default_factory=dict)


class Rule(BaseModel):
    """A rule in StackStorm's YAML format, unchanged.

    ``criteria`` stays the raw mapping here; :mod:`st2lite.criteria` compiles it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    pack: str = "default"
    description: str = ""
    enabled: bool = False
    type: RuleType = Field(default_factory=RuleType)
    trigger: RuleTrigger
    criteria: dict[str, Any] = Field(default_factory=dict)
    action: RuleAction
    context: dict[str, Any] = Field(default_factory=dict)
    tags: list[dict[str, Any]] = Field(default_factory=list)
    metadata_file: str = ""
    # Read-only fields the StackStorm API reports; accepted and ignored on load.
    ref: str = ""
    uid: str = ""
    id: str = ""

    @property
    def full_ref(self) -> str:
        return f"{self.pack}.{self.name}"
