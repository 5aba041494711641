"""The execution lifecycle table."""

from __future__ import annotations

from st2lite.statuses import COMPLETED, TRANSITIONS, ExecutionStatus, can_transition, sources_of

S = ExecutionStatus


def test_every_status_has_a_row_and_completed_statuses_are_final() -> None:
    assert set(TRANSITIONS) == set(ExecutionStatus)
    for status in COMPLETED:
        assert TRANSITIONS[status] == frozenset()


def test_the_normal_life_of_an_execution_is_allowed() -> None:
    path = [S.REQUESTED, S.SCHEDULED, S.RUNNING, S.SUCCEEDED]
    assert all(can_transition(a, b) for a, b in zip(path, path[1:], strict=False))


def test_a_worker_cannot_run_an_execution_twice_or_revive_a_finished_one() -> None:
    assert not can_transition(S.RUNNING, S.RUNNING)
    assert not can_transition(S.SUCCEEDED, S.RUNNING)
    assert not can_transition(S.CANCELED, S.SCHEDULED)


def test_only_running_like_statuses_can_be_abandoned_or_time_out() -> None:
    assert sources_of(S.TIMEOUT) == {S.RUNNING, S.PENDING, S.PAUSING, S.RESUMING, S.CANCELING}
    assert S.SCHEDULED in sources_of(S.ABANDONED)
    assert S.REQUESTED not in sources_of(S.ABANDONED)
