"""Auth against a real API and Redis: tokens, API keys, roles, secrets, what a refused caller is told."""

from __future__ import annotations

import re
from typing import Any

import httpx
import orjson
import pytest
from conftest import ADMIN, ApiServer, fault, serve_api, wait_for

from st2lite import keys
from st2lite.audit import AuditLog
from st2lite.embedded_redis import free_port
from st2lite.encryption import generate_key_file
from st2lite.permissions import Role

pytestmark = [pytest.mark.redis, pytest.mark.e2e]

MISSING = (
    "authentication required: send an API key (header St2-Api-Key) or a token (header X-Auth-Token, "
    "from POST /auth/v1/tokens); see docs/auth.md"
)
INVALID = "invalid or expired credentials; log in again or use a valid API key"
PASSWORD = "s3cret pass"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def anonymous(api: ApiServer) -> httpx.Client:
    return httpx.Client(base_url=api.url, timeout=10.0)


def as_key(api: ApiServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=api.url, timeout=10.0, headers={"St2-Api-Key": key})


def login(api: ApiServer, user: str, password: str, **body: Any) -> httpx.Response:
    return anonymous(api).post("/auth/v1/tokens", json=body, auth=(user, password))


def audit_actors(api: ApiServer, kind: str) -> list[str]:
    return [e.actor for e in AuditLog(api.redis, maxlen=10_000).read() if e.kind == kind]


# -- no credentials, wrong credentials ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/executions"),
        ("POST", "/api/v1/executions"),
        ("GET", "/api/v1/keys/"),
        ("GET", "/metrics"),
        ("POST", "/api/v1/webhooks/hello"),
        ("POST", "/api/v1/webhooks/st2"),
        ("GET", "/api/v1/triggertypes"),
        ("GET", "/api/v1/user"),
        ("GET", "/api/v1/apikeys"),
        ("GET", "/api/v1/nothere"),
        ("GET", "/stream/v1/stream"),
        ("GET", "/api/v1/executions/x/output"),
    ],
)
def test_every_endpoint_but_health_needs_credentials(api_server: ApiServer, method: str, path: str) -> None:
    response = anonymous(api_server).request(method, path, json={"action": "core.noop"})
    assert fault(response, 401) == MISSING
    assert api_server.trigger_stream() == [] and api_server.execution_ids() == []


def test_health_and_the_openapi_document_need_none(api_server: ApiServer) -> None:
    client = anonymous(api_server)
    assert client.get("/api/v1/health").status_code == 200
    assert client.get("/openapi.json").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"St2-Api-Key": "not-a-key"},
        {"X-Auth-Token": "not-a-token"},
        {"Authorization": "Bearer not-either"},
        {"Cookie": "auth-token=nope"},
    ],
)
def test_wrong_credentials_get_401_that_does_not_say_why(api_server: ApiServer, headers: dict[str, str]) -> None:
    response = anonymous(api_server).get("/api/v1/executions", headers=headers)
    assert fault(response, 401) == INVALID
    assert "not-a" not in response.text and "nope" not in response.text


# -- tokens ---------------------------------------------------------------------------------------


def test_a_token_from_basic_credentials_works_in_every_place_stackstorm_accepts(api_server: ApiServer) -> None:
    api_server.user("alice", Role.OPERATOR, PASSWORD)
    response = login(api_server, "alice", PASSWORD)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "user", "token", "expiry", "metadata"} and body["user"] == "alice"
    assert ISO_Z.match(body["expiry"]) and re.fullmatch(r"[0-9a-f]{64}", body["token"])
    token = body["token"]
    client = anonymous(api_server)
    for kwargs in (
        {"headers": {"X-Auth-Token": token}},
        {"headers": {"Authorization": f"Bearer {token}"}},
        {"params": {"x-auth-token": token}},
        {"headers": {"Cookie": f"auth-token={token}"}},
    ):
        who = client.get("/api/v1/user", **kwargs)
        assert who.status_code == 200, (kwargs, who.text)
        assert who.json()["username"] == "alice"
    me = client.get("/api/v1/user", headers={"X-Auth-Token": token}).json()
    assert me == {
        "username": "alice",
        "authentication": {"method": "authentication token", "location": "header", "token_expire": body["expiry"]},
        "rbac": {"enabled": True, "roles": ["operator"], "is_admin": False},
    }
    # Redis keeps only the token's hash.
    assert token not in str([api_server.redis.get(k) for k in api_server.redis.scan_iter("st2lite:auth:token:*")])
    assert audit_actors(api_server, "auth.token_created") == ["api:alice"]


def test_wrong_user_and_wrong_password_get_the_same_401(api_server: ApiServer) -> None:
    api_server.user("alice", Role.OPERATOR, PASSWORD)
    wrong_password = login(api_server, "alice", "guess")
    wrong_user = login(api_server, "mallory", PASSWORD)
    no_basic = anonymous(api_server).post("/auth/v1/tokens", json={})

    assert fault(wrong_password, 401) == fault(wrong_user, 401) == "Invalid or missing credentials"
    assert fault(no_basic, 401) == "send the user and password with HTTP Basic authentication"
    assert audit_actors(api_server, "auth.token_created") == []


def test_a_token_expires_and_a_ttl_over_the_limit_is_refused(api_server: ApiServer) -> None:
    api_server.user("alice", Role.VIEWER, PASSWORD)
    too_long = login(api_server, "alice", PASSWORD, ttl=api_server.settings.token_ttl_max + 1)
    assert fault(too_long, 400) == (
        f"ttl {api_server.settings.token_ttl_max + 1} is over the longest allowed, "
        f"{api_server.settings.token_ttl_max} seconds (token_ttl_max)"
    )
    token = login(api_server, "alice", PASSWORD, ttl=1).json()["token"]
    client = anonymous(api_server)
    assert client.get("/api/v1/user", headers={"X-Auth-Token": token}).status_code == 200
    expired = wait_for(
        lambda: (r := client.get("/api/v1/user", headers={"X-Auth-Token": token})).status_code == 401 and r,
        "the token to expire",
    )
    assert fault(expired, 401) == INVALID


def test_tokens_survive_an_api_restart_and_die_with_their_user(api_server: ApiServer) -> None:
    api_server.user("alice", Role.VIEWER, PASSWORD)
    token = login(api_server, "alice", PASSWORD).json()["token"]
    other = api_server.settings.model_copy(update={"api_port": free_port(), "auth_cache_seconds": 0.0})
    with serve_api(other) as base, httpx.Client(base_url=base, headers={"X-Auth-Token": token}) as client:
        assert client.get("/api/v1/user").json()["username"] == "alice"
        assert client.post("/auth/v1/tokens/validate", json={"token": token}).json() == {"valid": True}
        api_server.cli("user", "remove", "alice")
        assert fault(client.get("/api/v1/user"), 401) == INVALID
        assert client.post("/auth/v1/tokens/validate", json={"token": token}).json() == {"valid": False}


# -- API keys -------------------------------------------------------------------------------------


def test_an_api_key_is_shown_once_and_stored_as_a_hash(api_server: ApiServer) -> None:
    created = api_server.http.post("/api/v1/apikeys", json={"metadata": {"used_by": "ci"}})

    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert body["user"] == ADMIN and body["role"] == "admin" and body["metadata"] == {"used_by": "ci"}
    assert body["enabled"] is True and ISO_Z.match(body["created_at"])
    listed = api_server.http.get("/api/v1/apikeys")
    assert key not in listed.text and key not in api_server.http.get(f"/api/v1/apikeys/{body['id']}").text
    assert body["id"] in [k["id"] for k in listed.json()] and listed.headers["X-Total-Count"] == "2"
    stored = [api_server.redis.hgetall(keys.API_KEYS), api_server.redis.hgetall(keys.API_KEY_HASHES)]
    assert key not in str(stored)
    assert as_key(api_server, key).get("/api/v1/user").json()["authentication"] == {
        "method": "API key",
        "location": "header",
    }
    via_query = anonymous(api_server).get("/api/v1/user", params={"st2-api-key": key})
    assert via_query.json()["authentication"]["location"] == "query"
    assert audit_actors(api_server, "api_key.created") == ["test", f"api:{ADMIN} (api key {api_server.admin_key_id})"]


def test_the_first_valid_credential_counts_whether_remembered_or_not(api_server: ApiServer) -> None:
    """The middleware reads the query string and cookies only when a header credential is not remembered."""
    api_server.user("vic", Role.VIEWER, PASSWORD)
    key, viewer_key = api_server.api_key(ADMIN, Role.ADMIN), api_server.api_key("vic", Role.VIEWER)
    client = anonymous(api_server)

    def who(**kwargs: Any) -> tuple[str, str]:
        response = client.get("/api/v1/user", **kwargs)
        assert response.status_code == 200, (kwargs, response.text)
        return response.json()["username"], response.json()["authentication"]["location"]

    for _ in range(2):  # the second time every good answer is remembered
        # A good header key wins over a key in the query and a malformed cookie header.
        assert who(
            headers={"St2-Api-Key": key, "Cookie": "auth-token=x; ;;=="}, params={"st2-api-key": viewer_key}
        ) == (ADMIN, "header")
        # A wrong header key falls through to the query's key, then to the cookie's token.
        assert who(headers={"St2-Api-Key": "wrong"}, params={"st2-api-key": viewer_key}) == ("vic", "query")
        assert who(params={"st2-api-key": viewer_key}) == ("vic", "query")
    token = login(api_server, "vic", PASSWORD).json()["token"]
    for _ in range(2):
        assert who(headers={"X-Auth-Token": "wrong", "Cookie": f"auth-token={token}"}) == ("vic", "cookie")
    assert fault(client.get("/api/v1/user", headers={"St2-Api-Key": "wrong"}, params={"st2-api-key": "no"}), 401) == (
        INVALID
    )


def test_a_disabled_or_deleted_key_stops_working(api_server: ApiServer) -> None:
    created = api_server.http.post("/api/v1/apikeys", json={"user": "ci", "role": "operator"}).json()
    client = as_key(api_server, created["key"])
    assert client.get("/api/v1/executions").status_code == 200

    disabled = api_server.http.put(f"/api/v1/apikeys/{created['id']}", json={**created, "enabled": False})
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    assert fault(client.get("/api/v1/executions"), 401) == INVALID
    api_server.http.put(f"/api/v1/apikeys/{created['id']}", json={"enabled": True})
    assert client.get("/api/v1/executions").status_code == 200
    assert api_server.http.delete(f"/api/v1/apikeys/{created['id']}").status_code == 204
    assert fault(client.get("/api/v1/executions"), 401) == INVALID
    assert fault(api_server.http.delete(f"/api/v1/apikeys/{created['id']}"), 404) == (
        f'API key "{created["id"]}" is not found; list the keys with GET /api/v1/apikeys'
    )


def test_a_key_never_outranks_its_maker_or_its_owner(api_server: ApiServer) -> None:
    api_server.user("olga", Role.OPERATOR, PASSWORD)
    # An admin may make an admin key for olga, but while olga is an operator the key acts as one.
    key = api_server.http.post("/api/v1/apikeys", json={"user": "olga", "role": "admin"}).json()["key"]
    assert as_key(api_server, key).get("/api/v1/user").json()["rbac"]["roles"] == ["operator"]
    # A service account (in no users file) gets what its key says.
    ci = api_server.http.post("/api/v1/apikeys", json={"user": "ci-bot"}).json()
    assert ci["role"] == "viewer"
    # An operator may not make keys at all.
    denied = as_key(api_server, key).post("/api/v1/apikeys", json={})
    assert fault(denied, 403) == (
        "olga (role operator) lacks the permission 'api_key_create'; ask an admin for a role that grants it "
        "(docs/auth.md)"
    )


# -- roles ----------------------------------------------------------------------------------------


def test_a_viewer_reads_but_cannot_run_or_send(api_server: ApiServer) -> None:
    viewer = as_key(api_server, api_server.api_key("vic", Role.VIEWER))
    assert viewer.get("/api/v1/executions").status_code == 200
    assert viewer.get("/api/v1/triggertypes").status_code == 200

    run = viewer.post("/api/v1/executions", json={"action": "core.noop"})
    hook = viewer.post("/api/v1/webhooks/hello", json={"name": "st2"})
    assert fault(run, 403).startswith("vic (role viewer) lacks the permission 'action_execute'")
    assert fault(hook, 403).startswith("vic (role viewer) lacks the permission 'webhook_send' to send webhooks")
    assert api_server.execution_ids() == [] and api_server.trigger_stream() == []


def test_an_operator_runs_actions_as_itself(api_server: ApiServer) -> None:
    operator = as_key(api_server, api_server.api_key("olga", Role.OPERATOR))
    created = operator.post("/api/v1/executions", json={"action": "core.noop", "user": None})
    assert created.status_code == 201, created.text
    assert created.json()["context"]["user"] == "olga"
    hook = operator.post("/api/v1/webhooks/hello", json={"name": "st2"})
    assert hook.status_code == 202, hook.text


def test_secrets_and_scopes_follow_the_role(api_server: ApiServer) -> None:
    generate_key_file(api_server.settings.datastore_key_path, force=True)
    admin = api_server.http
    assert admin.put("/api/v1/keys/db_pw", json={"value": "s3cret", "secret": True}).status_code == 200
    viewer = as_key(api_server, api_server.api_key("vic", Role.VIEWER))
    operator = as_key(api_server, api_server.api_key("olga", Role.OPERATOR))

    # Everyone with view sees the value masked; only an admin decrypts a system secret.
    assert viewer.get("/api/v1/keys/db_pw").json()["value"] == "********"
    assert admin.get("/api/v1/keys/db_pw", params={"decrypt": "true"}).json()["value"] == "s3cret"
    for client, who in ((viewer, "vic (role viewer)"), (operator, "olga (role operator)")):
        denied = client.get("/api/v1/keys/db_pw", params={"decrypt": "true"})
        assert fault(denied, 403).startswith(f"{who} lacks the permission 'key_value_pair_decrypt'")
        listed = client.get("/api/v1/keys", params={"decrypt": "True"})
        assert fault(listed, 403).startswith(f"{who} lacks the permission 'key_value_pair_decrypt'")
        assert "s3cret" not in client.get("/api/v1/keys").text

    # An operator keeps its own user-scope values, secret or not, and reads them in clear.
    own = operator.put("/api/v1/keys/token", json={"value": "mine", "scope": "user", "user": None, "secret": True})
    assert own.status_code == 200 and own.json()["user"] == "olga"
    assert operator.get("/api/v1/keys/token", params={"scope": "user", "decrypt": "true"}).json()["value"] == "mine"
    system = operator.put("/api/v1/keys/db_pw", json={"value": "overwritten"})
    assert fault(system, 403).startswith("olga (role operator) lacks the permission 'key_value_pair_set'")
    others = operator.get("/api/v1/keys/token", params={"scope": "user", "user": "bob"})
    assert fault(others, 403).startswith("olga (role operator) lacks the permission 'key_value_pair_decrypt'")
    assert admin.get("/api/v1/keys/db_pw", params={"decrypt": "true"}).json()["value"] == "s3cret"
    # A viewer changes nothing, not even its own scope, and sees its own secrets masked.
    mine = viewer.put("/api/v1/keys/x", json={"value": "v", "scope": "user"})
    assert fault(mine, 403).startswith("vic (role viewer) lacks the permission 'key_value_pair_own'")
    # The audit log names who changed what.
    changes = [
        (e.actor, e.data.get("name"))
        for e in AuditLog(api_server.redis, maxlen=10_000).read()
        if e.kind.startswith("key_")
    ]
    olga_key = [k["id"] for k in admin.get("/api/v1/apikeys").json() if k["user"] == "olga"][0]
    assert changes == [
        (f"api:{ADMIN} (api key {api_server.admin_key_id})", "db_pw"),
        (f"api:olga (api key {olga_key})", "token"),
    ]


def test_an_admin_may_act_for_another_user_of_the_datastore(api_server: ApiServer) -> None:
    made = api_server.http.put("/api/v1/keys/k", json={"value": "v", "scope": "user", "user": "bob"})
    assert made.status_code == 200 and made.json()["user"] == "bob"
    stored = api_server.redis.hgetall(keys.kv("user:bob", "k"))
    assert stored["v"] == "v"


# -- webhooks with their own signature ---------------------------------------------------------------


def test_credentials_and_a_signature_are_alternatives_only_for_signed_webhooks(api_server: ApiServer) -> None:
    # 'hello' is not a declared signed webhook: without credentials it is refused.
    assert fault(anonymous(api_server).post("/api/v1/webhooks/hello", json={}), 401) == MISSING
    stored = [orjson.loads(f["t"]) for _i, f in api_server.redis.xrange(keys.TRIGGER_STREAM)]
    assert stored == []


# -- oversized bodies -----------------------------------------------------------------------------------


def test_an_oversized_body_is_413_before_anything_is_stored(api_server: ApiServer) -> None:
    limit = api_server.settings.max_request_bytes
    big = {"action": "core.local", "parameters": {"cmd": "x" * limit}}
    declared = api_server.http.post("/api/v1/executions", json=big)
    message = fault(declared, 413)
    assert message.startswith("request body of ") and f"over the limit of {limit} bytes" in message

    def chunks() -> Any:  # no Content-Length: counted as it arrives
        yield b'{"name": "k", "value": "'
        for _ in range(limit // 65536 + 1):
            yield b"x" * 65536
        yield b'"}'

    streamed = api_server.http.put("/api/v1/keys/k", content=chunks(), headers={"content-type": "application/json"})
    assert "max_request_bytes" in fault(streamed, 413)
    assert api_server.execution_ids() == [] and api_server.http.get("/api/v1/keys").json() == []
