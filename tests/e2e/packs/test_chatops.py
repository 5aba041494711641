"""The chatops pack end to end: a CSV posted in Slack runs one ``kubectl create job`` per row.

Real parts: ``st2lite up`` (API, rules engine, workers, Redis), the pack as shipped in packs/chatops, slack-sdk
talking to a stand-in Slack server (tests/e2e/packs/standin_slack.py), and a stand-in ``kubectl`` on the
workers' PATH that records its argv and the time it ran.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..conftest import FINAL, Procs, Up, wait_for
from .standin_slack import StandinSlack, sign

REPO = Path(__file__).resolve().parents[3]
PACKS = REPO / "packs"
LIB = PACKS / "chatops" / "actions" / "lib"
TOKEN = "xoxb-test-bot-token"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "C0DATA"
IMAGE = "registry.example.com/row-job:1.4"
NAMESPACE = "data-jobs"
HOSTILE = "$(touch /tmp/chatops-pwned); rm -rf ~ `id` {{ 7 * 7 }} 'quoted' \"double\""
#: The chain's fixed `concurrency` (packs/chatops/actions/workflows/csv_jobs.yaml).
CONCURRENCY = 5

#: The stand-in kubectl (bash: no interpreter to start): one file per run holding, NUL-separated, its start
#: and end times and its argv; it exits 3 when an argument holds FAIL.
KUBECTL = """#!/usr/bin/env bash
start=$EPOCHREALTIME
sleep 0.03
printf '%s\\0' "$start" "$EPOCHREALTIME" "$@" >"{runs}/$BASHPID-$RANDOM$RANDOM"
case "$*" in *FAIL*) echo "error: jobs.batch is forbidden (stand-in failure)" >&2; exit 3 ;; esac
exit 0
"""


# -- the setting ----------------------------------------------------------------------------------


@pytest.fixture
def slack() -> Iterator[StandinSlack]:
    server = StandinSlack(token=TOKEN).start()
    yield server
    server.stop()


class Kubectl:
    """The stand-in kubectl's bin folder and what it recorded."""

    def __init__(self, folder: Path) -> None:
        self.bin = folder / "bin"
        self.bin.mkdir(parents=True)
        self.folder = folder / "runs"
        self.folder.mkdir()
        script = self.bin / "kubectl"
        script.write_text(KUBECTL.format(runs=self.folder))
        script.chmod(0o755)

    def runs(self) -> list[dict[str, Any]]:
        found = []
        for record in self.folder.iterdir():
            start, end, *argv = record.read_bytes().split(b"\0")[:-1]
            found.append({"start": float(start), "end": float(end), "argv": [a.decode() for a in argv]})
        return found

    def max_overlap(self) -> int:
        """The most runs that were going on at the same moment."""
        return most_at_once([(run["start"], run["end"]) for run in self.runs()])


def _epoch(iso: str | None) -> float:
    assert iso, "an execution without the time asked for"
    return datetime.fromisoformat(iso).timestamp()


def most_at_once(spans: list[tuple[Any, Any]]) -> int:
    """The most ``(start, end)`` spans open at one moment (an end before a start at the same time)."""
    edges = sorted((t, d) for start, end in spans for t, d in ((start, 1), (end, -1)))
    most = current = 0
    for _t, delta in edges:
        current += delta
        most = max(most, current)
    return most


@pytest.fixture
def kubectl(tmp_path: Path) -> Kubectl:
    return Kubectl(tmp_path / "kubectl")


def write_config(site: Path, slack: StandinSlack, **extra: Any) -> None:
    configs = site / "configs"
    configs.mkdir(parents=True, exist_ok=True)
    config = {
        "slack_api_url": slack.api_url,
        "bot_token": "{{ st2kv.system.slack_bot_token }}",
        "image": IMAGE,
        "namespace": NAMESPACE,
        "required_columns": ["customer_id", "region"],
        "max_rows": 1000,
        "max_bytes": 200_000,
        **extra,
    }
    (configs / "chatops.yaml").write_text(json.dumps(config))


def start_up(procs: Procs, tmp_path: Path, site: Path, kubectl: Kubectl, *, workers: int) -> Up:
    path = f"{kubectl.bin}{os.pathsep}{os.environ.get('PATH', '')}"
    # st2lite up writes the datastore key on its first start, so the secrets can be set at once.
    up = Up.start(procs, tmp_path / "home", site, workers=workers, PATH=path, ST2LITE_PACKS_PATH=PACKS)
    for name, value in (("slack_bot_token", TOKEN), ("slack_signing_secret", SIGNING_SECRET)):
        response = up.put(
            f"/api/v1/keys/{name}", json={"name": name, "scope": "system", "value": value, "secret": True}
        )
        assert response.status_code == 200, response.text
    return up


def csv_bytes(rows: list[list[str]], header: tuple[str, ...] = ("customer_id", "region", "note")) -> bytes:
    lines = [",".join(header)] + [",".join(_quote(v) for v in row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode()


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n') else value


def run_chain(up: Up, file_id: str, job: str = "reindex") -> str:
    """Start chatops.csv_jobs through the API (as an operator would, without Slack)."""
    response = up.post(
        "/api/v1/executions",
        json={"action": "chatops.csv_jobs", "parameters": {"csv_file": file_id, "job": job, "channel": CHANNEL}},
    )
    assert response.status_code == 201, response.text
    execution_id: str = response.json()["id"]
    return execution_id


def job_args(run: dict[str, Any]) -> list[str]:
    argv: list[str] = run["argv"]
    return argv[argv.index("--") + 1 :]


# -- what Slack sends -----------------------------------------------------------------------------

EVENTS = "/api/v1/webhooks/chatops/slack/events"
COMMAND = "/api/v1/webhooks/chatops/slack/command"


def event(text: str, file_id: str | None, *, kind: str = "app_mention", user: str = "U0ANALYST") -> bytes:
    """An Events API ``event_callback`` body as Slack sends it (a message with a file shared)."""
    inner: dict[str, Any] = {
        "type": kind, "user": user, "text": text, "ts": "1733540000.000100", "channel": CHANNEL,
        "event_ts": "1733540000.000100", "team": "T0STANDIN",
    }  # fmt: skip
    if file_id is not None:
        inner["files"] = [{"id": file_id, "name": f"{file_id}.csv", "filetype": "csv", "mode": "hosted"}]
        if kind == "message":
            inner["subtype"] = "file_share"
    body = {
        "token": "legacy-verification-token", "team_id": "T0STANDIN", "api_app_id": "A0CSV", "event": inner,
        "type": "event_callback", "event_id": f"Ev{time.time_ns()}", "event_time": int(time.time()),
    }  # fmt: skip
    return json.dumps(body).encode()


def slash(text: str) -> bytes:
    """A slash command's form body as Slack sends it."""
    fields = {
        "token": "legacy-verification-token", "team_id": "T0STANDIN", "team_domain": "standin",
        "channel_id": CHANNEL, "channel_name": "data", "user_id": "U0ANALYST", "user_name": "ana",
        "command": "/csvjobs", "text": text, "api_app_id": "A0CSV",
        "response_url": "https://hooks.slack.com/commands/T0STANDIN/1/abc", "trigger_id": "1.2.abc",
    }  # fmt: skip
    return urllib.parse.urlencode(fields).encode()


def send(
    up: Up,
    path: str,
    body: bytes,
    *,
    form: bool = False,
    secret: str = SIGNING_SECRET,
    age: int = 0,
    headers: dict[str, str] | None = None,
    wait: float | None = None,
) -> httpx.Response:
    """POST as Slack does: signed with the signing secret, no st2lite credentials (``wait``: ``?wait=``)."""
    sent = {"Content-Type": "application/x-www-form-urlencoded" if form else "application/json", **(headers or {})}
    sent.update(sign(secret, body, int(time.time()) - age))
    params = {} if wait is None else {"wait": wait}
    return httpx.post(up.api_url + path, content=body, headers=sent, params=params, timeout=(wait or 0) + 10)


def executions_of(up: Up, action: str) -> list[Any]:
    return [e for e in up.executions() if e.action == action]


def finished(up: Up, action: str, count: int = 1, timeout: float = 60) -> list[Any]:
    """The ``count`` executions of ``action`` once they all ended."""

    def ended() -> list[Any] | None:
        found = executions_of(up, action)
        return found if len(found) >= count and all(e.status in FINAL for e in found) else None

    return wait_for(ended, what=f"{count} execution(s) of {action} to end", timeout=timeout)


def messages_with(slack: StandinSlack, needle: str, count: int = 1) -> list[str]:
    def posted() -> list[str] | None:
        texts = [m["text"] for m in slack.messages(CHANNEL) if needle in m["text"]]
        return texts if len(texts) >= count else None

    return wait_for(posted, what=f"{count} message(s) with {needle!r} in {CHANNEL}", timeout=60)


# -- scenarios --------------------------------------------------------------------------------------


def test_a_signed_mention_with_500_rows_runs_500_jobs_and_posts_one_summary(
    procs: Procs, tmp_path: Path, site: Path, slack: StandinSlack, kubectl: Kubectl
) -> None:
    rows = [[f"cust-{i:04d}", ["eu", "us", "ap"][i % 3], f"note {i}"] for i in range(500)]
    rows[7][2] = HOSTILE
    rows[41][2] = "FAIL please"
    rows[333][2] = "FAIL again"
    slack.add_file("F0ROWS", "customers.csv", csv_bytes(rows))
    write_config(site, slack)
    up = start_up(procs, tmp_path, site, kubectl, workers=4)

    started = time.monotonic()
    accepted = send(up, EVENTS, event("<@U0BOT> run reindex for each row", "F0ROWS"))
    assert (accepted.status_code, accepted.content) == (200, b""), accepted.text
    [chain] = finished(up, "chatops.csv_jobs", timeout=180)
    took = time.monotonic() - started
    runs = kubectl.runs()
    window = max(r["end"] for r in runs) - min(r["start"] for r in runs) if runs else 0.0
    print(f"\n500 rows: chain {chain.status} {took:.1f}s after the event; kubectl window {window:.1f}s")  # noqa: T201

    assert chain.parameters["csv_file"] == "F0ROWS"
    assert chain.parameters["job"] == "reindex"
    assert chain.parameters["channel"] == CHANNEL  # from the alias execution's source_channel
    assert chain.parameters["user"] == "U0ANALYST"
    assert len(runs) == 500, chain.result
    assert len({run["argv"][2] for run in runs}) == 500, "every row ran exactly once"
    by_row = {int(run["argv"][2].rsplit("-", 1)[1]): run for run in runs}
    assert sorted(by_row) == list(range(2, 502))  # spreadsheet rows: the header is row 1
    for number, run in by_row.items():
        assert run["argv"][:3] == ["create", "job", f"reindex-{chain.id[-12:]}-{number}"]
        assert run["argv"][3:6] == [f"--namespace={NAMESPACE}", f"--image={IMAGE}", "--"]
        assert job_args(run) == rows[number - 2]
    assert job_args(by_row[9])[2] == HOSTILE  # one literal argument, nothing evaluated
    assert not Path("/tmp/chatops-pwned").exists()
    # The chain holds at most 5 row executions in flight (created, not ended), and does reach 5; the 4 workers
    # run 4 of them at a time.
    jobs = [e for e in up.executions() if e.action == "chatops.run_job" and e.parent == chain.id]
    assert len(jobs) == 500
    assert most_at_once([(_epoch(e.created_at), _epoch(e.end_timestamp)) for e in jobs]) == CONCURRENCY
    assert 2 <= kubectl.max_overlap() <= 4

    [summary] = messages_with(slack, "job(s) started")
    assert summary.startswith(":warning: `reindex` for `customers.csv`: 498 of 500 job(s) started, 2 failed")
    assert "• row 43 (cust-0041, ap, FAIL please): exit 3: error: jobs.batch is forbidden" in summary
    assert "• row 335 (cust-0333, eu, FAIL again): exit 3" in summary
    [ack] = messages_with(slack, "Starting `reindex`")
    assert f"(execution {chain.id})" in ack
    assert len(slack.messages(CHANNEL)) == 2  # the ack and the one summary
    assert chain.status == "failed"  # two rows failed: the run says so
    downloads = slack.downloads()
    assert len(downloads) == 1
    assert downloads[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_verification_signatures_slash_command_and_every_refused_csv(
    procs: Procs, tmp_path: Path, site: Path, slack: StandinSlack, kubectl: Kubectl
) -> None:
    slack.add_file("F0GOOD", "three.csv", csv_bytes([["c1", "eu", "a b"], ["c2", "us", "--flag=x"], ["c3", "ap", "z"]]))
    slack.add_file("F0BAD", "bad.csv", b"customer_id,region,note\r\nc1,eu,ok\r\nc2,,missing region\r\nc3,us\r\n")
    slack.add_file("F0NOCOL", "nocol.csv", b"customer_id,note\r\nc1,x\r\n")
    slack.add_file("F0PNG", "chart.png", b"\x89PNG\r\n\x1a\n", mimetype="image/png")
    slack.add_file("F0BIG", "big.csv", b"customer_id,region\r\n" + b"c,eu\r\n" * 60_000)
    slack.add_file("F0HIDDEN", "hidden.csv", b"customer_id,region\r\nc1,eu\r\n", downloadable=False)
    write_config(site, slack)
    up = start_up(procs, tmp_path, site, kubectl, workers=2)

    # Slack checks the Events API url: the challenge comes back, nothing is dispatched.
    challenge = json.dumps({"token": "t", "challenge": "3eZbrw1aBm2rZgRN", "type": "url_verification"}).encode()
    verified = send(up, EVENTS, challenge)
    assert verified.status_code == 200, verified.text
    assert verified.json() == {"challenge": "3eZbrw1aBm2rZgRN"}

    # Forged, stale or unsigned: 401 with the reason, nothing run.
    body = event("<@U0BOT> run reindex for each row", "F0GOOD")
    forged = send(up, EVENTS, body, secret="not-the-signing-secret")
    stale = send(up, EVENTS, body, age=600)
    unsigned = httpx.post(up.api_url + EVENTS, content=body, headers={"Content-Type": "application/json"})
    forged_command = send(up, COMMAND, slash("run reindex for each row csv_file=F0GOOD"), form=True, secret="x")
    assert forged.status_code == 401
    assert forged.json()["faultstring"] == (
        "X-Slack-Signature does not match the request body; sign the exact body with the webhook's shared secret"
    )
    assert stale.status_code == 401
    assert stale.json()["faultstring"].startswith("X-Slack-Request-Timestamp is 600 s old, over the limit of 300 s")
    assert unsigned.status_code == 401
    assert unsigned.json()["faultstring"].startswith("the X-Slack-Signature header is missing")
    assert forged_command.status_code == 401

    # A slash command with a pasted file link runs the three rows.
    link = "<https://standin.slack.com/files/U0ANALYST/F0GOOD/three.csv>"
    accepted = send(up, COMMAND, slash(f"run reindex for each row {link} concurrency=2"), form=True)
    assert (accepted.status_code, accepted.content) == (200, b""), accepted.text
    [summary] = messages_with(slack, "job(s) started")
    assert summary == ":white_check_mark: `reindex` for `three.csv`: 3 of 3 job(s) started, 0 failed"
    [chain] = finished(up, "chatops.csv_jobs")
    assert chain.status == "succeeded"
    assert chain.parameters["concurrency"] == 2  # a trailing key=value pair of the chat command
    assert sorted(job_args(r) for r in kubectl.runs()) == [
        ["c1", "eu", "a b"],
        ["c2", "us", "--flag=x"],
        ["c3", "ap", "z"],
    ]
    assert len(executions_of(up, "core.alias_execute")) == 1  # the forged requests started nothing

    # A message (no mention) with a bad CSV: the reason is posted, no job starts.
    accepted = send(up, EVENTS, event("run reindex for each row", "F0BAD", kind="message"))
    assert (accepted.status_code, accepted.content) == (200, b""), accepted.text
    [refused] = messages_with(slack, "was not started")
    assert refused == (
        ":x: `reindex` was not started for file F0BAD: 'bad.csv' has 2 problem(s): row 3, column 'region' is "
        "empty; row 4 has 2 values, the header has 3 columns. Fix the file and post it again. No job ran."
    )
    chains = finished(up, "chatops.csv_jobs", count=2)
    assert sorted(c.status for c in chains) == ["failed", "succeeded"]
    assert len(kubectl.runs()) == 3

    # A command no alias matches: the channel is told, nothing runs.
    accepted = send(up, COMMAND, slash("run reindex for all the rows csv_file=F0GOOD"), form=True)
    assert (accepted.status_code, accepted.content) == (200, b""), accepted.text
    [unmatched] = messages_with(slack, ":x: ", count=2)[1:]
    assert "run reindex for all the rows" in unmatched
    assert len(executions_of(up, "chatops.csv_jobs")) == 2

    # The bot's own messages, and Slack's redeliveries, are not commands (the rules engine decides, then ?wait
    # answers with what the instance started: nothing).
    own = json.loads(event("run reindex for each row", "F0GOOD", kind="message"))
    own["event"]["bot_id"] = "B0BOT"
    ignored = send(up, EVENTS, json.dumps(own).encode(), wait=20)
    retried = send(
        up, EVENTS, event("<@U0BOT> run reindex for each row", "F0GOOD"), headers={"X-Slack-Retry-Num": "1"}, wait=20
    )
    for answer in (ignored, retried):
        assert answer.status_code == 200, answer.text
        assert answer.json()["complete"] is True
        assert answer.json()["executions"] == []
    assert len(executions_of(up, "core.alias_execute")) == 3

    # Files the chain refuses (started through the API, as an operator would): the reason is posted, no job.
    cases = {
        "F0NOCOL": "row 1 (header) lacks the required column(s) region; it has: customer_id, note",
        "F0PNG": "'chart.png' is not a CSV file (Slack says its type is png); post a .csv file",
        "F0BIG": "'big.csv' is 360020 bytes, over the limit of 200000 bytes",
        "F0GONE": "Slack has no file F0GONE; post the CSV again",
        "F0HIDDEN": "Slack sent the download of 'hidden.csv' to its sign-in page: the bot token may not read this "
        "file; give the app the files:read scope, reinstall it and invite the bot to the channel",
    }
    ids = {file_id: run_chain(up, file_id) for file_id in cases}
    for file_id, expected in cases.items():
        chain = up.wait_status(ids[file_id], FINAL, timeout=60)
        assert chain["status"] == "failed"
        assert [t["name"] for t in chain["result"]["tasks"]] == ["load_csv", "report_error"]
        [posted] = messages_with(slack, f"for file {file_id}:")
        assert posted.startswith(f":x: `reindex` was not started for file {file_id}: ")
        assert expected in posted
        assert posted.endswith("No job ran.")
    assert len(kubectl.runs()) == 3  # the slash command's rows only
    # The type, size and missing file are refused from files.info, before any download.
    assert sorted(d.path for d in slack.downloads()) == [
        "/files-pri/T0STANDIN-F0BAD/download/bad.csv",
        "/files-pri/T0STANDIN-F0GOOD/download/three.csv",
        "/files-pri/T0STANDIN-F0HIDDEN/download/hidden.csv",
        "/files-pri/T0STANDIN-F0NOCOL/download/nocol.csv",
    ]


# -- the stand-in speaks Slack's wire format to slack-sdk ------------------------------------------


def test_the_stand_in_answers_slack_sdk_and_checks_the_token(slack: StandinSlack) -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    slack.add_file("F0ONE", "one.csv", b"a,b\r\n1,2\r\n")
    client = WebClient(token=TOKEN, base_url=slack.api_url)

    assert client.auth_test()["user_id"] == "U0BOT"
    posted = client.chat_postMessage(channel=CHANNEL, text="hello")
    info = client.files_info(file="F0ONE")["file"]
    with pytest.raises(SlackApiError) as refused:
        WebClient(token="xoxb-wrong", base_url=slack.api_url).chat_postMessage(channel=CHANNEL, text="no")
    form = httpx.post(slack.api_url + "chat.postMessage", data={"token": TOKEN, "channel": CHANNEL, "text": "form"})
    anonymous = httpx.get(info["url_private_download"])
    download = httpx.get(info["url_private_download"], headers={"Authorization": f"Bearer {TOKEN}"})

    assert posted["ok"] is True
    assert refused.value.response["error"] == "invalid_auth"
    assert form.json()["ok"] is True
    assert [m["text"] for m in slack.messages(CHANNEL)] == ["hello", "form"]
    assert info["url_private_download"].startswith(slack.url + "/files-pri/")
    assert (anonymous.status_code, anonymous.headers["location"].startswith(slack.url + "/?redir=")) == (302, True)
    assert download.content == b"a,b\r\n1,2\r\n"
    assert slack.calls_to("chat.postMessage")[0].headers["authorization"] == f"Bearer {TOKEN}"


# -- the pack's pure logic (actions/lib), without processes --------------------------------------


@pytest.fixture(scope="module")
def lib() -> Iterator[Any]:
    sys.path.insert(0, str(LIB))
    try:
        import csvrows
        import summary

        yield type("Lib", (), {"csvrows": csvrows, "summary": summary})
    finally:
        sys.path.remove(str(LIB))


def test_csv_rows_keep_values_literally_and_skip_blank_lines(lib: Any) -> None:
    content = b'\xef\xbb\xbfcustomer_id,region,note\r\nc1,eu,"a, b ""c"""\r\n\r\nc2,us,$(id)\r\n'

    table = lib.csvrows.parse_csv(content, name="x.csv", required_columns=["region"], max_rows=2, max_bytes=1000)

    assert table.columns == ["customer_id", "region", "note"]
    assert table.rows == [["c1", "eu", 'a, b "c"'], ["c2", "us", "$(id)"]]


@pytest.mark.parametrize(
    ("content", "limits", "message"),
    [
        (b"a,b\n1,2\n3,4\n", {"max_rows": 1}, "'x.csv' has 2 data rows, over the limit of 1 (max_rows in the chatops"),
        (b"a,b\n1,2\n", {"max_bytes": 5}, "'x.csv' is 8 bytes, over the limit of 5 bytes"),
        (b"a,b\n", {}, "'x.csv' has a header but no data rows; add one row per job"),
        (b"\n\n", {}, "'x.csv' is empty; it needs a header row and at least one data row"),
        (b"a,\xff\n", {}, "'x.csv' is not UTF-8 text (byte 2); export it as 'CSV UTF-8' and post it again"),
        (b"a,a\n1,2\n", {}, "row 1 (header): column 'a' appears twice"),
        (b'a,b\n1,"x\ny"\n', {}, "row 2, column 'b' holds a line break, tab or other control character"),
        (b'a,b\n1,"open\n', {}, "'x.csv' is not valid CSV: unexpected end of data"),
        (
            b"a,b\n" + b"1,\n" * 12,
            {},
            "'x.csv' has 12 problem(s): row 2, column 'b' is empty; row 3, column 'b' is empty;",
        ),
    ],
    ids=["rows", "bytes", "no-rows", "empty", "not-utf8", "duplicate", "newline", "unclosed-quote", "many"],
)
def test_csv_problems_name_the_row_and_column(lib: Any, content: bytes, limits: dict[str, int], message: str) -> None:
    arguments = {"max_rows": 100, "max_bytes": 1000, **limits}
    with pytest.raises(lib.csvrows.CsvError) as raised:
        lib.csvrows.parse_csv(content, name="x.csv", **arguments)
    assert message in str(raised.value)
    if "12 problem" in message:
        assert str(raised.value).endswith("; and 2 more problem(s). Fix the file and post it again")


def test_the_summary_counts_failures_including_items_that_never_ran(lib: Any) -> None:
    rows = [["c1", "eu"], ["c2", "us"], ["c3", "ap"]]
    results = [{"succeeded": True}, {"succeeded": False, "return_code": 1, "stderr": "x\nquota exceeded\n"}]

    done = lib.summary.summarize("reindex", "c.csv", rows, results)

    assert done.succeeded == 1
    assert [f["row"] for f in done.failed] == [3, 4]
    assert done.text.splitlines() == [
        ":warning: `reindex` for `c.csv`: 1 of 3 job(s) started, 2 failed",
        "• row 3 (c2, us): exit 1: quota exceeded",
        "• row 4 (c3, ap): did not run",
    ]
