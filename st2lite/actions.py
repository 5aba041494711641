"""Actions: what can be run, by which runner, with which parameters."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Action", "ParameterSpec", "merge_parameters"]


class ParameterSpec(BaseModel):
    """One parameter: a JSON-schema fragment plus StackStorm's additions.

    Any other JSON-schema keyword (``enum``, ``minimum``, ``items``...) is kept
    and checked with jsonschema.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    type: str | list[str] | None = None
    description: str = ""
    default: Any = None
    required: bool = False
    #: Masked in executions, audit events, logs and API responses.
    secret: bool = False
    #: Callers may not override the default.
    immutable: bool = False
    #: Index among positional script arguments.
    position: int | None = Field(default=None, ge=0)

    def schema_keywords(self) -> dict[str, Any]:
        """The JSON-schema keywords of this parameter (StackStorm's additions removed)."""
        out: dict[str, Any] = dict(self.model_extra or {})
        if self.type is not None:
            out["type"] = self.type
        return out

    @property
    def has_default(self) -> bool:
        return "default" in self.model_fields_set


class Action(BaseModel):
    """An action definition (StackStorm's action metadata YAML)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    pack: str = "default"
    runner_type: str
    description: str = ""
    enabled: bool = True
    entry_point: str = ""
    parameters: dict[str, ParameterSpec] = Field(default_factory=dict)
    output_schema: dict[str, Any] = Field(default_factory=dict)
    tags: list[dict[str, Any]] = Field(default_factory=list)
    notify: dict[str, Any] = Field(default_factory=dict)
    metadata_file: str = ""
    # Read-only fields the StackStorm API reports; accepted and ignored on load.
    ref: str = ""
    uid: str = ""
    id: str = ""
    #: Absolute folder of the pack on the host that registered it (scripts resolve against it).
    pack_path: str = ""

    @property
    def full_ref(self) -> str:
        return f"{self.pack}.{self.name}"


#: Attributes an action may change on a runner parameter it redefines (StackStorm's rule).
OVERRIDABLE = frozenset({"default", "description", "enum", "immutable", "required"})


def merge_parameters(
    runner_params: dict[str, ParameterSpec], action_params: dict[str, ParameterSpec]
) -> dict[str, ParameterSpec]:
    """Overlay an action's parameters on its runner's; the action wins for overridable attributes."""
    merged = dict(runner_params)
    for name, spec in action_params.items():
        base = runner_params.get(name)
        if base is None:
            merged[name] = spec
            continue
        data = base.model_dump(exclude_unset=True)
        data.update({k: v for k, v in spec.model_dump(exclude_unset=True).items() if k in OVERRIDABLE})
        merged[name] = ParameterSpec.model_validate(data)
    return merged
