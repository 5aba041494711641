"""Rule enforcements: the record that rule R fired (or failed to) for trigger instance T."""

from __future__ import annotations

import time
from enum import StrEnum

import orjson
from pydantic import BaseModel, ConfigDict, Field

from st2lite import keys
from st2lite.audit import now_iso
from st2lite.batch import add_to_indexes
from st2lite.redisdb import Pipeline, Redis

__all__ = ["EnforcementStatus", "EnforcementStore", "RuleEnforcement", "enforcement_id"]


class EnforcementStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def enforcement_id(trigger_instance_id: str, rule_ref: str) -> str:
    """The one id an enforcement of ``rule_ref`` for ``trigger_instance_id`` can have."""
    return f"{trigger_instance_id}:{rule_ref}"


class RuleEnforcement(BaseModel):
    """That a rule fired for a trigger instance, which execution it started, or why it failed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    rule: str
    trigger_instance: str
    trigger: str
    execution: str | None = None
    status: EnforcementStatus
    failure_reason: str | None = None
    enforced_at: str = Field(default_factory=now_iso)


class EnforcementStore:
    """Reads and writes enforcements (JSON strings with the execution retention)."""

    def __init__(self, client: Redis, *, ttl: int) -> None:
        self._client = client
        self._ttl = ttl

    def create_in(self, pipe: Pipeline, enforcement: RuleEnforcement, *, at_ms: int | str | None = None) -> None:
        """Queue the writes of ``enforcement`` (``at_ms`` may be a placeholder when recording a template)."""
        ms = at_ms if at_ms is not None else int(time.time() * 1000)
        # __dict__ rather than model_dump: one of these per rule that fires (all fields are JSON-ready).
        pipe.set(keys.enforcement(enforcement.id), orjson.dumps(enforcement.__dict__), ex=self._ttl)
        indexes = [keys.enforcement_index("rule", enforcement.rule), keys.enforcement_index("all", "all")]
        add_to_indexes(pipe, indexes, enforcement.id, ms)

    def get(self, eid: str) -> RuleEnforcement | None:
        raw = self._client.get(keys.enforcement(eid))
        return RuleEnforcement.model_validate_json(raw) if raw else None

    def for_trigger_instance(self, trigger_instance_id: str, rule_refs: list[str]) -> list[RuleEnforcement]:
        """The enforcements of ``rule_refs`` for one trigger instance."""
        raws = self._client.mget([keys.enforcement(enforcement_id(trigger_instance_id, r)) for r in rule_refs])
        return [RuleEnforcement.model_validate_json(r) for r in raws if r]

    def prune_all(self) -> int:
        """Drop index entries older than the retention (periodic maintenance); returns how many."""
        horizon = int((time.time() - self._ttl) * 1000)
        dropped = 0
        for key in self._client.scan_iter(match=f"{keys.PREFIX}:enforcements:*", count=1000):
            dropped += int(self._client.zremrangebyscore(key, "-inf", f"({horizon}"))
        return dropped

    def list(self, *, rule: str | None = None, limit: int = 50, offset: int = 0) -> list[RuleEnforcement]:
        """The newest enforcements, of one rule or of all."""
        key = keys.enforcement_index("rule", rule) if rule else keys.enforcement_index("all", "all")
        horizon = int((time.time() - self._ttl) * 1000)
        self._client.zremrangebyscore(key, "-inf", f"({horizon}")
        ids = self._client.zrevrange(key, offset, offset + limit - 1)
        raws = self._client.mget([keys.enforcement(i) for i in ids]) if ids else []
        return [RuleEnforcement.model_validate_json(r) for r in raws if r]
