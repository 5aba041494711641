"""Recording Redis writes to apply them later in one atomic script call.

The rules engine turns a whole batch of trigger instances into writes (trigger
instance records, enforcements, executions, requests, audit events) and the
acknowledgement of the batch. :class:`WriteBatch` records them with the same
method names as a redis-py pipeline, so the stores' ``*_in(pipe, ...)``
methods write into it unchanged, and :meth:`WriteBatch.apply` sends the lot as
one ``apply_batch.lua`` call: one round trip, all or nothing, and a group whose
marker key already exists (an earlier attempt committed it) is skipped inside
Redis, atomically.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from st2lite.redisdb import Pipeline, Redis, Script, load_script

__all__ = [
    "PLACEHOLDER_START",
    "BackgroundApplier",
    "CommandTemplate",
    "WriteBatch",
    "add_to_indexes",
    "batch_script",
    "placeholder",
]


def _text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


class CommandTemplate:
    """Writes recorded once with placeholders and replayed with values inside the batch script.

    Record by writing into a :class:`WriteBatch` (in a group) with
    :func:`placeholder` strings where values go, then :meth:`from_recording`;
    replay with :meth:`WriteBatch.replay`. The rules engine records the writes
    of one rule firing once and replays them for every firing: Python then
    sends a handful of values per firing instead of every argument.
    """

    __slots__ = ("commands",)

    def __init__(self, commands: list[list[Any]]) -> None:
        self.commands = commands

    @classmethod
    def from_recording(cls, recorder: WriteBatch) -> CommandTemplate:
        """The commands of ``recorder``'s last group."""
        return cls(recorder.last_group())


#: Around a placeholder's number: C1 control characters, which JSON encoders leave as they are (unlike
#: U+0000-U+001F) and which no real key, id or JSON value here contains (recordings check it).
PLACEHOLDER_START, PLACEHOLDER_END = "\u0091", "\u0092"


def placeholder(n: int) -> str:
    """Where the ``n``-th value (1-based) of a replay goes in a recorded argument."""
    return f"{PLACEHOLDER_START}{n}{PLACEHOLDER_END}"


class WriteBatch:
    """Writes grouped under marker keys, plus tail writes that always apply."""

    def __init__(self) -> None:
        self._groups: list[list[Any]] = []
        self._tail: list[list[Any]] = []
        self._current: list[list[Any]] = self._tail
        self._templates: list[CommandTemplate] = []
        self._template_ids: dict[int, str] = {}
        #: (group number, 0 for the tail; execution id) of the jobs to queue once applied (:meth:`enqueue_after`).
        self._jobs: list[tuple[int, str]] = []

    def __len__(self) -> int:
        return sum(len(group[1]) for group in self._groups) + len(self._tail)

    def group(self, marker: str = "") -> None:
        """Start a group of writes, skipped when ``marker`` exists at apply time."""
        commands: list[list[Any]] = []
        self._groups.append([marker, commands])
        self._current = commands

    def tail(self) -> None:
        """Record the next writes outside any group (always applied)."""
        self._current = self._tail

    def enqueue_after(self, execution_id: str) -> None:
        """Queue the job of ``execution_id`` (written ``scheduled`` in this batch) once the batch is applied.

        Not part of the script: RQ writes its jobs itself. An execution whose job
        is lost between the two (the process died) stays ``scheduled`` and is
        enqueued again by :meth:`st2lite.scheduler.Scheduler.requeue_lost`.
        """
        self._jobs.append((0 if self._current is self._tail else len(self._groups), execution_id))

    def last_group(self) -> list[list[Any]]:
        return list(self._groups[-1][1]) if self._groups else []

    def replay(self, template: CommandTemplate, values: Sequence[str]) -> None:
        """Record ``template``'s writes with its placeholders replaced by ``values``."""
        tid = self._template_ids.get(id(template))
        if tid is None:
            self._templates.append(template)
            tid = self._template_ids[id(template)] = str(len(self._templates))
        self._current.append(["+TPL", tid, *values])

    # -- the pipeline methods the stores use --------------------------------------------------

    # Arguments are kept as given when they are str or bytes (both reach the script as strings);
    # numbers are turned into text here. This runs about a dozen times per execution created.

    def set(self, key: str, value: str | bytes, ex: int | None = None) -> None:
        if ex is None:
            self._current.append(["SET", key, value])
        else:
            self._current.append(["SET", key, value, "EX", str(ex)])

    def hset(self, key: str, mapping: Mapping[str, Any]) -> None:
        command: list[Any] = ["HSET", key]
        for field, value in mapping.items():
            command += [field, value if type(value) in (str, bytes) else _text(value)]
        self._current.append(command)

    def expire(self, key: str, seconds: int) -> None:
        self._current.append(["EXPIRE", key, str(seconds)])

    def zadd(self, key: str, mapping: Mapping[str, float | int | str]) -> None:
        for member, score in mapping.items():
            self.zadd_many([key], member, score)

    def zadd_many(self, keys: Sequence[str], member: str, score: float | int | str) -> None:
        """Add ``member`` to every sorted set in ``keys`` (deferred in the script: one ZADD per key per batch)."""
        self._current.append(["+ZADD", score if type(score) is str else _text(score), member, *keys])

    def xadd(self, key: str, fields: Mapping[str, Any], maxlen: int | None = None, approximate: bool = True) -> None:
        command: list[Any] = ["XADD", key]
        if maxlen is not None:
            command += ["MAXLEN", "~" if approximate else "=", str(maxlen)]
        command.append("*")
        for field, value in fields.items():
            command += [field, value]
        self._current.append(command)

    def rpush(self, key: str, *values: str | bytes) -> None:
        self._current.append(["RPUSH", key, *values])

    def zrem(self, key: str, *members: str) -> None:
        self._current.append(["ZREM", key, *members])

    def xack(self, stream: str, group: str, *ids: str) -> None:
        self._current.append(["XACK", stream, group, *ids])

    # -- applying -------------------------------------------------------------------------------

    def payload(self) -> list[str | bytes]:
        """The script's arguments (see ``apply_batch.lua`` for the layout)."""
        args: list[str | bytes] = [str(len(self._templates))]
        for template in self._templates:
            args.append(str(len(template.commands)))
            for command in template.commands:
                args.append(str(len(command)))
                args += command
        args.append(str(len(self._groups)))
        for marker, commands in self._groups:
            args += [marker, str(len(commands))]
            for command in commands:
                args.append(str(len(command)))
                args += command
        args.append(str(len(self._tail)))
        for command in self._tail:
            args.append(str(len(command)))
            args += command
        return args

    def apply(self, script: Script) -> list[str]:
        """Apply every write in one call; returns the executions whose jobs to queue now (see :meth:`jobs`)."""
        return self.jobs(script(args=self.payload()))

    def jobs(self, skipped: Sequence[int | str | bytes] = ()) -> list[str]:
        """The executions of :meth:`enqueue_after` in the groups applied (``skipped``: what the script returned)."""
        if not skipped:
            return [eid for _group, eid in self._jobs]
        gone = {int(g) for g in skipped}
        return [eid for group, eid in self._jobs if group not in gone]


def batch_script(client: Redis) -> Script:
    """The registered ``apply_batch.lua`` for ``client``."""
    return load_script(client, "apply_batch")


def add_to_indexes(pipe: Pipeline | WriteBatch, keys: Sequence[str], member: str, score: float | int | str) -> None:
    """Add ``member`` to several sorted sets, compactly when ``pipe`` is a :class:`WriteBatch`."""
    if isinstance(pipe, WriteBatch):
        pipe.zadd_many(keys, member, score)
    else:
        for key in keys:
            pipe.zadd(key, {member: score})


class BackgroundApplier:
    """Applies batches on a long-lived thread, so Redis runs one batch while the caller builds the next.

    At most one batch is in flight: :meth:`submit` waits for the previous one
    first, and re-raises its error, so a failed write stops the caller before
    it acknowledges anything else. :meth:`flush` waits for the last one.
    Batches with jobs to queue (:meth:`WriteBatch.enqueue_after`) are not
    taken: their caller queues the jobs once the batch is applied.
    """

    def __init__(self, script: Script) -> None:
        self._script = script
        self._pending: queue.Queue[WriteBatch] = queue.Queue(maxsize=1)
        self._idle = threading.Event()
        self._idle.set()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def submit(self, batch: WriteBatch) -> None:
        if batch.jobs():
            raise ValueError("a batch with jobs to queue must be applied by its caller (WriteBatch.apply)")
        self.flush()
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="apply-batch", daemon=True)
            self._thread.start()
        self._idle.clear()
        self._pending.put(batch)

    def _loop(self) -> None:
        while True:
            batch = self._pending.get()
            try:
                batch.apply(self._script)
            except BaseException as exc:  # handed to the caller by flush()
                self._error = exc
            finally:
                self._idle.set()

    def flush(self) -> None:
        """Wait for the batch in flight; raise its error, if any."""
        self._idle.wait()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
