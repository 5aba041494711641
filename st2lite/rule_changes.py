"""Rules written through the API, kept apart from what ``st2lite pack register`` writes, and merged over it.

``pack register`` replaces whole packs in the registry hash, so rules the API
wrote there would vanish on the next registration. The API writes instead
into its own hash (:data:`~st2lite.keys.REGISTRY_RULE_CHANGES`), one entry per
rule ref, and bumps the registry version in the same transaction; every
process merges the entries over the packs' content when it reloads
(:func:`apply_rule_changes`), so a rule created, disabled or deleted through
the API reaches running rules engines within their refresh interval.

An entry is one of:

- a rule created through the API (``rule``): the whole rule. It is kept across
  registrations until deleted through the API; if a pack's files come to define
  the same ref, the file wins at that registration and the entry is dropped
  (logged);
- an ``enabled`` override of a rule a pack file defines: ``PUT`` may only turn
  such a rule on or off (its other fields belong to its file). The override
  survives registrations (an operator's switch-off stays off across
  ``st2lite up``) and is removed when a ``PUT`` sets ``enabled`` back to the
  file's value.

What wins (docs/rules.md, "Rules through the API"): for a ref a pack file
defines, the file, except ``enabled`` when the API set it; for any other ref,
the API.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError
from redis.exceptions import WatchError

from st2lite import keys
from st2lite.audit import AuditKind, AuditLog, encode_event, now_iso
from st2lite.content import ContentSet
from st2lite.exceptions import ContentError, RuleConflictError, RuleFileOwnedError, RuleNotFoundError
from st2lite.redisdb import Pipeline, Redis
from st2lite.rules import Rule

__all__ = ["READ_ONLY", "RuleChange", "RuleChangeStore", "apply_rule_changes", "decode_changes"]

log = logging.getLogger(__name__)

#: Fields of a rule the API reports but never stores: they are derived, or set by st2lite.
READ_ONLY = frozenset({"id", "uid", "ref", "metadata_file", "last_fired"})
#: Attempts at a change while other writers keep moving the registry version.
ATTEMPTS = 20


class RuleChange(BaseModel):
    """One API entry: a created rule, or the ``enabled`` override of a file's rule; who made it and when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: Rule | None = None
    enabled: bool | None = None
    actor: str
    at: str


def decode_changes(entries: Mapping[str, str] | Mapping[bytes, bytes]) -> dict[str, RuleChange]:
    """The stored entries by rule ref; an unreadable entry is logged and skipped (it never hides the others)."""
    out: dict[str, RuleChange] = {}
    for raw_ref, raw in entries.items():
        ref = raw_ref.decode() if isinstance(raw_ref, bytes) else raw_ref
        try:
            out[ref] = RuleChange.model_validate_json(raw)
        except ValidationError as exc:
            log.error("Rule %s written through the API is unreadable and ignored: %s", ref, exc.errors()[0]["msg"])
    return out


def apply_rule_changes(content: ContentSet, changes: Mapping[str, RuleChange]) -> ContentSet:
    """``content`` (the packs' rules) with the API's entries merged over it (see the module doc)."""
    if not changes:
        return content
    rules = dict(content.rules)
    for ref, change in changes.items():
        if ref in content.rules:
            if change.enabled is not None:
                rules[ref] = rules[ref].model_copy(update={"enabled": change.enabled})
            # a created rule whose ref a file now defines: the file wins
        elif change.rule is not None:
            rules[ref] = change.rule
        # an override of a file rule that is gone from its pack: nothing to apply
    return content.with_rules(rules.values())


def _stored(rule: Rule) -> dict[str, Any]:
    exclude: dict[str, Any] = dict.fromkeys(READ_ONLY, True)
    exclude["trigger"] = {"ref"}
    return rule.model_dump(mode="json", exclude=exclude)


class RuleChangeStore:
    """Creates, changes and deletes rules for the API, atomically with the version bump and an audit event.

    Each method reads the rule's file definition and API entry under ``WATCH``
    of the registry version, so two writers (or a registration) never
    interleave: the loser retries on the new state.
    """

    def __init__(self, client: Redis, audit: AuditLog) -> None:
        self._client = client
        self._audit = audit

    def create(self, rule: Rule, *, actor: str) -> Rule:
        """Store a new rule; :class:`RuleConflictError` when its ref exists (in a file or through the API)."""
        ref = rule.full_ref
        entry = RuleChange(rule=rule, actor=actor, at=now_iso())

        def change(pipe: Pipeline, file_rule: Rule | None, current: RuleChange | None) -> None:
            if file_rule is not None or (current is not None and current.rule is not None):
                raise RuleConflictError(ref, ref)
            pipe.hset(keys.REGISTRY_RULE_CHANGES, ref, _encode(entry))
            self._event(pipe, AuditKind.RULE_CREATED, actor, ref, {"enabled": rule.enabled})

        self._atomically(ref, change)
        return rule

    def update(self, ref: str, rule: Rule, *, actor: str) -> Rule:
        """Replace rule ``ref`` by ``rule`` (same ref); for a file's rule, only ``enabled`` may differ.

        Raises:
            RuleNotFoundError: no rule ``ref``.
            RuleFileOwnedError: ``ref`` is defined by a pack file and ``rule`` differs in more than ``enabled``.
        """
        result: list[Rule] = []

        def change(pipe: Pipeline, file_rule: Rule | None, current: RuleChange | None) -> None:
            result.clear()
            if file_rule is not None:
                changed = _differences(file_rule, rule)
                if changed:
                    raise RuleFileOwnedError(
                        f"rule '{ref}' is defined by the file {file_rule.metadata_file or 'of its pack'} of pack "
                        f"'{file_rule.pack}'; only 'enabled' can be changed through the API, not "
                        f"{', '.join(repr(f) for f in changed)}: edit the file and run 'st2lite pack register'"
                    )
                if rule.enabled == file_rule.enabled:
                    pipe.hdel(keys.REGISTRY_RULE_CHANGES, ref)  # back to the file's own value
                else:
                    override = RuleChange(enabled=rule.enabled, actor=actor, at=now_iso())
                    pipe.hset(keys.REGISTRY_RULE_CHANGES, ref, _encode(override))
                result.append(file_rule.model_copy(update={"enabled": rule.enabled}))
            elif current is not None and current.rule is not None:
                kept = rule.model_copy(update={"context": current.rule.context})
                entry = RuleChange(rule=kept, actor=actor, at=now_iso())
                pipe.hset(keys.REGISTRY_RULE_CHANGES, ref, _encode(entry))
                result.append(kept)
            else:
                raise RuleNotFoundError(ref)
            self._event(pipe, AuditKind.RULE_UPDATED, actor, ref, {"enabled": rule.enabled})

        self._atomically(ref, change)
        return result[0]

    def delete(self, ref: str, *, actor: str) -> None:
        """Delete the API's rule ``ref``; a rule a pack file defines cannot be deleted through the API."""

        def change(pipe: Pipeline, file_rule: Rule | None, current: RuleChange | None) -> None:
            if file_rule is not None:
                raise RuleFileOwnedError(
                    f"rule '{ref}' is defined by the file {file_rule.metadata_file or 'of its pack'} of pack "
                    f"'{file_rule.pack}'; delete that file and run 'st2lite pack register', "
                    "or disable the rule (PUT with enabled false)"
                )
            if current is None or current.rule is None:
                raise RuleNotFoundError(ref)
            pipe.hdel(keys.REGISTRY_RULE_CHANGES, ref)
            self._event(pipe, AuditKind.RULE_DELETED, actor, ref, {})

        self._atomically(ref, change)

    def _atomically(self, ref: str, change: Any) -> None:
        for _attempt in range(ATTEMPTS):
            with self._client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(keys.REGISTRY_VERSION)
                    raw_file = pipe.hget(keys.REGISTRY, f"rule:{ref}")
                    raw_change = pipe.hget(keys.REGISTRY_RULE_CHANGES, ref)
                    file_rule = Rule.model_validate_json(raw_file) if raw_file else None
                    current = decode_changes({ref: raw_change}).get(ref) if raw_change else None
                    pipe.multi()
                    change(pipe, file_rule, current)
                    pipe.incr(keys.REGISTRY_VERSION)
                    pipe.execute()
                    return
                except WatchError:
                    continue
        raise ContentError(f"rule '{ref}' could not be changed: the registry kept changing meanwhile; try again")

    def _event(self, pipe: Pipeline, kind: AuditKind, actor: str, ref: str, data: dict[str, Any]) -> None:
        self._audit.append_encoded(encode_event(kind, actor, rule=ref, data=data), pipe)


def _encode(change: RuleChange) -> bytes:
    body: dict[str, Any] = {"actor": change.actor, "at": change.at}
    if change.rule is not None:
        body["rule"] = _stored(change.rule)
    if change.enabled is not None:
        body["enabled"] = change.enabled
    return orjson.dumps(body)


def _differences(file_rule: Rule, rule: Rule) -> list[str]:
    """The top-level fields in which ``rule`` differs from ``file_rule`` (``enabled`` and read-only ones aside)."""
    ignored = READ_ONLY | {"enabled", "context"}
    before = file_rule.model_dump(mode="json", exclude=set(ignored))
    after = rule.model_dump(mode="json", exclude=set(ignored))
    # what the API reports of a trigger (its ref) is not part of the definition
    for dumped in (before, after):
        dumped["trigger"].pop("ref", None)
    return sorted(name for name in before if before[name] != after.get(name))
