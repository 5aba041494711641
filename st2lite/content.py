"""The registry of definitions: packs, actions, rules, trigger types, sensors, policies, webhooks and action
aliases, in memory.

A :class:`ContentSet` is immutable and pure: :mod:`st2lite.packs` builds one
from files on disk, the lead stores it in a Redis hash through
:meth:`ContentSet.to_json` and every process rebuilds it with
:meth:`ContentSet.from_json`. Registering a pack replaces that pack's whole
content (:meth:`ContentSet.with_packs`), so a definition deleted from disk
disappears from the registry too.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from st2lite.actions import Action
from st2lite.aliases import ActionAlias
from st2lite.exceptions import ContentError, UnknownRefError
from st2lite.policies import Policy
from st2lite.refs import PACK_NAME
from st2lite.rules import Rule
from st2lite.triggers import BUILTIN_TRIGGER_TYPES, TriggerType
from st2lite.webhooks import Webhook

__all__ = ["ContentSet", "PackMeta", "SensorMeta"]

#: Semantic version, as pack.yaml's ``version`` must be (pre-release and build parts allowed).
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)
_MAJOR_MINOR = re.compile(r"^\d+\.\d+$")


def _scalar_text(value: Any) -> Any:
    """YAML reads ``version: 1.0`` or ``- 3`` as numbers; pack.yaml means text there."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


#: A string field that also accepts an unquoted YAML number.
Text = Annotated[str, BeforeValidator(_scalar_text)]


class PackMeta(BaseModel):
    """A pack's ``pack.yaml``, plus the absolute folder it was loaded from.

    ``ref`` is the pack's identifier (the prefix of every definition's ref); it
    defaults to ``name`` when the name is a valid ref (lowercase letters, digits,
    underscores).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    ref: str = Field(default="", validate_default=True)
    description: str
    version: Text
    author: str
    email: str = ""
    keywords: list[str] = Field(default_factory=list)
    contributors: list[str] = Field(default_factory=list)
    stackstorm_version: str = ""
    python_versions: list[Text] = Field(default_factory=list)
    dependencies: list[str] = Field(default_factory=list)
    system: dict[str, Any] = Field(default_factory=dict)
    files: list[str] = Field(default_factory=list)
    #: Absolute folder of the pack on the host that loaded it.
    path: str = ""
    #: ``config.schema.yaml`` of the pack (st2lite keeps it here; not a pack.yaml field).
    config_schema: dict[str, Any] = Field(default_factory=dict)
    #: The values of ``<configs_dir>/<pack>.yaml``, templates unrendered (see :mod:`st2lite.pack_configs`).
    config: dict[str, Any] = Field(default_factory=dict)
    #: The file ``config`` was read from ("" when there is none).
    config_file: str = ""
    # Read-only fields the StackStorm API reports; accepted and ignored on load.
    id: str = ""
    uid: str = ""

    @field_validator("ref")
    @classmethod
    def _ref_from_name(cls, ref: str, info: ValidationInfo) -> str:
        if ref:
            if not PACK_NAME.match(ref):
                raise ValueError(f"'{ref}' is not a valid pack ref; use only lowercase letters, digits and _")
            return ref
        name = info.data.get("name")
        if name is None:  # the name itself failed validation and is reported on its own
            return ""
        if not PACK_NAME.match(name):
            raise ValueError(
                f"the pack name '{name}' is not a valid ref, so a 'ref' is needed; "
                "add 'ref:' with only lowercase letters, digits and _"
            )
        return str(name)

    @field_validator("version")
    @classmethod
    def _semver(cls, version: str) -> str:
        if _MAJOR_MINOR.match(version):
            version += ".0"
        if not _SEMVER.match(version):
            raise ValueError(f"'{version}' is not a semantic version; write it like 0.1.0")
        return version


class SensorMeta(BaseModel):
    """A sensor's metadata file (``sensors/<name>.yaml``), kept for the sensor container.

    ``trigger_types`` are the trigger types the sensor emits, as written in the
    file; :mod:`st2lite.packs` registers them as :class:`TriggerType` with the
    pack prefix added.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    class_name: str
    #: Defaults to ``class_name`` (set by the loader).
    name: str = ""
    pack: str = "default"
    entry_point: str = ""
    description: str = ""
    enabled: bool = True
    poll_interval: float | None = Field(default=None, ge=0)
    trigger_types: list[dict[str, Any]] = Field(default_factory=list)
    artifact_uri: str = ""
    metadata_file: str = ""
    # Read-only fields the StackStorm API reports; accepted and ignored on load.
    ref: str = ""
    uid: str = ""
    id: str = ""
    #: Absolute folder of the pack; ``entry_point`` resolves against ``<pack_path>/sensors``.
    pack_path: str = ""

    @property
    def full_ref(self) -> str:
        return f"{self.pack}.{self.name or self.class_name}"

    @property
    def trigger_type_refs(self) -> list[str]:
        return [f"{self.pack}.{raw.get('name', '')}" for raw in self.trigger_types]


_Def = TypeVar("_Def", bound=BaseModel)

_BUILTIN_REFS = frozenset(tt.ref for tt in BUILTIN_TRIGGER_TYPES)


def _pack_ref(pack: PackMeta) -> str:
    return pack.ref


def _action_ref(action: Action) -> str:
    return action.full_ref


def _rule_ref(rule: Rule) -> str:
    return rule.full_ref


def _trigger_type_ref(trigger_type: TriggerType) -> str:
    return trigger_type.ref


def _sensor_ref(sensor: SensorMeta) -> str:
    return sensor.full_ref


def _policy_ref(policy: Policy) -> str:
    return policy.full_ref


def _webhook_ref(webhook: Webhook) -> str:
    return webhook.full_ref


def _alias_ref(alias: ActionAlias) -> str:
    return alias.full_ref


def _index(items: Iterable[_Def], ref_of: Callable[[_Def], str], kind: str) -> dict[str, _Def]:
    out: dict[str, _Def] = {}
    for item in items:
        ref = ref_of(item)
        if ref in out:
            raise ContentError(f"{kind} '{ref}' is defined twice; each {kind} ref must be unique")
        out[ref] = item
    return out


#: Stored kinds: the prefix of a key in :meth:`ContentSet.to_json` -> (model, how to get its ref).
_KINDS: dict[str, tuple[type[BaseModel], Callable[[Any], str]]] = {
    "pack": (PackMeta, _pack_ref),
    "action": (Action, _action_ref),
    "rule": (Rule, _rule_ref),
    "trigger_type": (TriggerType, _trigger_type_ref),
    "sensor": (SensorMeta, _sensor_ref),
    "policy": (Policy, _policy_ref),
    "webhook": (Webhook, _webhook_ref),
    "alias": (ActionAlias, _alias_ref),
}


class ContentSet:
    """An immutable registry of definitions, each kind keyed by its ref.

    The built-in trigger types (:data:`st2lite.triggers.BUILTIN_TRIGGER_TYPES`)
    are always present.

    Raises:
        ContentError: (constructor) two definitions of one kind share a ref.
    """

    __slots__ = ("_actions", "_aliases", "_packs", "_policies", "_rules", "_sensors", "_trigger_types", "_webhooks")

    def __init__(
        self,
        *,
        packs: Iterable[PackMeta] = (),
        actions: Iterable[Action] = (),
        rules: Iterable[Rule] = (),
        trigger_types: Iterable[TriggerType] = (),
        sensors: Iterable[SensorMeta] = (),
        policies: Iterable[Policy] = (),
        webhooks: Iterable[Webhook] = (),
        aliases: Iterable[ActionAlias] = (),
    ) -> None:
        self._packs = _index(packs, _pack_ref, "pack")
        self._actions = _index(actions, _action_ref, "action")
        self._rules = _index(rules, _rule_ref, "rule")
        self._trigger_types = _index([*BUILTIN_TRIGGER_TYPES, *trigger_types], _trigger_type_ref, "trigger type")
        self._sensors = _index(sensors, _sensor_ref, "sensor")
        self._policies = _index(policies, _policy_ref, "policy")
        self._webhooks = _index(webhooks, _webhook_ref, "webhook")
        self._aliases = _index(aliases, _alias_ref, "action alias")

    # -- views ---------------------------------------------------------------------------------

    @property
    def packs(self) -> Mapping[str, PackMeta]:
        return MappingProxyType(self._packs)

    @property
    def actions(self) -> Mapping[str, Action]:
        return MappingProxyType(self._actions)

    @property
    def rules(self) -> Mapping[str, Rule]:
        return MappingProxyType(self._rules)

    @property
    def trigger_types(self) -> Mapping[str, TriggerType]:
        return MappingProxyType(self._trigger_types)

    @property
    def sensors(self) -> Mapping[str, SensorMeta]:
        return MappingProxyType(self._sensors)

    @property
    def policies(self) -> Mapping[str, Policy]:
        return MappingProxyType(self._policies)

    @property
    def webhooks(self) -> Mapping[str, Webhook]:
        """Declared webhooks (``webhooks/*.yaml``), keyed by ``pack.name``."""
        return MappingProxyType(self._webhooks)

    @property
    def aliases(self) -> Mapping[str, ActionAlias]:
        """Action aliases (``aliases/*.yaml``), keyed by ``pack.name``."""
        return MappingProxyType(self._aliases)

    # -- lookups -------------------------------------------------------------------------------

    def pack(self, ref: str) -> PackMeta:
        """The pack ``ref``; raises :class:`UnknownRefError` when it is not registered."""
        return _lookup(self._packs, ref, "pack")

    def action(self, ref: str) -> Action:
        """The action ``pack.name``; raises :class:`UnknownRefError` when it is not registered."""
        return _lookup(self._actions, ref, "action")

    def rule(self, ref: str) -> Rule:
        """The rule ``pack.name``; raises :class:`UnknownRefError` when it is not registered."""
        return _lookup(self._rules, ref, "rule")

    def trigger_type(self, ref: str) -> TriggerType:
        """The trigger type ``pack.name``; raises :class:`UnknownRefError` when it is not registered."""
        return _lookup(self._trigger_types, ref, "trigger type")

    def sensor(self, ref: str) -> SensorMeta:
        """The sensor ``pack.name``; raises :class:`UnknownRefError` when it is not registered."""
        return _lookup(self._sensors, ref, "sensor")

    def enabled_rules(self) -> list[Rule]:
        """The rules with ``enabled: true``, ordered by ref."""
        return [self._rules[ref] for ref in sorted(self._rules) if self._rules[ref].enabled]

    # -- changes -------------------------------------------------------------------------------

    def with_packs(self, other: ContentSet) -> ContentSet:
        """This registry with every pack of ``other`` replaced by ``other``'s content for it.

        All definitions of a pack listed in ``other.packs`` are dropped first, so
        a definition removed from a pack's files disappears. Definitions of
        ``other`` whose pack it does not list are added, replacing the same refs.
        """
        kept = self.without_packs(other.packs)
        return ContentSet(
            packs={**kept._packs, **other._packs}.values(),
            actions={**kept._actions, **other._actions}.values(),
            rules={**kept._rules, **other._rules}.values(),
            trigger_types=_user_defined({**kept._trigger_types, **other._trigger_types}),
            sensors={**kept._sensors, **other._sensors}.values(),
            policies={**kept._policies, **other._policies}.values(),
            webhooks={**kept._webhooks, **other._webhooks}.values(),
            aliases={**kept._aliases, **other._aliases}.values(),
        )

    def with_rules(self, rules: Iterable[Rule]) -> ContentSet:
        """This registry with its rules replaced by ``rules`` (everything else kept)."""
        return ContentSet(
            packs=self._packs.values(),
            actions=self._actions.values(),
            rules=rules,
            trigger_types=_user_defined(self._trigger_types),
            sensors=self._sensors.values(),
            policies=self._policies.values(),
            webhooks=self._webhooks.values(),
            aliases=self._aliases.values(),
        )

    def without_packs(self, refs: Iterable[str]) -> ContentSet:
        """This registry without the packs ``refs`` and all their definitions (built-ins stay)."""
        gone = set(refs)
        return ContentSet(
            packs=[p for ref, p in self._packs.items() if ref not in gone],
            actions=[a for a in self._actions.values() if a.pack not in gone],
            rules=[r for r in self._rules.values() if r.pack not in gone],
            trigger_types=[t for t in _user_defined(self._trigger_types) if t.pack not in gone],
            sensors=[s for s in self._sensors.values() if s.pack not in gone],
            policies=[p for p in self._policies.values() if p.pack not in gone],
            webhooks=[w for w in self._webhooks.values() if w.pack not in gone],
            aliases=[a for a in self._aliases.values() if a.pack not in gone],
        )

    # -- storage -------------------------------------------------------------------------------

    def to_json(self) -> dict[str, str]:
        """Every definition as ``{"<kind>:<ref>": JSON}`` (built-in trigger types left out: code owns them).

        Only the fields set at load time are written, so defaults stay defaults
        (and :attr:`ParameterSpec.has_default` survives the round trip).
        """
        groups: dict[str, Mapping[str, BaseModel]] = {
            "pack": self._packs,
            "action": self._actions,
            "rule": self._rules,
            "trigger_type": {t.ref: t for t in _user_defined(self._trigger_types)},
            "sensor": self._sensors,
            "policy": self._policies,
            "webhook": self._webhooks,
            "alias": self._aliases,
        }
        return {
            f"{kind}:{ref}": item.model_dump_json(exclude_unset=True)
            for kind, items in groups.items()
            for ref, item in items.items()
        }

    @classmethod
    def from_json(cls, entries: Mapping[str, str] | Mapping[bytes, bytes]) -> ContentSet:
        """Rebuild a registry from :meth:`to_json` output (keys and values may be bytes, as Redis returns).

        Raises:
            ContentError: An entry has an unknown kind, is not valid JSON for its kind or is
                stored under a ref that does not match its content.
        """
        buckets: dict[str, list[Any]] = {kind: [] for kind in _KINDS}
        for raw_key, raw_value in entries.items():
            key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
            kind, _, ref = key.partition(":")
            known = _KINDS.get(kind)
            if known is None:
                raise ContentError(
                    f"stored content entry '{key}' has unknown kind '{kind}' (known: {', '.join(_KINDS)}); "
                    "re-register the packs with 'st2lite pack register'"
                )
            model, ref_of = known
            try:
                item = model.model_validate_json(raw_value)
            except ValidationError as exc:
                raise ContentError(
                    f"stored content entry '{key}' is invalid ({exc.errors()[0]['msg']}); "
                    "re-register the packs with 'st2lite pack register'"
                ) from exc
            buckets[kind].append(item)
            stored_ref = ref_of(item)
            if stored_ref != ref:
                raise ContentError(
                    f"stored content entry '{key}' holds '{stored_ref}'; "
                    "re-register the packs with 'st2lite pack register'"
                )
        return cls(
            packs=buckets["pack"],
            actions=buckets["action"],
            rules=buckets["rule"],
            trigger_types=buckets["trigger_type"],
            sensors=buckets["sensor"],
            policies=buckets["policy"],
            webhooks=buckets["webhook"],
            aliases=buckets["alias"],
        )

    def __repr__(self) -> str:
        return (
            f"ContentSet(packs={len(self._packs)}, actions={len(self._actions)}, rules={len(self._rules)}, "
            f"trigger_types={len(self._trigger_types)}, sensors={len(self._sensors)}, "
            f"policies={len(self._policies)}, webhooks={len(self._webhooks)}, aliases={len(self._aliases)})"
        )


def _user_defined(trigger_types: Mapping[str, TriggerType]) -> list[TriggerType]:
    return [t for ref, t in trigger_types.items() if ref not in _BUILTIN_REFS]


def _lookup(items: Mapping[str, _Def], ref: str, kind: str) -> _Def:
    try:
        return items[ref]
    except KeyError:
        close = difflib.get_close_matches(ref, list(items), n=1)
        raise UnknownRefError(kind, ref, f"did you mean '{close[0]}'?" if close else "") from None
