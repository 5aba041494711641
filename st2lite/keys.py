"""Every Redis key st2lite uses, in one place.

All keys live under :data:`PREFIX`. RQ's own keys are moved under
``st2lite:rq`` too (see :mod:`st2lite.jobqueue`), so one ``SCAN st2lite:*``
shows everything st2lite stores. Redis Cluster is not supported: Lua scripts
touch keys they compute.
"""

from __future__ import annotations

__all__ = ["PREFIX", "RQ_PREFIX"]

#: The prefix of every key.
PREFIX = "st2lite"
#: The prefix RQ is told to use for its keys (``RQ_KEY_PREFIX``).
RQ_PREFIX = f"{PREFIX}:rq"

#: Stream of trigger instances (consumer group :data:`TRIGGER_GROUP`).
TRIGGER_STREAM = f"{PREFIX}:triggers"
#: Consumer group of the rules engines on :data:`TRIGGER_STREAM`.
TRIGGER_GROUP = "rules"
#: Stream of audit events.
AUDIT_STREAM = f"{PREFIX}:audit"

#: The registered content: hash of ``<kind>:<ref>`` -> JSON definition.
REGISTRY = f"{PREFIX}:registry"
#: Counter bumped on every registry change; processes reload when it moves.
REGISTRY_VERSION = f"{PREFIX}:registry:version"
#: Rules written through the API: hash of rule ref -> JSON change (a rule, or a deletion), merged over
#: :data:`REGISTRY` (see :mod:`st2lite.rule_changes`).
REGISTRY_RULE_CHANGES = f"{PREFIX}:registry:rule-changes"

#: Sorted set of running executions, scored by the time their heartbeat lease ends.
RUNNING_LEASES = f"{PREFIX}:executions:leases"
#: Sorted set of all executions, scored by creation time (ms).
EXECUTIONS_ALL = f"{PREFIX}:executions:all"
#: Name of the RQ queue actions run from.
ACTION_QUEUE = "actions"


def execution(execution_id: str) -> str:
    """Hash holding one execution."""
    return f"{PREFIX}:execution:{execution_id}"


def execution_index(field: str, value: str) -> str:
    """Sorted set of execution ids with ``field == value``, scored by creation time (ms)."""
    return f"{PREFIX}:executions:{field}:{value}"


def trigger_instance(instance_id: str) -> str:
    """String holding one processed trigger instance (JSON) with its enforcements; also the engine's 'done' marker."""
    return f"{PREFIX}:triggerinstance:{instance_id}"


#: Prefix of the trigger instance indexes (:data:`TRIGGER_INSTANCES_ALL`, :func:`trigger_instance_index`).
TRIGGER_INSTANCES_PREFIX = f"{PREFIX}:triggerinstances:"
#: Sorted set of every processed trigger instance id, scored by when it occurred (ms).
TRIGGER_INSTANCES_ALL = f"{TRIGGER_INSTANCES_PREFIX}all"


def trigger_instance_index(trigger: str) -> str:
    """Sorted set of the processed instances of trigger type ``trigger``, scored by when they occurred (ms)."""
    return f"{TRIGGER_INSTANCES_PREFIX}trigger:{trigger}"


def enforcement_index(field: str, value: str) -> str:
    """Sorted set of enforcement ids with ``field == value``, scored by time (ms)."""
    return f"{PREFIX}:enforcements:{field}:{value}"


def kv(scope: str, name: str) -> str:
    """Hash of one datastore value (see :mod:`st2lite.datastore`); ``scope`` is ``system`` or ``user:<username>``."""
    return f"{PREFIX}:kv:{scope}:{name}"


def kv_index(scope: str) -> str:
    """Sorted set of the names stored in ``scope``, all scored 0 so they sort by name (``ZRANGEBYLEX``)."""
    return f"{PREFIX}:kvindex:{scope}"


def kv_expiry(scope: str) -> str:
    """Sorted set of the names in ``scope`` that have a TTL, scored by when they expire (Unix seconds)."""
    return f"{PREFIX}:kvexpiry:{scope}"


#: Stream of execution ids waiting to be scheduled (consumer group :data:`SCHEDULER_GROUP`).
REQUEST_STREAM = f"{PREFIX}:requests"
#: Consumer group of the schedulers on :data:`REQUEST_STREAM`.
SCHEDULER_GROUP = "schedulers"


#: Stream of "a child execution ended" events (fields ``p`` parent, ``c`` child, ``s`` status).
CHAIN_EVENTS = f"{PREFIX}:chain-events"
#: Consumer group of the chain conductors on :data:`CHAIN_EVENTS`.
CONDUCTOR_GROUP = "conductors"
#: Sorted set of chain task retries waiting for their time: member ``<chain id>|<retry key>``, score the due time.
CHAIN_RETRIES = f"{PREFIX}:chain-retries"


def chain_step(chain_id: str, step: str) -> str:
    """Marker key: the chain ``chain_id`` took the step ``step`` (its start, or what followed a child's end)."""
    return f"{PREFIX}:chain:{chain_id}:{step}"


#: Pub/sub channel on which the ids of running executions to cancel are published (workers listen).
CANCEL_CHANNEL = f"{PREFIX}:cancel"


def chain_part(chain_id: str, part: str) -> str:
    """Data kept next to a chain's state: ``tasks`` (its task records, a list), ``items:<task>`` (a
    ``with-items`` task's items, a list) and ``results:<task>`` (their results by index, a hash)."""
    return f"{PREFIX}:chain-data:{chain_id}:{part}"


#: Prefix of a concurrency policy's slot keys (see :func:`policy_slots`).
POLICY_SLOTS_PREFIX = f"{PREFIX}:policy:"
#: Set of the slot key prefixes (:func:`policy_slots`) that have executions waiting; swept by the schedulers.
POLICY_WAITING = f"{PREFIX}:policies:waiting"
#: Counter giving delayed executions their place in a waiting queue (arrival order).
POLICY_ARRIVALS = f"{PREFIX}:policies:arrivals"
#: Sorted set of executions to retry (``action.retry``), scored by when the retry is due (epoch seconds).
RETRIES_DUE = f"{PREFIX}:policies:retries"
#: Hash: execution id -> its secrets (JSON), kept for its retry after the execution completed.
RETRY_SECRETS = f"{PREFIX}:policies:retry-secrets"
#: Sorted set of executions under an ``action.sla`` policy, scored by their deadline (epoch ms).
SLA_DUE = f"{PREFIX}:policies:sla"
#: Suffixes ``transition.lua`` appends to a :func:`policy_slots` prefix.
SLOT_MEMBERS_SUFFIX, SLOT_QUEUE_SUFFIX = ":slots", ":queue"


def policy_slots(policy_ref: str, digest: str) -> str:
    """Prefix of one concurrency count: ``<prefix>:slots`` (set of the execution ids holding a slot) and
    ``<prefix>:queue`` (sorted set of the delayed ones, by arrival). ``digest`` is ``all`` or the
    attribute values' digest (``action.concurrency.attr``)."""
    return f"{POLICY_SLOTS_PREFIX}{policy_ref}:{digest}"


def policy_of_slots(prefix: str) -> str:
    """The policy ref of a :func:`policy_slots` prefix."""
    return prefix.removeprefix(POLICY_SLOTS_PREFIX).rpartition(":")[0]


def retried(execution_id: str) -> str:
    """Marker: the retry of ``execution_id`` was created (holds the new execution's id)."""
    return f"{PREFIX}:policies:retried:{execution_id}"


#: Sorted set of executions waiting in ``pending`` (inquiries, callback tasks), scored by the epoch second
#: they time out: the earlier of their ``ttl``/``timeout`` and their next heartbeat deadline.
WAIT_DEADLINES = f"{PREFIX}:waits:deadlines"


def webhook_rate(url: str) -> str:
    """Counter of the requests to the declared webhook ``url`` in its current rate-limit window (expires with it)."""
    return f"{PREFIX}:webhooks:rate:{url}"


#: String: the token (``<engine name>:<random>``) of the timer engine holding the timer leadership, with a
#: PX lease; only the holder fires timers (see :mod:`st2lite.sensors.timer_engine`).
TIMER_LEADER = f"{PREFIX}:timers:leader"
#: Set of the ids of the timers that have schedule state (:func:`timer_state`).
TIMERS_ALL = f"{PREFIX}:timers:all"


def timer_state(timer_id: str) -> str:
    """Hash: one timer's schedule (``fingerprint``, ``next`` in epoch ms, ``next_at``) and its last fire
    (``last``, ``last_at``, ``last_instance``, ``fired_at``), plus ``type``, ``name``, ``parameters``."""
    return f"{PREFIX}:timers:timer:{timer_id}"


# -- sensor containers (st2lite.sensors.placement, st2lite.sensors.status) --------------------------

#: Sorted set of live sensor containers: member the container's node name, score the epoch ms its heartbeat ends.
SENSOR_MEMBERS = f"{PREFIX}:sensors:members"
#: Sorted set of the sensor refs that have a status hash (:func:`sensor_status`), all scored 0.
SENSOR_STATUS_INDEX = f"{PREFIX}:sensors:statuses"


def sensor_lease(sensor_ref: str) -> str:
    """String: the token of the container that runs sensor ``sensor_ref`` (expires with its lease, ``PX``)."""
    return f"{PREFIX}:sensors:lease:{sensor_ref}"


def sensor_status(sensor_ref: str) -> str:
    """Hash: the state of sensor ``sensor_ref`` (state, node, pid, restarts, last_error, ...)."""
    return f"{PREFIX}:sensors:status:{sensor_ref}"


# -- metrics and health (st2lite.metrics, st2lite.heartbeats) -------------------------------------

#: Hash of execution counters written by ``transition.lua`` when an execution completes:
#: ``done|<action>|<status>`` (completions), ``b|<i>`` / ``b|inf`` (duration histogram bucket counts,
#: not cumulative; bounds in :data:`st2lite.metrics.DURATION_BUCKETS`) and ``sum`` (seconds).
METRICS_EXECUTIONS = f"{PREFIX}:metrics:executions"


def heartbeats(kind: str) -> str:
    """Sorted set of the processes of ``kind`` (``rules``): member the process name, score its last beat (epoch ms)."""
    return f"{PREFIX}:heartbeats:{kind}"


def auth_token(token_hash: str) -> str:
    """String holding one auth token's record (JSON), keyed by the SHA-256 of the token; expires with it."""
    return f"{PREFIX}:auth:token:{token_hash}"


#: Hash of API key id -> the key's record (JSON; the key itself is never stored, only its SHA-256).
API_KEYS = f"{PREFIX}:auth:apikeys"
#: Hash of the SHA-256 of an API key -> its id.
API_KEY_HASHES = f"{PREFIX}:auth:apikeys:by-hash"
# -- execution output and the event stream (st2lite.output, st2lite.api.streaming) -----------------

#: Stream of the output lines of every execution, for live readers (``GET /stream/v1/stream``): fields
#: ``x`` execution id, ``a`` action ref, ``t`` output type, ``d`` data, ``ts`` timestamp; trimmed to about
#: ``output_events_maxlen`` entries. :func:`execution_output` keeps each execution's own copy.
OUTPUT_EVENTS = f"{PREFIX}:output-events"


def execution_output(execution_id: str) -> str:
    """Stream of one execution's output lines (fields ``t`` output type, ``d`` data, ``ts`` timestamp), in the
    order they were read; expires ``execution_ttl`` seconds after its last line."""
    return f"{PREFIX}:output:{execution_id}"


#: Name the API's stream connections give themselves in Redis (``CLIENT LIST`` shows one per open stream).
STREAM_CLIENT_NAME = f"{PREFIX}-stream"
