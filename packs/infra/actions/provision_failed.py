"""infra.provision_failed: the last task of infra.provision_server on its failure path.

It reads the results of the tasks that ran (the chain's ``__results``), says which step failed and why, what
was rolled back and which rollback steps failed, and fails, so the chain ends ``failed`` with that reason.
"""

from __future__ import annotations

from typing import Any

from infra_logic import failure_report

from st2common.runners.base_action import Action


class ProvisionFailed(Action):
    def run(self, name: str, results: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        report = failure_report(name, results)
        self.logger.error("%s", report["error"])
        return False, report
