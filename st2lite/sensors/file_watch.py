"""The built-in file sensor (``core.FileWatchSensor``): folder events and appended lines, with watchdog.

It serves two trigger types, one watch per trigger that rules ask for
(``add_trigger``/``remove_trigger``):

* ``core.st2.file_watch`` - files created, modified, moved or deleted in a
  folder (``path``), filtered by ``glob`` and ``events``, debounced by
  :class:`st2lite.sensors.debounce.Debouncer` so one write is one event;
* ``core.st2.file_watch.line`` - each complete line appended to a file
  (``file_path``), followed by name through truncation and rotation by
  :class:`st2lite.sensors.tail.LineTail`.

Folder events come from one watchdog observer (inotify on Linux) shared by
every trigger; triggers on the same folder share one watch. ``run`` ticks
every :attr:`FileWatchSensor.tick` seconds: it releases settled events,
reads the followed files, and checks each watched folder's identity, so a
folder that does not exist yet is watched as soon as it appears (the files
already in it are reported as ``created``) and a folder deleted and made
again is watched again. Invalid trigger parameters are reported with
``sensor_service.report_error`` and that trigger is skipped; the others keep
working.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import ObservedWatch

from st2lite.sensors.base import Sensor
from st2lite.sensors.debounce import EVENT_KINDS, Debouncer, EventKind, Settled
from st2lite.sensors.parameters import describe_invalid
from st2lite.sensors.tail import LineTail

__all__ = ["FILE_WATCH_TRIGGER", "LINE_WATCH_TRIGGER", "FileWatchSensor", "FolderWatchParameters", "LineParameters"]

FILE_WATCH_TRIGGER: Final = "core.st2.file_watch"
LINE_WATCH_TRIGGER: Final = "core.st2.file_watch.line"

#: Seconds without a new event on a file before its event is emitted, unless the trigger sets ``quiet_period``.
DEFAULT_QUIET_PERIOD: Final = 0.5


def _absolute(value: str, name: str) -> str:
    if not value:
        raise ValueError(f"{name} must not be empty")
    if not os.path.isabs(value):
        raise ValueError(f"{name} must be an absolute path, got '{value}'")
    return os.path.normpath(value)


class FolderWatchParameters(BaseModel):
    """The parameters of a ``core.st2.file_watch`` trigger (the trigger type's schema says the same)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The folder to watch (absolute); it may not exist yet.
    path: str
    #: Which file names to report (``fnmatch`` style, matched against the name, not the path).
    glob: str = "*"
    #: Which events to report.
    events: tuple[EventKind, ...] = EVENT_KINDS
    #: Also watch the folder's sub-folders.
    recursive: bool = False
    #: Seconds a file must be quiet before its event is emitted.
    quiet_period: float = Field(default=DEFAULT_QUIET_PERIOD, ge=0, le=60)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _absolute(value, "path")

    @field_validator("glob")
    @classmethod
    def _glob(cls, value: str) -> str:
        if not value:
            raise ValueError("glob must not be empty; use '*' for every file")
        if "/" in value or os.sep in value:
            raise ValueError(
                f"glob '{value}' matches file names, not paths; put the folder in 'path' "
                "(and set 'recursive: true' for its sub-folders)"
            )
        return value

    @field_validator("events")
    @classmethod
    def _events(cls, value: tuple[EventKind, ...]) -> tuple[EventKind, ...]:
        if not value:
            raise ValueError(f"events must name at least one of {', '.join(EVENT_KINDS)}")
        return tuple(dict.fromkeys(value))

    def matches(self, path: str) -> bool:
        return fnmatch.fnmatchcase(os.path.basename(path), self.glob)


class LineParameters(BaseModel):
    """The parameters of a ``core.st2.file_watch.line`` trigger."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The file to follow (absolute); it may not exist yet.
    file_path: str
    #: Emit the lines already in the file when the trigger starts (default: only lines appended from then on).
    from_start: bool = False

    @field_validator("file_path")
    @classmethod
    def _file_path(cls, value: str) -> str:
        return _absolute(value, "file_path")


@dataclass
class _FolderTrigger:
    trigger: dict[str, Any]
    params: FolderWatchParameters
    debouncer: Debouncer


@dataclass
class _LineTrigger:
    trigger: dict[str, Any]
    params: LineParameters
    tail: LineTail


@dataclass
class _Folder:
    """One watched folder (path + recursive), shared by the triggers on it."""

    path: Path
    recursive: bool
    triggers: set[str] = field(default_factory=set)
    identity: tuple[int, int] | None = None
    watch: ObservedWatch | None = None
    problem: str = ""


@dataclass(frozen=True)
class _Raw:
    """One raw event from the observer, queued for the next tick."""

    key: tuple[str, bool]
    kind: EventKind
    src: str
    dest: str | None
    is_directory: bool
    at: float


class _Relay(FileSystemEventHandler):
    """Hands the observer's events for one folder to the sensor."""

    def __init__(self, key: tuple[str, bool], sink: Callable[[tuple[str, bool], FileSystemEvent], None]) -> None:
        self._key = key
        self._sink = sink

    def on_any_event(self, event: FileSystemEvent) -> None:
        self._sink(self._key, event)


Dispatch = tuple[dict[str, Any], dict[str, Any]]


class FileWatchSensor(Sensor):
    """Emits ``core.st2.file_watch`` and ``core.st2.file_watch.line`` trigger instances (see the module doc)."""

    #: Seconds between two ticks of :meth:`run` (settled events, appended lines, folder checks).
    tick: float = 0.1

    def __init__(self, sensor_service: Any, config: dict[str, Any] | None = None) -> None:
        super().__init__(sensor_service=sensor_service, config=config)
        self._lock = threading.RLock()
        self._observer = Observer()
        self._folders: dict[tuple[str, bool], _Folder] = {}
        self._folder_triggers: dict[str, _FolderTrigger] = {}
        self._line_triggers: dict[str, _LineTrigger] = {}
        self._raw: queue.SimpleQueue[_Raw] = queue.SimpleQueue()

    # -- the Sensor API ---------------------------------------------------------------------------

    def setup(self) -> None:
        """Nothing to prepare: watches start as triggers are added."""

    def run(self) -> None:
        """Tick until :meth:`stop`."""
        while not self._stopped.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # e.g. Redis unreachable while dispatching: report, keep the watches
                self.sensor_service.report_error(f"tick raised {type(exc).__name__}: {exc}", exc)
            self._stopped.wait(self.tick)

    def cleanup(self) -> None:
        """Stop the observer and close the followed files."""
        with self._lock:
            for line_trigger in self._line_triggers.values():
                line_trigger.tail.close()
            self._line_triggers.clear()
            self._folder_triggers.clear()
            self._folders.clear()
        if self._observer.is_alive():
            self._observer.stop()
            self._observer.join(timeout=5)

    def add_trigger(self, trigger: dict[str, Any]) -> None:
        """Start watching for ``trigger`` (a bad one is reported and skipped)."""
        kind = trigger.get("type")
        parameters = trigger.get("parameters") or {}
        try:
            if kind == FILE_WATCH_TRIGGER:
                self._add_folder_trigger(trigger, FolderWatchParameters.model_validate(parameters))
            elif kind == LINE_WATCH_TRIGGER:
                self._add_line_trigger(trigger, LineParameters.model_validate(parameters))
            else:
                self._report(trigger, f"this sensor emits {FILE_WATCH_TRIGGER} and {LINE_WATCH_TRIGGER}, not '{kind}'")
        except ValidationError as exc:
            self._report(trigger, describe_invalid(exc), exc)

    def update_trigger(self, trigger: dict[str, Any]) -> None:
        """Same id, same parameters: keep the watch, use the new trigger dict."""
        with self._lock:
            ident = str(trigger.get("id"))
            if ident in self._folder_triggers:
                self._folder_triggers[ident].trigger = trigger
                return
            if ident in self._line_triggers:
                self._line_triggers[ident].trigger = trigger
                return
        self.add_trigger(trigger)

    def remove_trigger(self, trigger: dict[str, Any]) -> None:
        """Stop watching for ``trigger``; events still pending for it are dropped."""
        ident = str(trigger.get("id"))
        with self._lock:
            line_trigger = self._line_triggers.pop(ident, None)
            if line_trigger is not None:
                line_trigger.tail.close()
            folder_trigger = self._folder_triggers.pop(ident, None)
            if folder_trigger is None:
                return
            key = _folder_key(folder_trigger.params)
            folder = self._folders[key]
            folder.triggers.discard(ident)
            if not folder.triggers:
                self._unschedule(folder)
                del self._folders[key]

    # -- ticking ----------------------------------------------------------------------------------

    def poll_once(self) -> None:
        """One tick: check the folders, then emit settled events and appended lines."""
        with self._lock:
            for folder in list(self._folders.values()):
                self._refresh(folder, announce=True)
            self._drain_raw()
            now = time.monotonic()
            out: list[Dispatch] = []
            for folder_trigger in self._folder_triggers.values():
                out += [
                    (folder_trigger.trigger, _folder_payload(folder_trigger.params, settled))
                    for settled in folder_trigger.debouncer.due(now)
                    if settled.kind in folder_trigger.params.events
                ]
            for line_trigger in self._line_triggers.values():
                lines = self._read(line_trigger)
                out += [(line_trigger.trigger, _line_payload(line_trigger.params, line)) for line in lines]
        for trigger, payload in out:  # outside the lock: publishing is I/O
            self.sensor_service.dispatch(trigger, payload)

    def _read(self, line_trigger: _LineTrigger) -> list[str]:
        try:
            return line_trigger.tail.read()
        except OSError as exc:
            self._report(line_trigger.trigger, f"cannot read '{line_trigger.params.file_path}': {exc}", exc)
            return []

    # -- folders ----------------------------------------------------------------------------------

    def _add_folder_trigger(self, trigger: dict[str, Any], params: FolderWatchParameters) -> None:
        ident = str(trigger.get("id"))
        with self._lock:
            if ident in self._folder_triggers:
                return
            key = _folder_key(params)
            folder = self._folders.get(key)
            self._folder_triggers[ident] = _FolderTrigger(trigger, params, Debouncer(params.quiet_period))
            if folder is None:
                folder = self._folders[key] = _Folder(path=Path(params.path), recursive=params.recursive)
            folder.triggers.add(ident)
            self._refresh(folder, announce=False)

    def _add_line_trigger(self, trigger: dict[str, Any], params: LineParameters) -> None:
        ident = str(trigger.get("id"))
        with self._lock:
            if ident not in self._line_triggers:
                tail = LineTail(Path(params.file_path), from_start=params.from_start)
                self._line_triggers[ident] = _LineTrigger(trigger, params, tail)

    def _refresh(self, folder: _Folder, *, announce: bool) -> None:
        """Watch ``folder`` if it appeared or was made again; stop watching it if it went away.

        With ``announce``, the files found in a folder that just appeared are reported as created
        (they arrived with it, before the watch could see them).
        """
        identity = _folder_identity(folder.path)
        if identity is None:
            if folder.path.exists():
                self._folder_problem(folder, f"'{folder.path}' is not a folder; watch its folder, with a glob")
            else:
                folder.problem = ""  # not there (yet): waited for, not a problem
        if identity == folder.identity and (identity is None or folder.watch is not None):
            return
        self._unschedule(folder)
        folder.identity = identity
        if identity is None:
            return
        try:
            if not self._observer.is_alive():
                self._observer.start()
            relay = _Relay((str(folder.path), folder.recursive), self._on_event)
            folder.watch = self._observer.schedule(relay, str(folder.path), recursive=folder.recursive)
        except OSError as exc:
            self._folder_problem(folder, f"cannot watch '{folder.path}': {exc}", exc)
            folder.identity = None
            return
        folder.problem = ""
        if announce:
            self._announce(folder)

    def _unschedule(self, folder: _Folder) -> None:
        if folder.watch is None:
            return
        with contextlib.suppress(KeyError):  # the emitter ended itself when the folder was deleted
            self._observer.unschedule(folder.watch)
        folder.watch = None

    def _announce(self, folder: _Folder) -> None:
        entries = folder.path.rglob("*") if folder.recursive else folder.path.iterdir()
        now = time.monotonic()
        try:
            found = [(str(entry), entry.is_dir()) for entry in entries]
        except OSError:
            return
        for ident in folder.triggers:
            folder_trigger = self._folder_triggers[ident]
            for path, is_dir in found:
                if folder_trigger.params.matches(path):
                    folder_trigger.debouncer.add("created", path, now, is_directory=is_dir)

    def _folder_problem(self, folder: _Folder, message: str, exc: BaseException | None = None) -> None:
        if message == folder.problem:
            return  # said once, not every tick
        folder.problem = message
        for ident in folder.triggers:
            self._report(self._folder_triggers[ident].trigger, message, exc)

    def _on_event(self, key: tuple[str, bool], event: FileSystemEvent) -> None:
        """Called on the observer's thread for each raw event in a watched folder.

        It only queues the event: watchdog holds its own lock while calling handlers, and
        :meth:`poll_once` holds ours while (un)scheduling watches, so taking ours here could deadlock.
        """
        kind = event.event_type
        if kind not in EVENT_KINDS or (event.is_directory and kind == "modified"):
            return  # opened/closed, and a folder "modified" because its entries changed
        src = os.fsdecode(event.src_path)
        dest = os.fsdecode(event.dest_path) if kind == "moved" and event.dest_path else None
        self._raw.put(_Raw(key, kind, src, dest, event.is_directory, time.monotonic()))

    def _drain_raw(self) -> None:
        """Hand the queued raw events to the debouncers of the triggers on their folder (lock held)."""
        while True:
            try:
                raw = self._raw.get_nowait()
            except queue.Empty:
                return
            folder = self._folders.get(raw.key)
            if folder is None or raw.src == str(folder.path):
                continue
            for ident in folder.triggers:
                folder_trigger = self._folder_triggers[ident]
                params = folder_trigger.params
                if params.matches(raw.src) or (raw.dest is not None and params.matches(raw.dest)):
                    folder_trigger.debouncer.add(
                        raw.kind, raw.src, raw.at, dest_path=raw.dest, is_directory=raw.is_directory
                    )

    # -- errors -----------------------------------------------------------------------------------

    def _report(self, trigger: dict[str, Any], problem: str, exc: BaseException | None = None) -> None:
        ref = trigger.get("ref") or trigger.get("type") or "?"
        self.sensor_service.report_error(f"trigger '{ref}' ({trigger.get('type')}): {problem}", exc)


def _folder_key(params: FolderWatchParameters) -> tuple[str, bool]:
    return (params.path, params.recursive)


def _folder_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the folder at ``path``, or ``None`` when there is no folder there."""
    try:
        stat = path.stat()
    except OSError:
        return None
    if not os.path.isdir(path):
        return None
    return (stat.st_dev, stat.st_ino)


def _size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _folder_payload(params: FolderWatchParameters, settled: Settled) -> dict[str, Any]:
    current = settled.dest_path if settled.kind == "moved" else settled.path
    return {
        "event": settled.kind,
        "path": settled.path,
        "file_name": os.path.basename(settled.path),
        "folder": os.path.dirname(settled.path),
        "dest_path": settled.dest_path,
        "is_directory": settled.is_directory,
        "size": None if settled.kind == "deleted" or current is None or settled.is_directory else _size(current),
        "watch_path": params.path,
    }


def _line_payload(params: LineParameters, line: str) -> dict[str, Any]:
    return {"file_path": params.file_path, "file_name": os.path.basename(params.file_path), "line": line}
