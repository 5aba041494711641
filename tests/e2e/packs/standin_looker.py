"""A stand-in for the Looker API 4.0: a real HTTP server on 127.0.0.1 speaking Looker's wire format, for what the
looker pack calls through the official looker-sdk.

* ``POST /api/4.0/login`` (form ``client_id``, ``client_secret``) -> ``{access_token, token_type, expires_in}``;
  wrong credentials -> 404 ``{"message": "Not found", "documentation_url": ...}``, as Looker answers;
* every other call needs ``Authorization: Bearer <token>`` (else 401 ``Requires authentication.``);
* ``GET /api/4.0/looks/{id}/run/json``: the rows of the Look (the scheduled-job history, unfiltered);
* ``POST /api/4.0/queries/run/json``: an inline query on ``system__activity``/``scheduled_plan``; the filters on
  ``scheduled_job.status``, ``scheduled_plan.run_once`` and ``scheduled_job.created_time`` (``N hours``) apply;
* ``GET /api/4.0/scheduled_plans/{id}``, ``POST /api/4.0/scheduled_plans/{id}/run_once`` (recorded; a plan can be
  told to fail, a deleted plan answers 404);
* ``DELETE /api/4.0/logout`` and ``DELETE /api/logout`` (the path the Python SDK uses).

Tests add plans and jobs and read what was called (:attr:`StandinLooker.run_once_calls` etc.).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

__all__ = ["Job", "StandinLooker", "looker_time", "running_looker"]

DOCS = "https://cloud.google.com/looker/docs/r/err/4.0"
FIELDS = {
    "scheduled_job.id",
    "scheduled_job.status",
    "scheduled_job.status_detail",
    "scheduled_job.created_time",
    "scheduled_job.finalized_time",
    "scheduled_plan.id",
    "scheduled_plan.name",
    "scheduled_plan.run_once",
}


def looker_time(moment: datetime) -> str:
    """How Looker's JSON shows a time dimension (UTC here): ``2026-12-07 02:15:03``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Job:
    """One row of System Activity's scheduled-job history."""

    id: int
    plan_id: int
    status: str = "failure"
    run_once: bool = False
    status_detail: str = "Slack: channel_not_found"
    created: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(minutes=5))

    def row(self, plan_name: str) -> dict[str, Any]:
        return {
            "scheduled_job.id": self.id,
            "scheduled_job.status": self.status,
            "scheduled_job.status_detail": self.status_detail if self.status == "failure" else None,
            "scheduled_job.created_time": looker_time(self.created),
            "scheduled_job.finalized_time": looker_time(self.created + timedelta(seconds=12)),
            "scheduled_plan.id": self.plan_id,
            "scheduled_plan.name": plan_name,
            "scheduled_plan.run_once": "Yes" if self.run_once else "No",
        }


class StandinLooker:
    """The state of the stand-in: credentials, plans, jobs, and the calls it received."""

    def __init__(self, client_id: str = "standin-client", client_secret: str = "standin-secret") -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.look_id = "42"
        self.plans: dict[int, str] = {}  # id -> name
        self.deleted: set[int] = set()
        self.failing: dict[int, str] = {}  # plan id -> error message run_once answers with
        self.jobs: list[Job] = []
        self.run_once_calls: list[int] = []
        self.logins: list[tuple[str, bool]] = []  # (client_id, accepted)
        self.reads: list[str] = []  # "look" or "query", one per successful read of the job history
        self.queries: list[dict[str, Any]] = []
        self._tokens: set[str] = set()
        self._next_plan = 9000
        self.lock = threading.Lock()

    def add_plan(self, plan_id: int, name: str) -> None:
        with self.lock:
            self.plans[plan_id] = name

    def add_job(self, job: Job) -> None:
        with self.lock:
            self.jobs.append(job)

    def runs_of(self, plan_id: int) -> int:
        with self.lock:
            return self.run_once_calls.count(plan_id)

    # -- the API ----------------------------------------------------------------------------------

    def login(self, form: dict[str, list[str]]) -> tuple[int, Any]:
        client_id = form.get("client_id", [""])[0]
        accepted = client_id == self.client_id and form.get("client_secret", [""])[0] == self.client_secret
        with self.lock:
            self.logins.append((client_id, accepted))
            if not accepted:
                return 404, {"message": "Not found", "documentation_url": f"{DOCS}/404/post/login"}
            token = secrets.token_hex(16)
            self._tokens.add(token)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600}

    def authorized(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        with self.lock:
            return scheme.lower() in ("bearer", "token") and token in self._tokens

    def logout(self, header: str) -> None:
        with self.lock:
            self._tokens.discard(header.partition(" ")[2])

    def history(self) -> list[dict[str, Any]]:
        with self.lock:
            return [job.row(self.plans.get(job.plan_id, f"plan {job.plan_id}")) for job in self.jobs]

    def run_look(self, look_id: str) -> tuple[int, Any]:
        if look_id != self.look_id:
            return 404, {
                "message": "Not found",
                "documentation_url": f"{DOCS}/404/get/looks/:look_id/run/:result_format",
            }
        with self.lock:
            self.reads.append("look")
        return 200, self.history()

    def run_query(self, body: dict[str, Any]) -> tuple[int, Any]:
        if body.get("model") != "system__activity" or body.get("view") != "scheduled_plan":
            return 404, {"message": "Not found", "documentation_url": f"{DOCS}/404/post/queries/run/:result_format"}
        unknown = [name for name in body.get("fields") or [] if name not in FIELDS]
        if unknown:
            return 200, {"looker_error": f"Unknown field(s): {', '.join(unknown)}"}
        filters: dict[str, str] = body.get("filters") or {}
        rows = self.history()
        if "scheduled_job.status" in filters:
            rows = [r for r in rows if r["scheduled_job.status"] == filters["scheduled_job.status"]]
        if "scheduled_plan.run_once" in filters:
            rows = [
                r for r in rows if r["scheduled_plan.run_once"].lower() == filters["scheduled_plan.run_once"].lower()
            ]
        if match := re.fullmatch(r"(\d+) hours?", filters.get("scheduled_job.created_time", "")):
            since = looker_time(datetime.now(UTC) - timedelta(hours=int(match[1])))
            rows = [r for r in rows if r["scheduled_job.created_time"] >= since]
        with self.lock:
            self.queries.append(body)
            self.reads.append("query")
        return 200, [{k: v for k, v in row.items() if k in body["fields"]} for row in rows]

    def scheduled_plan(self, plan_id: int) -> tuple[int, Any]:
        with self.lock:
            if plan_id not in self.plans or plan_id in self.deleted:
                return 404, {
                    "message": "Not found",
                    "documentation_url": f"{DOCS}/404/get/scheduled_plans/:scheduled_plan_id",
                }
            return 200, {"id": str(plan_id), "name": self.plans[plan_id], "enabled": True, "run_once": False}

    def run_once(self, plan_id: int) -> tuple[int, Any]:
        with self.lock:
            self.run_once_calls.append(plan_id)
            if plan_id not in self.plans or plan_id in self.deleted:
                doc = f"{DOCS}/404/post/scheduled_plans/:scheduled_plan_id/run_once"
                return 404, {"message": "Not found", "documentation_url": doc}
            if plan_id in self.failing:
                doc = f"{DOCS}/422/post/scheduled_plans/:scheduled_plan_id/run_once"
                detail = {"field": "scheduled_plan_destination", "code": "invalid", "message": self.failing[plan_id]}
                return 422, {
                    "message": "Validation Failed",
                    "errors": [{**detail, "documentation_url": doc}],
                    "documentation_url": doc,
                }
            self._next_plan += 1
            return 200, {"id": str(self._next_plan), "name": self.plans[plan_id], "run_once": True, "enabled": True}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _route(self, method: str) -> None:
        looker = self.server.looker
        path = urlparse(self.path).path
        body = self._body()
        if method == "POST" and path == "/api/4.0/login":
            self._send(*looker.login(parse_qs(body.decode())))
            return
        if not looker.authorized(self.headers.get("Authorization", "")):
            self._send(401, {"message": "Requires authentication.", "documentation_url": f"{DOCS}/401"})
            return
        if method == "DELETE" and path in ("/api/4.0/logout", "/api/logout"):
            looker.logout(self.headers.get("Authorization", ""))
            self.send_response(204)
            self.end_headers()
            return
        if method == "GET" and (m := re.fullmatch(r"/api/4\.0/looks/([^/]+)/run/json", path)):
            self._send(*looker.run_look(m[1]))
        elif method == "POST" and path == "/api/4.0/queries/run/json":
            self._send(*looker.run_query(json.loads(body or b"{}")))
        elif method == "GET" and (m := re.fullmatch(r"/api/4\.0/scheduled_plans/(\d+)", path)):
            self._send(*looker.scheduled_plan(int(m[1])))
        elif method == "POST" and (m := re.fullmatch(r"/api/4\.0/scheduled_plans/(\d+)/run_once", path)):
            self._send(*looker.run_once(int(m[1])))
        else:
            self._send(404, {"message": "Not found", "documentation_url": f"{DOCS}/404"})

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, looker: StandinLooker, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.looker = looker


@contextmanager
def running_looker(looker: StandinLooker) -> Iterator[str]:
    """Serve ``looker`` on 127.0.0.1 (a free port) while the block runs; yields its base URL."""
    server = _Server(looker)
    thread = threading.Thread(target=server.serve_forever, name="standin-looker", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def main() -> None:
    """``python -m tests.e2e.packs.standin_looker --port 19999 --demo``: serve until Ctrl-C (for trying the pack)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=19999)
    parser.add_argument("--client-id", default="standin-client")
    parser.add_argument("--client-secret", default="standin-secret")
    parser.add_argument("--demo", action="store_true", help="plans 101-104 and failed jobs, as in the scenario page")
    args = parser.parse_args()
    looker = StandinLooker(args.client_id, args.client_secret)
    if args.demo:
        now = datetime.now(UTC)
        for plan_id, name in [(101, "Daily sales to #sales"), (102, "Weekly ops"), (103, "Churn"), (104, "Finance")]:
            looker.add_plan(plan_id, name)
        for job in [
            Job(1, 101, created=now - timedelta(minutes=50)),
            Job(2, 102, created=now - timedelta(minutes=45)),
            Job(3, 101, status="success", created=now - timedelta(minutes=40)),
            Job(4, 102, run_once=True, created=now - timedelta(minutes=35)),
            Job(6, 101, created=now - timedelta(minutes=30)),
            Job(8, 103, created=now - timedelta(minutes=15)),
            Job(9, 104, created=now - timedelta(minutes=10)),
        ]:
            looker.add_job(job)
        looker.deleted.add(103)
        looker.failing[104] = "Slack integration is not enabled"
    server = _Server(looker, args.port)
    print(f"stand-in Looker API on http://127.0.0.1:{args.port} (client id {args.client_id})", flush=True)  # noqa: T201
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
