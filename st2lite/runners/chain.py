"""The ``action-chain`` runner type: its parameters; chains are run by the conductor, not here.

A chain does not run inside a worker: the worker hands it to
:class:`st2lite.chains.conductor.ChainConductor`, which runs its tasks as
child executions. This class exists so that packs can declare
``runner_type: action-chain`` and override its parameters like any runner's.
"""

from __future__ import annotations

from typing import ClassVar

from st2lite.actions import ParameterSpec
from st2lite.exceptions import RunnerError
from st2lite.runners.base import OutputCallback, RunContext, Runner, RunResult

__all__ = ["CHAIN_RUNNER", "ActionChainRunner"]

#: The runner type of chains.
CHAIN_RUNNER = "action-chain"


class ActionChainRunner(Runner):
    """``action-chain``: StackStorm's sequential workflows (see docs/chains.md)."""

    name: ClassVar[str] = CHAIN_RUNNER
    parameters: ClassVar[dict[str, ParameterSpec]] = {
        "display_published": ParameterSpec(
            type="boolean", default=True, description="Put the published variables in the result."
        ),
        "skip_notify": ParameterSpec(
            type="array", default=[], description="Tasks whose completion sends no notification."
        ),
    }

    def run(self, ctx: RunContext, *, on_output: OutputCallback | None = None) -> RunResult:
        raise RunnerError(
            f"action '{ctx.action_ref}' is an action chain: chains are run by the conductor "
            "(st2lite.chains.conductor), not by a runner"
        )
