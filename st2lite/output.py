"""Execution output: the stdout and stderr lines of running actions, stored in Redis as they come.

A worker gives its runner an :class:`OutputRecorder` as ``on_output``. The
recorder keeps the lines the runner's reader threads hand it and, from its own
thread, writes them in batches (one round trip per ``output_flush_interval``,
however chatty the action) to two streams:

- ``st2lite:output:<id>`` (:func:`st2lite.keys.execution_output`): the
  execution's own lines, ``GET /api/v1/executions/{id}/output`` and
  ``GET /stream/v1/executions/{id}/output`` read it; it expires
  ``execution_ttl`` seconds after its last line, as the execution does;
- ``st2lite:output-events`` (:data:`st2lite.keys.OUTPUT_EVENTS`): every
  execution's lines, trimmed, for the live readers of ``GET /stream/v1/stream``.

Each execution stores at most ``output_max_bytes`` bytes and
``output_max_lines`` lines; past that one truncation line (:func:`truncation_notice`)
ends its stored output. The result (``result.stdout``/``stderr``) is not
affected: it keeps everything, as before. Writing output is best effort: a
Redis error loses that batch (logged), never the execution.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from st2lite import keys
from st2lite.audit import now_iso
from st2lite.config import Settings
from st2lite.exceptions import StreamError
from st2lite.redisdb import RECOVERABLE, Redis

__all__ = [
    "OUTPUT_TYPES",
    "OutputBudget",
    "OutputLine",
    "OutputRecorder",
    "OutputStore",
    "check_output_type",
    "output_text",
    "truncation_notice",
]

log = logging.getLogger(__name__)

#: The output types st2lite stores (StackStorm's ``output_type``).
OUTPUT_TYPES = ("stdout", "stderr")
#: A batch is written at once when it holds this many lines, without waiting for the flush interval.
_BATCH_LINES = 1_000


@dataclass(frozen=True, slots=True)
class OutputLine:
    """One stored line: ``id`` is its stream entry id (empty before it is written)."""

    output_type: str
    data: str
    timestamp: str
    id: str = ""

    def public(self, execution_id: str, action_ref: str | None = None) -> dict[str, Any]:
        """The ``st2.execution.output__create`` event data (StackStorm's output object)."""
        out: dict[str, Any] = {
            "id": self.id,
            "execution_id": execution_id,
            "output_type": self.output_type,
            "data": self.data,
            "timestamp": _utc_z(self.timestamp),
        }
        if action_ref:
            out["action_ref"] = action_ref
        return out

    @classmethod
    def from_entry(cls, entry_id: str, fields: dict[str, str]) -> OutputLine:
        """The line stored in a stream entry (either stream: both have ``t``, ``d``, ``ts``)."""
        return cls(
            output_type=fields.get("t", "stdout"), data=fields.get("d", ""), timestamp=fields.get("ts", ""), id=entry_id
        )


def check_output_type(value: str | None) -> str | None:
    """``value`` when it is ``None`` or an output type st2lite stores.

    Raises:
        StreamError: Any other value (HTTP 400).
    """
    if value is None or value in OUTPUT_TYPES:
        return value
    raise StreamError(f"output_type must be one of {', '.join(OUTPUT_TYPES)}, not {value!r}; leave it out for both")


def output_text(lines: Sequence[OutputLine], output_type: str | None = None) -> str:
    """The data of ``lines`` (of ``output_type`` only, when given) joined in order."""
    return "".join(line.data for line in lines if output_type is None or line.output_type == output_type)


def truncation_notice(max_bytes: int, max_lines: int) -> str:
    """The line that ends an execution's stored output once it reached its limits."""
    return (
        f"[st2lite: output truncated: more than {max_bytes} bytes or {max_lines} lines; "
        "the execution's result holds the complete stdout and stderr]\n"
    )


class OutputBudget:
    """How much one execution may still store; pure (no I/O, no locking)."""

    def __init__(self, max_bytes: int, max_lines: int) -> None:
        self._max_bytes = max_bytes
        self._max_lines = max_lines
        self._bytes = 0
        self._lines = 0
        self.exhausted = False

    def take(self, output_type: str, data: str) -> list[tuple[str, str]]:
        """The ``(output_type, data)`` pairs to store for one line: the line, or its part that fits followed by
        the truncation notice (once), or nothing after that."""
        if self.exhausted:
            return []
        size = len(data.encode("utf-8", errors="replace"))
        if self._lines + 1 <= self._max_lines and self._bytes + size <= self._max_bytes:
            self._lines += 1
            self._bytes += size
            return [(output_type, data)]
        self.exhausted = True
        room = self._max_bytes - self._bytes
        out = []
        if room > 0 and self._lines + 1 < self._max_lines:
            part = data.encode("utf-8", errors="replace")[:room].decode("utf-8", errors="ignore")
            if part:
                out.append((output_type, part if part.endswith("\n") else part + "\n"))
        out.append((output_type, truncation_notice(self._max_bytes, self._max_lines)))
        return out


class OutputRecorder:
    """Collects one execution's output lines (an ``OutputCallback``) and writes them in batches.

    Call it with ``(output_type, line)`` from any thread; :meth:`close` writes
    what is left and stops the writer thread (started on the first line, so
    actions that print nothing cost nothing). The worker closes it before it
    records the execution's end, so a reader that sees the end has seen every line.
    """

    def __init__(
        self,
        client: Redis,
        *,
        execution_id: str,
        action_ref: str,
        ttl: int,
        flush_interval: float,
        max_bytes: int,
        max_lines: int,
        events_maxlen: int,
    ) -> None:
        self._client = client
        self._execution_id = execution_id
        self._action_ref = action_ref
        self._key = keys.execution_output(execution_id)
        self._ttl = ttl
        self._interval = flush_interval
        self._events_maxlen = events_maxlen
        self._budget = OutputBudget(max_bytes, max_lines)
        self._pending: list[OutputLine] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._flush_lock = threading.Lock()

    @classmethod
    def for_settings(cls, client: Redis, settings: Settings, *, execution_id: str, action_ref: str) -> OutputRecorder:
        return cls(
            client,
            execution_id=execution_id,
            action_ref=action_ref,
            ttl=settings.execution_ttl,
            flush_interval=settings.output_flush_interval,
            max_bytes=settings.output_max_bytes,
            max_lines=settings.output_max_lines,
            events_maxlen=settings.output_events_maxlen,
        )

    def __call__(self, output_type: str, line: str) -> None:
        timestamp = now_iso()
        with self._cond:
            if self._closed:
                return
            for kind, data in self._budget.take(output_type, line):
                self._pending.append(OutputLine(kind, data, timestamp))
            if not self._pending:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"output-{self._execution_id}", daemon=True)
                self._thread.start()
            self._cond.notify()

    def close(self) -> None:
        """Write the lines not written yet and stop the writer thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join()
        self._flush()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return  # close() writes the rest
                # Gather lines for one interval (a chatty action costs one round trip per interval).
                self._cond.wait_for(lambda: self._closed or len(self._pending) >= _BATCH_LINES, self._interval)
                stopping = self._stopping()
            if stopping:
                return
            self._flush()

    def _stopping(self) -> bool:
        return self._closed

    def _flush(self) -> None:
        with self._flush_lock:
            with self._cond:
                batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                with self._client.pipeline(transaction=False) as pipe:
                    for line in batch:
                        fields = {"t": line.output_type, "d": line.data, "ts": line.timestamp}
                        pipe.xadd(self._key, fields)
                        pipe.xadd(
                            keys.OUTPUT_EVENTS,
                            {"x": self._execution_id, "a": self._action_ref, **fields},
                            maxlen=self._events_maxlen,
                            approximate=True,
                        )
                    pipe.expire(self._key, self._ttl)
                    pipe.execute()
            except RECOVERABLE as exc:
                log.warning(
                    "output of execution %s: %d line(s) not stored: %s (the result keeps them)",
                    self._execution_id,
                    len(batch),
                    exc,
                )


class OutputStore:
    """Reads the stored output of executions (the API's ``/output``)."""

    #: Entries read per ``XRANGE``.
    PAGE = 5_000

    def __init__(self, client: Redis) -> None:
        self._client = client

    def lines(self, execution_id: str, *, after: str = "-") -> Iterator[OutputLine]:
        """The stored lines of ``execution_id`` after the entry id ``after`` (``-``: all), in order, paged."""
        key = keys.execution_output(execution_id)
        cursor = after if after == "-" else f"({after}"
        while True:
            batch = self._client.xrange(key, cursor, "+", count=self.PAGE)
            for entry_id, fields in batch:
                yield OutputLine.from_entry(entry_id, fields)
            if len(batch) < self.PAGE:
                return
            cursor = f"({batch[-1][0]}"


def _utc_z(timestamp: str) -> str:
    return timestamp[:-6] + "Z" if timestamp.endswith("+00:00") else timestamp
