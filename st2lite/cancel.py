"""Canceling, pausing and resuming executions (StackStorm's semantics).

Cancel: an execution that has not started (``requested``, ``scheduled``,
``delayed``) or waits (``pending``, ``paused``) becomes ``canceled`` at once;
a running one becomes ``canceling`` and its id is published on
``st2lite:cancel``: the worker running it kills the action's process group
and ends it ``canceled`` (a worker that missed the message sees the status at
its next heartbeat). A running chain becomes ``canceling`` and its conductor
cancels its running tasks, then ends it ``canceled``. Pause and resume apply
to chains only: ``pausing`` lets the running tasks end and starts no new one
(then ``paused``); ``resuming`` starts what was held back.
"""

from __future__ import annotations

from st2lite import keys
from st2lite.audit import now_iso
from st2lite.exceptions import InvalidTransitionError, NotCancelableError
from st2lite.executions import Execution, ExecutionStore
from st2lite.redisdb import Redis
from st2lite.runners.chain import CHAIN_RUNNER
from st2lite.statuses import COMPLETED, ExecutionStatus

__all__ = ["CANCELED_MESSAGE", "cancel", "chain_control", "pause", "resume"]

#: StackStorm's result message of a canceled execution.
CANCELED_MESSAGE = "Action canceled by user."

S = ExecutionStatus
#: Statuses canceled at once: nothing runs.
_AT_ONCE = (S.REQUESTED, S.SCHEDULED, S.DELAYED, S.PENDING, S.PAUSED)
#: Statuses that go through ``canceling``: something runs and must be stopped first.
_RUNNING = (S.RUNNING, S.PAUSING, S.RESUMING)


def cancel(
    executions: ExecutionStore, client: Redis, execution_id: str, *, user: str, actor: str | None = None
) -> Execution:
    """Cancel ``execution_id`` (see the module); returns it afterwards (``actor``: the audit events', default
    the store's).

    Raises:
        ExecutionNotFoundError: no such execution.
        NotCancelableError: it has ended already (the message is StackStorm's).
    """
    for _attempt in range(3):  # its status may move between the read and the change: read again
        execution = executions.get(execution_id)
        status = execution.status
        if status is S.CANCELED or status is S.CANCELING:
            return execution
        if status in COMPLETED:
            raise NotCancelableError(f"Action cannot be canceled. State = {status.value}.")
        result = {"message": CANCELED_MESSAGE, "user": user}
        try:
            if status in _AT_ONCE:
                executions.transition(
                    execution_id,
                    S.CANCELED,
                    fields={"result": result, "end": now_iso()},
                    allowed_from=[status],
                    actor=actor,
                )
            else:
                executions.transition(
                    execution_id, S.CANCELING, allowed_from=[status], message=f"canceled by {user}", actor=actor
                )
                if execution.runner == CHAIN_RUNNER:
                    chain_control(client, execution_id, S.CANCELING)
                else:
                    client.publish(keys.CANCEL_CHANNEL, execution_id)
        except InvalidTransitionError:
            continue
        return executions.get(execution_id)
    raise NotCancelableError(f"execution '{execution_id}' kept changing status; try to cancel it again")


def pause(executions: ExecutionStore, client: Redis, execution_id: str, *, actor: str | None = None) -> Execution:
    """Pause a running chain: its running tasks end, no new one starts."""
    return _steer(executions, client, execution_id, S.PAUSING, done=(S.PAUSING, S.PAUSED), verb="pause", actor=actor)


def resume(executions: ExecutionStore, client: Redis, execution_id: str, *, actor: str | None = None) -> Execution:
    """Resume a paused (or pausing) chain."""
    return _steer(
        executions, client, execution_id, S.RESUMING, done=(S.RUNNING, S.RESUMING), verb="resume", actor=actor
    )


#: Where pausing and resuming may start from.
_STEER_FROM = {S.PAUSING: [S.RUNNING, S.RESUMING], S.RESUMING: [S.PAUSED, S.PAUSING]}


def _steer(
    executions: ExecutionStore,
    client: Redis,
    execution_id: str,
    target: ExecutionStatus,
    *,
    done: tuple[ExecutionStatus, ...],
    verb: str,
    actor: str | None = None,
) -> Execution:
    execution = executions.get(execution_id)
    if execution.runner != CHAIN_RUNNER:
        raise NotCancelableError(
            f"execution '{execution_id}' runs runner '{execution.runner}', which cannot be {verb}d; "
            "only action chains can be paused and resumed"
        )
    if execution.status in done:
        return execution
    try:
        executions.transition(execution_id, target, allowed_from=_STEER_FROM[target], actor=actor)
    except InvalidTransitionError as exc:
        raise NotCancelableError(f"cannot {verb} execution '{execution_id}': it is {exc.current}") from exc
    chain_control(client, execution_id, target)
    return executions.get(execution_id)


def chain_control(client: Redis, chain_id: str, status: ExecutionStatus) -> None:
    """Tell the chain's conductor that the chain itself changed (an event without a child)."""
    client.xadd(keys.CHAIN_EVENTS, {"p": chain_id, "c": "", "s": status.value})
