"""The pipeline and notify packs end to end, under ``st2lite up`` with the real file sensor.

A CSV landing in the inbox runs ``pipeline.process_file`` (split -> chunks in parallel -> merge -> archive);
a malformed one fails the chain, keeps the input (in failed/) and reaches a real local webhook and a Slack
stand-in through ``notify.on_failed_execution``; a slow run misses its ``action.sla`` and
``notify.on_sla_missed`` says so. The packs are copies of packs/pipeline and packs/notify with only the
inbox folder of the rules (and, for the SLA test, the policy's duration) changed; nothing is mocked.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..conftest import Procs, Up, wait_for, write_rules
from .standin_webhook import MiniSlack, WebhookReceiver

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[3]
SLACK_TOKEN = "xoxb-standin-0001"
RULE_INBOX = "/var/lib/st2lite/pipeline/inbox"


@dataclass
class Stack:
    up: Up
    root: Path
    webhook: WebhookReceiver
    slack: MiniSlack

    def folder(self, name: str) -> Path:
        return self.root / name

    def run(self, action: str, parameters: dict[str, Any]) -> dict[str, Any]:
        """Run ``action`` through the API; the execution once it ended."""
        response = self.up.post("/api/v1/executions", json={"action": action, "parameters": parameters})
        assert response.status_code == 201, response.text
        return self.up.wait_status(response.json()["id"], {"succeeded", "failed", "timeout"})

    def chain_for(self, file_name: str) -> dict[str, Any]:
        """The ``pipeline.process_file`` execution of ``file_name`` once it ended."""

        def started() -> dict[str, Any] | None:
            listed = self.up.get("/api/v1/executions", params={"action": "pipeline.process_file", "limit": 100})
            found = [e for e in listed.json() if Path(e["parameters"]["path"]).name == file_name]
            return found[0] if found else None

        execution = wait_for(started, what=f"pipeline.process_file to start for {file_name}", timeout=30)
        return self.up.wait_status(execution["id"], {"succeeded", "failed", "timeout", "canceled"}, timeout=60)

    def children(self, execution_id: str) -> list[dict[str, Any]]:
        response = self.up.get(f"/api/v1/executions/{execution_id}/children")
        assert response.status_code == 200, response.text
        children: list[dict[str, Any]] = response.json()
        return children

    def notifications_about(self, execution_id: str) -> list[dict[str, Any]]:
        return [b for b in self.webhook.bodies() if (b.get("data") or {}).get("execution_id") == execution_id]


def _copy_packs(root: Path, inbox: Path, sla_seconds: int | None) -> Path:
    packs = root / "packs"
    for name in ("pipeline", "notify"):
        shutil.copytree(REPO / "packs" / name, packs / name)
    for rule in (packs / "pipeline" / "rules").glob("*.yaml"):
        text = rule.read_text()
        assert RULE_INBOX in text, rule
        rule.write_text(text.replace(RULE_INBOX, str(inbox)))
    if sla_seconds is not None:
        policy = packs / "pipeline" / "policies" / "process_file_sla.yaml"
        text = policy.read_text()
        assert "duration: 3600" in text
        policy.write_text(text.replace("duration: 3600", f"duration: {sla_seconds}"))
    return packs


def _start(root: Path, pipeline_config: dict[str, Any], *, sla_seconds: int | None = None) -> Iterator[Stack]:
    """Folders, stand-ins, configs, ``st2lite up``; yields once the file sensor watches."""
    for name in ("inbox", "archive", "output", "failed", "work", "probe", "site", "configs"):
        (root / name).mkdir(parents=True)
    packs = _copy_packs(root, root / "inbox", sla_seconds)
    procs = Procs(root / "procs")
    with WebhookReceiver() as webhook, MiniSlack(SLACK_TOKEN) as slack:
        configs = root / "configs"
        folders = {f"{name}_dir": str(root / name) for name in ("work", "archive", "output", "failed")}
        (configs / "pipeline.yaml").write_text(json.dumps({**folders, **pipeline_config}))
        notify = {
            "webhook_url": f"{webhook.url}/hooks/st2lite",
            "webhook_secret": "{{ st2kv.system.notify_webhook_secret }}",
            "slack_channel": "#data-alerts",
            "slack_api_url": f"{slack.url}/api/",
            "slack_bot_token": "{{ st2kv.system.slack_bot_token }}",
            "timeout": 5,
        }
        (configs / "notify.yaml").write_text(json.dumps(notify))
        # A probe on another folder tells when the file sensor has taken its triggers (all at once).
        probe = {
            "enabled": True,
            "trigger": {
                "type": "core.st2.file_watch",
                "parameters": {"path": str(root / "probe"), "glob": "*.probe", "events": ["created"]},
            },
            "action": {"ref": "core.noop"},
        }
        write_rules(root / "site", {"probe": probe})
        try:
            # st2lite up writes the datastore key on its first start, so the secrets can be set at once.
            home = root / "home"
            up = Up.start(procs, home, root / "site", workers=2, ST2LITE_PACKS_PATH=packs, ST2LITE_CONFIGS_DIR=configs)
            for name, value in (("slack_bot_token", SLACK_TOKEN), ("notify_webhook_secret", "hook-secret-1")):
                body = {"name": name, "scope": "system", "user": None, "value": value, "secret": True}
                assert up.put(f"/api/v1/keys/{name}", json=body).status_code == 200
            _wait_for_watch(up, root / "probe")
            yield Stack(up, root, webhook, slack)
            assert up.stop() == 0
        finally:
            procs.cleanup()


def _wait_for_watch(up: Up, folder: Path) -> None:
    def probed() -> bool:
        listed = up.get("/api/v1/executions", params={"rule": "default.probe", "limit": 1}).json()
        return bool(listed)

    for attempt in range(15):
        (folder / f"{attempt}.probe").write_text("probe")
        try:
            wait_for(probed, what="the file sensor to see a probe file", timeout=3)
            return
        except AssertionError:
            continue
    raise AssertionError(f"the file sensor never saw a probe file:\n{up.output()[-3000:]}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = {"chunk_rows": 10, "numeric_columns": ["quantity", "amount"]}
    yield from _start(tmp_path_factory.mktemp("pipeline"), config)


# -- data -------------------------------------------------------------------------------------------------


def _orders(count: int, seed: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        n = i * 7 + seed
        note = f'order {n}, "rush"\nsecond line' if i % 9 == 4 else f"order {n}"
        rows.append(
            {
                "id": n,
                "region": ("eu", "us", "ap")[n % 3],
                "quantity": n % 11,
                "amount": (n * 37 % 5000) / 100,
                "note": note,
            }
        )
    return rows


def _csv_text(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["id", "region", "quantity", "amount", "note"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _expected(rows: list[dict[str, Any]], column: str) -> dict[str, Any]:
    values = [float(r[column]) for r in rows]
    return {"count": len(values), "empty": 0, "sum": math.fsum(values), "min": min(values), "max": max(values)}


# -- the happy path ---------------------------------------------------------------------------------------


def _check_run(stack: Stack, name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of ``<name>.csv`` succeeded: its summary matches ``rows``, the input is archived unchanged."""
    chain = stack.chain_for(f"{name}.csv")
    assert chain["status"] == "succeeded", json.dumps(chain["result"], indent=1)[-3000:]
    summary = json.loads((stack.folder("output") / f"{name}.summary.json").read_text())
    assert summary["rows"] == len(rows)
    assert summary["chunks"] == math.ceil(len(rows) / 10)
    assert set(summary["columns"]) == {"quantity", "amount"}
    for column in ("quantity", "amount"):
        got, want = summary["columns"][column], _expected(rows, column)
        assert got["count"] == want["count"] and got["empty"] == 0
        assert got["sum"] == pytest.approx(want["sum"])
        assert (got["min"], got["max"]) == (want["min"], want["max"])
    archived = stack.folder("archive") / f"{name}.csv"
    assert archived.read_text() == _csv_text(rows)  # moved whole, byte for byte
    assert chain["result"]["published"]["archived"] == str(archived)
    return chain


def test_landed_csv_is_split_processed_in_parallel_merged_and_archived(stack: Stack) -> None:
    first, second = _orders(47, seed=1), _orders(23, seed=5)
    (stack.folder("inbox") / "orders-a.csv").write_text(_csv_text(first))

    chain = _check_run(stack, "orders-a", first)

    # The 5 chunks ran as with-items items, several at a time on the two workers.
    items = [c for c in stack.children(chain["id"]) if c["action"]["ref"] == "pipeline.process_chunk"]
    assert len(items) == 5
    spans = sorted((c["start_timestamp"], c["end_timestamp"]) for c in items)
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False)), spans

    # Written under another name, then renamed into place: the csv_renamed_into_inbox rule.
    partial = stack.folder("inbox") / "orders-b.csv.part"
    partial.write_text(_csv_text(second))
    partial.rename(stack.folder("inbox") / "orders-b.csv")
    _check_run(stack, "orders-b", second)

    assert sorted(p.name for p in stack.folder("inbox").iterdir()) == []
    assert list(stack.folder("work").iterdir()) == []  # each run's chunks were deleted


def test_file_not_matching_the_glob_is_ignored(stack: Stack) -> None:
    for name in ("notes.txt", "orders.csv.bak"):
        (stack.folder("inbox") / name).write_text("id,amount\n1,2\n")
    (stack.folder("inbox") / "after.csv").write_text("id,quantity,amount\n1,2,3.5\n")

    chain = stack.chain_for("after.csv")  # landed after the others, so they were seen (and ignored) first

    assert chain["status"] == "succeeded"
    assert sorted(p.name for p in stack.folder("inbox").iterdir()) == ["notes.txt", "orders.csv.bak"]
    listed = stack.up.get("/api/v1/executions", params={"action": "pipeline.process_file", "limit": 100}).json()
    assert not [e for e in listed if not e["parameters"]["path"].endswith(".csv")]


# -- failures ---------------------------------------------------------------------------------------------


def test_malformed_csv_fails_the_chain_keeps_the_input_and_notifies(stack: Stack) -> None:
    rows = [{"id": i, "region": "eu", "quantity": i, "amount": f"{i}.25", "note": "x"} for i in range(30)]
    rows[13]["amount"] = "abc"  # record 14: line 15 of the file (the header is line 1)
    text = _csv_text(rows)
    (stack.folder("inbox") / "bad-orders.csv").write_text(text)

    chain = stack.chain_for("bad-orders.csv")

    assert chain["status"] == "failed"
    last = chain["result"]["tasks"][-1]
    assert last["name"] == "quarantine"
    reason = "process: bad-orders.csv line 15: column 'amount' holds 'abc', not a number"
    failed = stack.folder("failed") / "bad-orders.csv"
    assert last["result"]["result"]["error"] == f"bad-orders.csv was not processed: {reason}; the file is in {failed}"
    assert failed.read_text() == text  # not lost, not changed
    assert (stack.folder("failed") / "bad-orders.csv.error.txt").read_text() == reason + "\n"
    assert not (stack.folder("inbox") / "bad-orders.csv").exists()
    assert not (stack.folder("output") / "bad-orders.summary.json").exists()
    assert list(stack.folder("work").iterdir()) == []

    # notify.on_failed_execution: one notification for the chain, none for its failed tasks.
    [note] = wait_for(lambda: stack.notifications_about(chain["id"]), what="the failure notification")
    assert note["severity"] == "error"
    assert note["title"] == "pipeline.process_file failed"
    assert note["message"].startswith(f"pipeline.process_file failed (execution {chain['id']}): task 'quarantine'")
    assert reason in note["message"]
    children = {c["id"] for c in stack.children(chain["id"])}
    assert not [b for b in stack.webhook.bodies() if (b.get("data") or {}).get("execution_id") in children]
    [hook] = [r for r in stack.webhook.received if r.body is note or r.body == note]
    assert hook.path == "/hooks/st2lite" and hook.headers["x-notify-token"] == "hook-secret-1"
    posted = wait_for(
        lambda: [p for p in stack.slack.posts() if chain["id"] in str(p.get("text"))], what="the Slack post"
    )
    assert posted[0]["channel"] == "#data-alerts" and reason in posted[0]["text"]


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        (
            "unclosed.csv",
            'id,amount\n1,2\n2,"3\n3,4\n',
            "split: line 3: a quoted field opened on this line is not closed",
        ),
        ("empty.csv", "", "split: empty.csv is empty; a CSV file needs at least a header line"),
    ],
)
def test_a_file_the_split_refuses_is_moved_to_failed_with_the_reason(
    stack: Stack, name: str, text: str, reason: str
) -> None:
    (stack.folder("inbox") / name).write_text(text)

    chain = stack.chain_for(name)

    assert chain["status"] == "failed"
    assert [t["name"] for t in chain["result"]["tasks"]] == ["split", "quarantine"]
    assert reason in chain["result"]["tasks"][-1]["result"]["result"]["error"]
    assert (stack.folder("failed") / name).read_text() == text
    assert (stack.folder("failed") / f"{name}.error.txt").read_text().startswith(reason)
    [note] = wait_for(lambda: stack.notifications_about(chain["id"]), what="the failure notification")
    assert reason in note["message"]
    assert list(stack.folder("work").iterdir()) == []


def test_notify_send_posts_to_slack_with_the_bot_token(stack: Stack) -> None:
    execution = stack.run(
        "notify.send", {"message": "disk 91% on db-1", "title": "Disk", "channel": "#ops", "severity": "info"}
    )

    assert execution["status"] == "succeeded", execution["result"]
    delivered = execution["result"]["result"]["delivered"]
    assert [d["target"] for d in delivered] == ["webhook", "slack"]
    [post] = [p for p in stack.slack.posts() if "disk 91%" in str(p.get("text"))]
    assert post["channel"] == "#ops"
    assert post["text"] == ":information_source: *Disk*\ndisk 91% on db-1"
    assert delivered[1]["ts"] and delivered[1]["channel"] == "C0STANDIN"
    [body] = [b for b in stack.webhook.bodies() if b.get("message") == "disk 91% on db-1"]
    assert body["execution_id"] == execution["id"] and body["severity"] == "info" and body["channel"] == "#ops"


def test_notify_send_fails_naming_the_webhook_status_and_the_slack_error(stack: Stack) -> None:
    stack.webhook.status = 503
    try:
        execution = stack.run("notify.send", {"message": "webhook down test"})
    finally:
        stack.webhook.status = 200
    assert execution["status"] == "failed"
    error = execution["result"]["result"]["error"]
    assert f"webhook {stack.webhook.url}/hooks/st2lite answered 503 Service Unavailable" in error
    # Slack was still tried, and got it.
    assert [d["target"] for d in execution["result"]["result"]["delivered"]] == ["slack"]

    body = {"name": "slack_bot_token", "scope": "system", "user": None, "value": "xoxb-revoked", "secret": True}
    assert stack.up._http.put(f"{stack.up.api_url}/api/v1/keys/slack_bot_token", json=body).status_code == 200
    try:
        execution = stack.run("notify.send", {"message": "revoked token test"})
    finally:
        body["value"] = SLACK_TOKEN
        assert stack.up._http.put(f"{stack.up.api_url}/api/v1/keys/slack_bot_token", json=body).status_code == 200
    assert execution["status"] == "failed"
    assert "Slack chat.postMessage to #data-alerts failed: invalid_auth" in execution["result"]["result"]["error"]


def test_notify_send_refuses_an_unknown_severity(stack: Stack) -> None:
    before = len(stack.webhook.received)
    response = stack.up.post(
        "/api/v1/executions", json={"action": "notify.send", "parameters": {"message": "x", "severity": "critical"}}
    )
    assert response.status_code == 400, response.text
    assert "severity" in response.text and "critical" in response.text
    assert len(stack.webhook.received) == before


# -- the SLA ----------------------------------------------------------------------------------------------


@pytest.fixture
def slow_stack(tmp_path: Path) -> Iterator[Stack]:
    """A stack whose chunks take 3 s each (processor command: sleep, then cat) under a 2 s SLA."""
    config = {"chunk_rows": 3, "processor": "command", "command": ["sh", "-c", "sleep 3; cat"]}
    yield from _start(tmp_path / "slow", config, sla_seconds=2)


def test_a_run_past_its_sla_is_notified_and_still_completes(slow_stack: Stack) -> None:
    text = "id,amount\n1,2.5\n2,3.5\n3,4.5\n4,5.5\n5,6.5\n"
    (slow_stack.folder("inbox") / "slow.csv").write_text(text)

    def sla_notes() -> list[dict[str, Any]]:
        return [b for b in slow_stack.webhook.bodies() if b.get("title") == "SLA missed: pipeline.process_file"]

    [note] = wait_for(sla_notes, what="the SLA notification", timeout=30)
    chain = slow_stack.chain_for("slow.csv")
    assert note["data"]["execution_id"] == chain["id"]
    assert note["data"]["policy"] == "pipeline.process_file.sla"
    assert f"pipeline.process_file execution {chain['id']} has not completed 2s after it was created" in note["message"]
    assert note["severity"] == "warning"

    assert chain["status"] == "succeeded", chain["result"]
    # The command's outputs (each chunk with its header) merged with the header once: the input again.
    assert (slow_stack.folder("output") / "slow.processed.csv").read_text() == text
    assert (slow_stack.folder("archive") / "slow.csv").read_text() == text
    assert len(sla_notes()) == 1  # once per execution


# -- memory -----------------------------------------------------------------------------------------------

#: Runs argv (after the report file) as a child and writes the child's own ru_maxrss (KB) to the report file.
#: An isolated interpreter is small, so the pages a forked child starts with do not hide the child's own peak.
LAUNCHER = textwrap.dedent(
    """
    import os, sys
    pid = os.fork()
    if pid == 0:
        os.execv(sys.argv[2], sys.argv[2:])
    _, status, usage = os.wait4(pid, 0)
    open(sys.argv[1], "w").write(str(usage.ru_maxrss))
    sys.exit(os.waitstatus_to_exitcode(status))
    """
)


def test_split_streams_a_64_mb_file_in_flat_memory(tmp_path: Path) -> None:
    source = tmp_path / "big.csv"
    line = "12345,eu-west,7,123.45,order 12345 for a customer\n"
    with source.open("w") as out:
        out.write("id,region,quantity,amount,note\n")
        for _ in range(64 * 1024 * 1024 // (len(line) * 10_000) + 1):
            out.write(line * 10_000)
    size_kb = source.stat().st_size // 1024
    request = {
        "delimiter": "<<result>>",
        "entry_point": str(REPO / "packs" / "pipeline" / "actions" / "split_csv.py"),
        "pack": "pipeline",
        "pack_path": str(REPO / "packs" / "pipeline"),
        "parameters": {"path": str(source), "run_id": "t"},
        "config": {"work_dir": str(tmp_path / "work"), "chunk_rows": 100_000},
        "user": "test",
        "log_level": "INFO",
    }
    wrapper = REPO / "st2lite" / "runners" / "python_wrapper.py"
    report = tmp_path / "maxrss"
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LAUNCHER, str(report), sys.executable, "-P", str(wrapper)],
        input=json.dumps(request).encode(),
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    result = json.loads(done.stdout.decode().split("<<result>>")[1])["result"]
    peak_kb = int(report.read_text())

    assert sum(c["rows"] for c in result["chunks"]) == result["rows"] > 1_000_000
    assert size_kb > 64_000
    # Reading the file whole would need more than its size; streaming stays near an interpreter's ~20 MB.
    assert peak_kb < size_kb // 2, f"split peaked at {peak_kb} KB for a {size_kb} KB file"
