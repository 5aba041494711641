"""The worker: an RQ worker whose job runs one execution through its runner.

RQ calls :func:`run_job` with the execution id. The worker moves the
execution ``scheduled -> running`` (atomically, so a job delivered twice runs
once), holds a heartbeat lease while the runner works, then writes the
result and the final status and emits ``core.st2.generic.actiontrigger`` (and
the execution's own ``notify`` triggers, see :mod:`st2lite.execution_notify``) in
the same step. A worker that dies stops renewing its leases; the
:class:`Reaper` (run by every worker and rules engine) marks such
executions ``abandoned`` once their lease ends.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from st2lite import keys
from st2lite.action_triggers import action_trigger, ending_triggers
from st2lite.audit import now_iso
from st2lite.cancel import CANCELED_MESSAGE
from st2lite.config import Settings
from st2lite.exceptions import ExecutionNotFoundError, InvalidTransitionError, St2liteError
from st2lite.executions import Execution, ExecutionStore
from st2lite.jobqueue import run_worker
from st2lite.output import OutputRecorder
from st2lite.processes import tune_service_process
from st2lite.redisdb import RECOVERABLE, Redis, connect
from st2lite.registry import RegistryCache, RegistryStore
from st2lite.runners import get_runner
from st2lite.runners.base import RunContext, RunResult, cancel_running
from st2lite.runners.chain import CHAIN_RUNNER
from st2lite.statuses import ExecutionStatus
from st2lite.triggers import INQUIRY_TRIGGER
from st2lite.wait_store import WaitStore
from st2lite.waits import WaitKind

if TYPE_CHECKING:
    from st2lite.chains.conductor import ChainConductor
    from st2lite.content import PackMeta
    from st2lite.encryption import DatastoreKey

__all__ = ["Reaper", "WorkerRuntime", "action_trigger", "run_job", "serve"]

log = logging.getLogger(__name__)


@dataclass
class WorkerRuntime:
    """What :func:`run_job` needs; built once per worker process by :func:`serve`."""

    settings: Settings
    redis_url: str
    client: Redis
    executions: ExecutionStore
    registry: RegistryCache
    name: str
    #: The execution this worker runs now (its lease is renewed by :func:`heartbeat`).
    current: str | None = None
    #: The execution whose cancel this worker carried out (it ends ``canceled``).
    canceled: str | None = None
    #: Built on the first chain this worker starts (it needs the templating stack, which workers load lazily).
    _conductor: ChainConductor | None = None
    _waits: WaitStore | None = None
    #: The datastore key, read when a pack config first needs a secret decrypted.
    _key: DatastoreKey | None = None

    def waits(self) -> WaitStore:
        if self._waits is None:
            self._waits = WaitStore(self.client, self.executions, actor=f"worker:{self.name}")
        return self._waits

    def pack_config(self, pack: PackMeta | None) -> dict[str, Any]:
        """``self.config`` of the actions of ``pack`` (datastore templates rendered, secrets decrypted)."""
        if pack is None or not (pack.config or pack.config_schema):
            return {}  # most packs: nothing to import or read
        from st2lite.encryption import DatastoreKey
        from st2lite.pack_configs import stored_pack_config

        if self._key is None:
            self._key = DatastoreKey(self.settings.datastore_key_path)  # reads the key file once per worker
        return stored_pack_config(pack, self.client, self._key)

    def conductor(self) -> ChainConductor:
        if self._conductor is None:
            from st2lite.chains.conductor import ChainConductor

            self._conductor = ChainConductor(self.settings, self.client, name=f"worker:{self.name}")
        return self._conductor


#: Set by :func:`serve` in the worker process. RQ calls jobs by dotted path, so the
#: job function finds its process's runtime here; nothing else reads it.
_runtime: WorkerRuntime | None = None


def build_runtime(settings: Settings, redis_url: str, *, name: str) -> WorkerRuntime:
    client = connect(redis_url)
    return WorkerRuntime(
        settings=settings,
        redis_url=redis_url,
        client=client,
        executions=ExecutionStore.for_settings(client, settings, actor=f"worker:{name}"),
        registry=RegistryCache(RegistryStore(client)),
        name=name,
    )


def serve(settings: Settings, redis_url: str, *, name: str | None = None, burst: bool = False) -> None:
    """Run a worker until SIGINT/SIGTERM (which let the current execution finish)."""
    global _runtime
    name = name or f"{socket.gethostname()}:{os.getpid()}"
    _runtime = build_runtime(settings, redis_url, name=name)
    reaper = Reaper(_runtime.executions, settings, _runtime.waits())
    stop = threading.Event()
    threading.Thread(target=reaper.run, args=(stop,), name="reaper", daemon=True).start()
    threading.Thread(target=heartbeat, args=(_runtime, stop), name="heartbeat", daemon=True).start()
    threading.Thread(target=listen_for_cancels, args=(_runtime, stop), name="cancels", daemon=True).start()
    tune_service_process()
    try:
        run_worker(redis_url, name=name, burst=burst)
    finally:
        stop.set()


def run_job(execution_id: str) -> None:
    """The RQ job: run one execution (called by RQ in the worker process)."""
    if _runtime is None:
        raise RuntimeError("run_job called outside a worker started by st2lite.worker.serve")
    run_execution(_runtime, execution_id)


def run_execution(rt: WorkerRuntime, execution_id: str) -> None:
    """Run ``execution_id`` to completion, unless it is no longer ``scheduled``."""
    try:
        execution, secrets = rt.executions.claim(
            execution_id, worker=rt.name, lease_until=time.time() + rt.settings.abandon_after
        )
    except (InvalidTransitionError, ExecutionNotFoundError) as exc:
        log.info("Worker %s: not running execution %s: %s", rt.name, execution_id, exc)
        return
    rt.current = execution_id  # the heartbeat renews its lease from now on
    if execution.runner == CHAIN_RUNNER:
        _start_chain(rt, execution, secrets)
        return
    try:
        outcome = _run(rt, execution, secrets)
    finally:
        rt.current = None
    _finish(rt, execution, outcome)


def _start_chain(rt: WorkerRuntime, execution: Execution, secrets: dict[str, Any]) -> None:
    """Hand a chain to the conductor: it creates the first task; no worker waits for the chain."""
    try:
        rt.conductor().start(execution, secrets)
    except Exception:  # its lease runs out and the reaper marks it abandoned
        log.exception("Worker %s: chain %s could not start", rt.name, execution.id)
        return
    finally:
        rt.current = None
    rt.executions.drop_lease(execution.id)  # its tasks hold leases; the chain itself waits in Redis


def heartbeat(rt: WorkerRuntime, stop: threading.Event) -> None:
    """Renew the lease of the execution this worker runs, until ``stop`` (one thread per worker)."""
    period = rt.settings.abandon_after / 3
    while not stop.wait(period):
        execution_id = rt.current
        if execution_id is None:
            continue
        try:
            rt.executions.renew_lease(execution_id, time.time() + rt.settings.abandon_after)
            if rt.executions.status(execution_id) is ExecutionStatus.CANCELING:
                _carry_out_cancel(rt, execution_id)  # its cancel message was missed
        except RECOVERABLE as exc:  # keep trying: a Redis blip must not lose the lease
            log.warning("Worker %s: could not renew the lease of %s: %s", rt.name, execution_id, exc)


def listen_for_cancels(rt: WorkerRuntime, stop: threading.Event) -> None:
    """Kill the running action when its execution is canceled (ids published on ``st2lite:cancel``)."""
    while not stop.is_set():
        try:
            with rt.client.pubsub(ignore_subscribe_messages=True) as channel:
                channel.subscribe(keys.CANCEL_CHANNEL)
                while not stop.is_set():
                    message = channel.get_message(timeout=1.0)
                    if message is not None and message.get("data") == rt.current:
                        _carry_out_cancel(rt, str(message["data"]))
        except RECOVERABLE as exc:  # resubscribe after an outage; the heartbeat covers what was missed
            log.warning("Worker %s: cancel channel lost: %s; resubscribing", rt.name, exc)
            stop.wait(1.0)


def _carry_out_cancel(rt: WorkerRuntime, execution_id: str) -> None:
    if rt.current != execution_id or rt.canceled == execution_id:
        return
    rt.canceled = execution_id
    killed = cancel_running()
    log.info("Worker %s: execution %s canceled; killed %d process group(s)", rt.name, execution_id, killed)


def _run(rt: WorkerRuntime, execution: Execution, secrets: dict[str, Any]) -> RunResult:
    try:
        snapshot = rt.registry.current()
        action = snapshot.content.action(execution.action)
        runner = get_runner(action.runner_type)
        values = {**execution.parameters, **secrets}
        runner_names = set(runner.parameters)
        ctx = RunContext(
            execution_id=execution.id,
            action_ref=action.full_ref,
            pack=action.pack,
            pack_path=action.pack_path,
            entry_point=action.entry_point,
            parameters={k: v for k, v in values.items() if k not in runner_names},
            runner_parameters={k: v for k, v in values.items() if k in runner_names},
            action_parameter_specs=dict(snapshot.parameter_specs(action)),
            config=rt.pack_config(snapshot.content.packs.get(action.pack)),
            env={"ST2LITE_REDIS_URL": rt.redis_url, "ST2LITE_DATASTORE_KEY_FILE": str(rt.settings.datastore_key_path)},
            api_url=rt.settings.resolved_api_url,
            user=str(execution.context.get("user") or ""),
        )
        if not rt.settings.output_streaming:
            return runner.run(ctx)
        recorder = OutputRecorder.for_settings(
            rt.client, rt.settings, execution_id=execution.id, action_ref=execution.action
        )
        try:
            return runner.run(ctx, on_output=recorder)
        finally:
            recorder.close()  # every line is stored before the end is recorded
    except St2liteError as exc:
        log.warning("Worker %s: execution %s could not start: %s", rt.name, execution.id, exc)
        return RunResult(status=ExecutionStatus.FAILED, result={"error": str(exc)}, error=str(exc))
    except Exception as exc:  # a runner bug must still end the execution
        log.exception("Worker %s: runner crashed on execution %s", rt.name, execution.id)
        return RunResult(status=ExecutionStatus.FAILED, result={"error": f"{type(exc).__name__}: {exc}"})


def _finish(rt: WorkerRuntime, execution: Execution, outcome: RunResult) -> None:
    end = now_iso()
    if rt.canceled == execution.id:
        rt.canceled = None
        before = outcome.result if isinstance(outcome.result, dict) else {"result": outcome.result}
        outcome = RunResult(status=ExecutionStatus.CANCELED, result={**before, "message": CANCELED_MESSAGE})
    if outcome.status is ExecutionStatus.PENDING and outcome.wait is not None:
        _park(rt, execution, outcome)
        return
    emit = ending_triggers(rt.settings, rt.registry.current(), execution, outcome.status, outcome.result, end)
    try:
        rt.executions.transition(
            execution.id,
            outcome.status,
            fields={"result": outcome.result, "end": end},
            allowed_from=[ExecutionStatus.RUNNING, ExecutionStatus.CANCELING],
            emit=emit,
            retry_at=_retry_at(rt, execution, outcome.status),
        )
    except InvalidTransitionError as exc:
        # The reaper gave up on us (lease lost) or it was canceled: the record already says so.
        log.warning("Worker %s: result of %s not recorded: %s", rt.name, execution.id, exc)


def _retry_at(rt: WorkerRuntime, execution: Execution, status: ExecutionStatus) -> float | None:
    """When to retry ``execution`` ending ``status`` under its action's ``action.retry`` policy, if at all."""
    policies = rt.registry.current().policies_for(execution.action)
    delay = policies.retry_after(status, execution.context, top_level=execution.parent is None)
    return None if delay is None else time.time() + delay


def _park(rt: WorkerRuntime, execution: Execution, outcome: RunResult) -> None:
    """A runner waits for someone outside: ``pending`` without a lease, then its notify command, if any."""
    from st2lite.inquiries import inquiry_trigger
    from st2lite.runners.callback import run_notify

    assert outcome.wait is not None
    emit = None
    if outcome.wait.kind is WaitKind.INQUIRY and INQUIRY_TRIGGER in rt.registry.current().rule_trigger_types:
        emit = inquiry_trigger(execution.id, outcome.result)
    if not rt.waits().enter(execution, outcome.result, outcome.wait, emit=emit):
        # Canceled while its runner ran: end it so (a refused move is logged by _finish).
        log.info("Worker %s: %s was no longer running; not left waiting", rt.name, execution.id)
        _finish(rt, execution, RunResult(status=ExecutionStatus.CANCELED, result={"message": CANCELED_MESSAGE}))
        return
    if outcome.wait.notify is None:
        return
    failure = run_notify(outcome.wait.notify)
    if failure is None:
        return
    result = {**(outcome.result if isinstance(outcome.result, dict) else {}), **failure}
    try:
        rt.waits().finish(execution.id, ExecutionStatus.FAILED, result, message=str(failure.get("error")))
    except InvalidTransitionError as exc:  # answered before its notify command ended
        log.info("Worker %s: notify command of %s failed after it ended: %s", rt.name, execution.id, exc)


class Reaper:
    """Marks executions whose worker stopped renewing their lease as ``abandoned``; times out waits.

    With ``waits``, each pass also moves the ``pending`` executions whose
    deadline passed (inquiry ttl, callback timeout or missed heartbeat) to ``timeout``.
    """

    def __init__(self, executions: ExecutionStore, settings: Settings, waits: WaitStore | None = None) -> None:
        self._executions = executions
        self._settings = settings
        self._waits = waits

    def run(self, stop: threading.Event) -> None:
        period = max(0.5, self._settings.abandon_after / 4)
        while not stop.wait(period):
            try:
                self.reap()
                self.sweep_waits()
            except RECOVERABLE as exc:  # the thread must outlive a Redis outage
                log.warning("Reaper: %s; retrying in %.1fs", exc, period)

    def sweep_waits(self, now: float | None = None) -> list[str]:
        """Time out the waits whose deadline passed (none without ``waits``); returns their ids."""
        if self._waits is None:
            return []
        return self._waits.sweep(now, trigger_for=lambda e, s, r: action_trigger(self._settings, e, s, r))

    def reap(self, now: float | None = None) -> list[str]:
        """Abandon every execution whose lease ended; returns their ids."""
        abandoned = []
        for eid in self._executions.expired_leases(time.time() if now is None else now):
            try:
                execution = self._executions.get(eid)
            except ExecutionNotFoundError:
                self._executions.drop_lease(eid)
                continue
            result = {"error": f"the worker running it ({execution.worker}) stopped responding; abandoned"}
            try:
                self._executions.transition(
                    eid,
                    ExecutionStatus.ABANDONED,
                    fields={"result": result, "end": now_iso()},
                    emit=action_trigger(self._settings, execution, ExecutionStatus.ABANDONED, result),
                    message=result["error"],
                )
            except InvalidTransitionError:
                self._executions.drop_lease(eid)
                continue
            log.warning("Reaper: execution %s abandoned (worker %s)", eid, execution.worker)
            abandoned.append(eid)
        return abandoned
