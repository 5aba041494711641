"""``POST /api/v1/webhooks/<url>?wait=SECONDS`` on a rule running a chain: the chain's tasks are in the answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import CHAINS_PACK, ApiServer, running_api, running_services, wait_for

from st2lite.redisdb import connect
from st2lite.registration import register_from_disk

pytestmark = [pytest.mark.redis, pytest.mark.e2e]

PACK = """\
name: hookchains
description: A webhook starts a chain
version: 0.1.0
author: st2lite
email: dev@example.com
"""
PACK = """\
name: hookchains
description: A webhook starts a chain
version: 0.1.0
author: st2lite
email: dev@example.com
"""
RULE = """\
name: outer_on_hook
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: chain/outer
action:
  ref: chains.outer
"""


@pytest.fixture(scope="module")
def chain_api(tmp_path_factory: pytest.TempPathFactory, redis_server: str) -> Iterator[ApiServer]:
    """An API, ``st2lite rules`` and ``st2lite worker`` with the chains pack and a rule starting ``chains.outer``."""
    root = tmp_path_factory.mktemp("wait-chains")
    pack = root / "hookchains"
    (pack / "rules").mkdir(parents=True)
    (pack / "pack.yaml").write_text(PACK)
    (pack / "rules" / "outer_on_hook.yaml").write_text(RULE)
    client = connect(redis_server)
    client.flushdb()
    try:
        with running_api(root, redis_server) as server:
            report, _version = register_from_disk(server.settings, server.redis, [CHAINS_PACK, pack], actor="test")
            assert report.ok, [str(p) for p in report.problems]
            with running_services(server):
                yield server
    finally:
        client.flushdb()
        client.close()


def test_wait_returns_the_chain_and_its_tasks_nested_chains_included(chain_api: ApiServer) -> None:
    wait_for(lambda: chain_api.http.get("/api/v1/webhooks/chain/outer").status_code == 200, "the API to see the rule")

    response = chain_api.http.post("/api/v1/webhooks/chain/outer", json={"go": 1}, params={"wait": 25}, timeout=40)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["complete"] is True, body
    executions = body["executions"]
    outer, inner, first, second, last = executions  # the chain, then each subtree in creation order
    assert [e["action"] for e in executions] == [
        "chains.outer",
        "chains.greet",
        "core.local",
        "core.local",
        "core.local",
    ]
    assert (outer["parent"], outer["rule"], outer["children"]) == (
        None,
        "hookchains.outer_on_hook",
        [inner["id"], last["id"]],
    )
    assert (inner["parent"], inner["children"]) == (outer["id"], [first["id"], second["id"]])
    assert first["parent"] == second["parent"] == inner["id"] and last["parent"] == outer["id"]
    assert first["children"] == second["children"] == last["children"] == []
    assert {e["status"] for e in executions} == {"succeeded"}
    assert first["result"]["stdout"].strip() == "hello nested"
    assert last["result"]["stdout"].strip().startswith("got: hello nested")
    assert chain_api.execution(outer["id"])["trigger_instance"] == {"id": body["trigger_instance"]}
