"""The deployment files (Dockerfile, docker-compose.yml) run real st2lite commands with valid settings.

There is no Docker engine where the tests run, so this reads the files: every service built from the st2lite
image must run a command of ``st2lite.cli.app`` with options it has (parsed by click itself), and its
environment, on top of the image's ``ENV`` defaults, must build a valid :class:`~st2lite.config.Settings`.
The checker returns one message per problem, naming the service, and is itself tested on broken documents.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from unittest import mock

import pytest
import typer
import yaml

from st2lite.cli import app
from st2lite.config import Settings, load_settings
from st2lite.exceptions import ConfigError

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

#: Variables st2lite reads that are not settings (``ST2LITE_CONFIG`` names the settings file).
EXTRA_VARIABLES = {"ST2LITE_CONFIG"}
#: Commands that read the packs' files, so need them mounted where ``pack register`` saw them.
READS_PACKS = {("pack", "register"), ("sensors",), ("worker",)}
#: Long-running commands that encrypt or decrypt datastore secrets, so need the key file.
NEEDS_KEY = {("api",), ("rules",), ("sensors",), ("worker",)}
#: Services that must be able to run more than once (``deploy.replicas`` / ``--scale``).
SCALABLE = {("rules",), ("sensors",), ("worker",)}


# -- the checker ----------------------------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, with continuation lines joined and comments dropped."""
    joined: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    if pending:
        joined.append(pending)
    out = []
    for line in joined:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def dockerfile_env(text: str) -> dict[str, str]:
    """The ``ENV name=value`` defaults the image gives every container."""
    env: dict[str, str] = {}
    for word, rest in dockerfile_instructions(text):
        if word == "ENV":
            for part in shlex.split(rest):
                name, sep, value = part.partition("=")
                if sep:
                    env[name] = value
    return env


def check_dockerfile(text: str) -> list[str]:
    """Problems with the Dockerfile: entry point, non-root user, health check, installing the repository."""
    problems = []
    instructions = dockerfile_instructions(text)
    words = [word for word, _ in instructions]
    args = dict(instructions)  # the last of each counts
    base = args.get("FROM", "")
    if not re.match(r"python:3\.1[1-9]-slim\b", base):
        problems.append(f"Dockerfile: FROM is '{base}', expected python:3.11-slim or a later slim Python")
    if args.get("ENTRYPOINT") != '["st2lite"]':
        problems.append(f'Dockerfile: ENTRYPOINT is {args.get("ENTRYPOINT")!r}, expected ["st2lite"]')
    user = args.get("USER", "")
    if not user or user.split(":")[0] in ("root", "0"):
        problems.append("Dockerfile: no USER, or USER is root: the processes must run as an unprivileged user")
    elif "ENTRYPOINT" in words and words.index("USER") > words.index("ENTRYPOINT"):
        problems.append("Dockerfile: USER comes after ENTRYPOINT")
    if "/api/v1/health" not in args.get("HEALTHCHECK", ""):
        problems.append("Dockerfile: no HEALTHCHECK probing /api/v1/health")
    copied = {shlex.split(rest)[-1].rstrip("/") for word, rest in instructions if word in ("COPY", "ADD")}
    installs = [rest for word, rest in instructions if word == "RUN" and "pip install" in rest]
    repo_installs = [
        rest
        for rest in installs
        if any(re.search(rf"pip install\b[^&;|]*\s{re.escape(dest)}(\s|$)", rest) for dest in copied | {"."})
    ]
    if not repo_installs:
        problems.append("Dockerfile: no RUN pip install of the copied source tree (pyproject.toml's folder)")
    if any("[dev]" in rest or "-e " in rest for rest in installs):
        problems.append("Dockerfile: pip install uses the dev extras or an editable install")
    if not any(word in ("COPY", "ADD") and "pyproject.toml" in rest for word, rest in instructions):
        problems.append("Dockerfile: pyproject.toml is not copied into the image, so pip cannot install st2lite")
    return problems


def _subcommands(command: Any) -> dict[str, Any] | None:
    """A command group's subcommands (``None`` for a leaf); typer vendors click, so this duck-types."""
    commands = getattr(command, "commands", None)
    return commands if isinstance(commands, dict) else None


def _command_problems(service: str, argv: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """The st2lite subcommand path ``argv`` runs, and what is wrong with it (click parses the options)."""
    command: Any = typer.main.get_command(app)
    path: list[str] = []
    rest = list(argv)
    while (subcommands := _subcommands(command)) is not None and rest and not rest[0].startswith("-"):
        if rest[0] not in subcommands:
            where = " ".join(["st2lite", *path])
            known = ", ".join(sorted(subcommands))
            return tuple(path), [f"service '{service}': '{rest[0]}' is not a command of '{where}' (it has: {known})"]
        path.append(rest.pop(0))
        command = subcommands[path[-1]]
    if _subcommands(command) is not None:
        where = " ".join(["st2lite", *path])
        return tuple(path), [f"service '{service}': command '{where}' needs a subcommand"]
    try:
        command.make_context(" ".join(["st2lite", *path]), rest)
    except typer.TyperException as exc:
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return tuple(path), [f"service '{service}': st2lite {' '.join(path)}: {message}"]
    return tuple(path), []


def _env_value(value: Any) -> str:
    """A YAML value as Compose passes it to the container (``true`` -> ``true``, nothing -> empty)."""
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _environment(service: str, value: Any) -> tuple[dict[str, str], list[str]]:
    """A service's ``environment`` (mapping or ``NAME=value`` list) as strings."""
    if value is None:
        return {}, []
    if isinstance(value, dict):
        return {str(k): _env_value(v) for k, v in value.items()}, []
    if isinstance(value, list):
        env = {}
        for item in value:
            name, _, val = str(item).partition("=")
            env[name] = val
        return env, []
    return {}, [f"service '{service}': environment must be a mapping or a list, not {type(value).__name__}"]


@contextlib.contextmanager
def _only_these_variables(env: dict[str, str]) -> Iterator[None]:
    """The process environment with every ``ST2LITE_*`` variable replaced by ``env``'s."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ST2LITE_")}
    with mock.patch.dict(os.environ, {**base, **env}, clear=True):
        yield


def _settings_problems(service: str, env: dict[str, str]) -> tuple[Settings | None, list[str]]:
    """Build the service's settings from its ``ST2LITE_*`` variables, as its process would."""
    problems = []
    ours = {k: v for k, v in env.items() if k.startswith("ST2LITE_")}
    for name in sorted(ours):
        setting = name.removeprefix("ST2LITE_").lower()
        if setting not in Settings.model_fields and name not in EXTRA_VARIABLES:
            problems.append(f"service '{service}': {name} is not an st2lite setting (docs/configuration.md)")
    known = {k: v for k, v in ours.items() if k.removeprefix("ST2LITE_").lower() in Settings.model_fields}
    with _only_these_variables(known):
        try:
            settings = load_settings()
        except ConfigError as exc:
            return None, [*problems, f"service '{service}': {exc}"]
    return settings, problems


def _volume_targets(service: str, volumes: Any) -> tuple[dict[str, tuple[str, bool]], list[str]]:
    """``{container path: (source, read_only)}`` of a service's volumes (short or long syntax)."""
    targets: dict[str, tuple[str, bool]] = {}
    for volume in volumes or []:
        if isinstance(volume, str):
            parts = volume.split(":")
            if len(parts) == 1:
                targets[parts[0]] = ("", False)
            else:
                options = parts[2].split(",") if len(parts) > 2 else []
                targets[parts[1]] = (parts[0], "ro" in options)
        elif isinstance(volume, dict):
            targets[str(volume.get("target"))] = (str(volume.get("source", "")), bool(volume.get("read_only")))
        else:
            return targets, [f"service '{service}': volume {volume!r} is neither a string nor a mapping"]
    return targets, []


def _mounted_read_only(
    service: str, targets: dict[str, tuple[str, bool]], folder: PurePosixPath, what: str
) -> list[str]:
    """``folder`` (or folders inside it) must be bind-mounted read-only."""
    inside = {t: v for t, v in targets.items() if PurePosixPath(t) == folder or folder in PurePosixPath(t).parents}
    if not inside:
        return [f"service '{service}': {what} {folder} is not mounted (mount it read-only, e.g. ./packs:{folder}:ro)"]
    return [
        f"service '{service}': {what} mount {t} is not read-only (add :ro)" for t, (_, ro) in inside.items() if not ro
    ]


def _depends_on(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [str(name) for name in value]
    return [str(name) for name in value or []]


def check_compose(doc: Any, image_env: dict[str, str]) -> list[str]:
    """Problems with a compose document; ``image_env`` holds the image's ``ENV`` defaults."""
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
        return ["docker-compose.yml: no 'services' mapping"]
    services: dict[str, Any] = doc["services"]
    secrets = doc.get("secrets") or {}
    named_volumes = doc.get("volumes") or {}
    problems: list[str] = []
    layout: dict[str, tuple[str, str]] = {}  # service -> (packs_path, site_dir), for the services reading packs

    for name, service in services.items():
        if not isinstance(service, dict):
            problems.append(f"service '{name}': must be a mapping")
            continue
        for dependency in _depends_on(service.get("depends_on")):
            if dependency not in services:
                problems.append(f"service '{name}': depends_on names '{dependency}', which is not a service")
        image = str(service.get("image", ""))
        if "st2lite" not in image and "build" not in service:
            continue

        # The command: a real st2lite subcommand, run by the image's entry point.
        if "entrypoint" in service:
            problems.append(f"service '{name}': sets entrypoint; the image's entry point (st2lite) must run it")
        raw = service.get("command")
        if raw is None:
            problems.append(f"service '{name}': no command (say which st2lite subcommand it runs)")
            continue
        argv = shlex.split(raw) if isinstance(raw, str) else [str(part) for part in raw]
        path, command_problems = _command_problems(name, argv)
        problems += command_problems

        # The settings its process would build.
        env, found = _environment(name, service.get("environment"))
        problems += found
        settings, found = _settings_problems(name, {**image_env, **env})
        problems += found
        if settings is None or found:
            continue
        if not settings.redis_url:
            problems.append(f"service '{name}': ST2LITE_REDIS_URL is not set (every process needs the one Redis)")
        else:
            host = settings.redis_url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1].split(":")[0]
            if host not in services and "." not in host:
                problems.append(f"service '{name}': ST2LITE_REDIS_URL names host '{host}', which is not a service")

        # Secrets: the key file setting names a secret the service is given and the file defines.
        given = [s if isinstance(s, str) else str(s.get("source")) for s in service.get("secrets") or []]
        key_file = env.get("ST2LITE_DATASTORE_KEY_FILE", "")
        if path in NEEDS_KEY and not key_file:
            problems.append(f"service '{name}': ST2LITE_DATASTORE_KEY_FILE is not set (it reads datastore secrets)")
        if key_file.startswith("/run/secrets/"):
            secret = key_file.removeprefix("/run/secrets/")
            if secret not in given:
                problems.append(
                    f"service '{name}': ST2LITE_DATASTORE_KEY_FILE names secret '{secret}', not in its secrets"
                )
            if secret not in secrets or "file" not in (secrets.get(secret) or {}):
                problems.append(
                    f"service '{name}': secret '{secret}' is not declared with a file under top-level secrets"
                )
        for secret in given:
            if secret not in secrets:
                problems.append(f"service '{name}': uses secret '{secret}', which top-level secrets does not declare")

        # Packs: read-only, at the same paths as where `pack register` recorded them.
        targets, found = _volume_targets(name, service.get("volumes"))
        problems += found
        for target, (source, read_only) in targets.items():
            if source.startswith(("./packs", "./rules", "./actions", "./sensors", "./configs")) and not read_only:
                problems.append(f"service '{name}': {source} is mounted at {target} read-write (add :ro)")
        if path in READS_PACKS:
            for folder in settings.packs_paths:
                problems += _mounted_read_only(name, targets, PurePosixPath(folder), "packs folder")
            problems += _mounted_read_only(name, targets, PurePosixPath(settings.site_dir), "site folder")
            layout[name] = (settings.packs_path, str(settings.site_dir))

        # Scaling and restarts.
        if path in SCALABLE:
            if "container_name" in service:
                problems.append(f"service '{name}': container_name stops it from being scaled; remove it")
            if service.get("ports"):
                problems.append(f"service '{name}': publishes ports, so a second replica cannot start")
        restart = service.get("restart")
        if command_problems:
            pass  # which policy fits depends on the command
        elif path == ("pack", "register"):
            if restart not in (None, "no", "on-failure"):
                problems.append(f"service '{name}': a one-shot registration must not restart {restart!r}")
        elif restart not in ("always", "unless-stopped", "on-failure"):
            problems.append(f"service '{name}': no restart policy (use unless-stopped)")

    if len(set(layout.values())) > 1:
        seen = ", ".join(f"{service}: {packs} and {site}" for service, (packs, site) in sorted(layout.items()))
        problems.append(f"the packs and site folder differ between services ({seen}); the registry records one path")

    redis = services.get("redis")
    if not isinstance(redis, dict):
        problems.append("service 'redis' is missing")
    else:
        command = redis.get("command") or []
        argv = shlex.split(command) if isinstance(command, str) else [str(part) for part in command]
        if not any(argv[i : i + 2] in (["--appendonly", "yes"], ["appendonly", "yes"]) for i in range(len(argv))):
            problems.append("service 'redis': AOF persistence is off (run redis-server --appendonly yes)")
        test = (redis.get("healthcheck") or {}).get("test") or []
        test_text = test if isinstance(test, str) else " ".join(str(part) for part in test)
        if "redis-cli" not in test_text or "ping" not in test_text:
            problems.append("service 'redis': no healthcheck running redis-cli ping")
        data, found = _volume_targets("redis", redis.get("volumes"))
        problems += found
        source = data.get("/data", ("", False))[0]
        if source not in named_volumes:
            problems.append("service 'redis': /data is not on a named volume declared under top-level volumes")
    return problems


# -- the real files -------------------------------------------------------------------------------


@pytest.fixture
def clean_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No stray ./st2lite.yaml changes the settings built from the compose file's variables."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def compose() -> Any:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def image_env() -> dict[str, str]:
    return dockerfile_env(DOCKERFILE.read_text(encoding="utf-8"))


def test_dockerfile_runs_st2lite_as_an_unprivileged_user_with_a_health_check() -> None:
    assert check_dockerfile(DOCKERFILE.read_text(encoding="utf-8")) == []


def test_dockerfile_env_is_valid_settings(image_env: dict[str, str], clean_cwd: None) -> None:
    assert set(image_env) >= {"ST2LITE_HOME", "ST2LITE_PACKS_PATH", "ST2LITE_SITE_DIR"}
    settings, problems = _settings_problems("image", image_env)
    assert problems == []
    assert settings is not None and settings.api_host == "0.0.0.0"


def test_compose_file_is_consistent(compose: Any, image_env: dict[str, str], clean_cwd: None) -> None:
    problems = check_compose(compose, image_env)
    assert problems == [], "\n".join(problems)


def test_compose_runs_the_processes_the_issue_asks_for(compose: Any) -> None:
    services = compose["services"]
    commands = {name: tuple(svc.get("command") or ()) for name, svc in services.items()}
    assert commands["register"] == ("pack", "register")
    assert commands["api"] == ("api",)
    for name, command, replicas in (("rules", ("rules",), 2), ("sensors", ("sensors",), 2), ("worker", ("worker",), 2)):
        assert commands[name] == command
        assert services[name]["deploy"]["replicas"] == replicas, name
    # Every long-running st2lite process waits for the registration to have succeeded.
    for name in ("api", "rules", "sensors", "worker"):
        assert services[name]["depends_on"]["register"] == {"condition": "service_completed_successfully"}, name
        assert services[name]["depends_on"]["redis"] == {"condition": "service_healthy"}, name
    assert services["api"]["ports"] == ["9101:9101"]
    assert services["api"]["environment"]["ST2LITE_API_HOST"] == "0.0.0.0"


# -- the checker finds what is wrong --------------------------------------------------------------


def test_checker_reports_unknown_commands_options_and_settings(
    compose: Any, image_env: dict[str, str], clean_cwd: None
) -> None:
    broken = copy.deepcopy(compose)
    services = broken["services"]
    services["rules"]["command"] = ["rulez"]
    services["worker"]["command"] = ["worker", "--bursty"]
    services["register"]["command"] = "pack regster"
    services["sensors"]["environment"] = {**services["sensors"]["environment"], "ST2LITE_SENSOR_LEASE": "5"}
    services["api"]["environment"] = {**services["api"]["environment"], "ST2LITE_API_PORT": "99999"}

    problems = check_compose(broken, image_env)

    text = "\n".join(problems)
    assert "service 'rules': 'rulez' is not a command of 'st2lite' (it has:" in text
    assert "service 'worker': st2lite worker: No such option: --bursty" in text
    assert "service 'register': 'regster' is not a command of 'st2lite pack'" in text
    assert "service 'sensors': ST2LITE_SENSOR_LEASE is not an st2lite setting" in text
    assert "service 'api': invalid configuration: setting 'api_port' (ST2LITE_API_PORT)" in text
    assert len(problems) == 5, text


def test_checker_reports_mounts_secrets_dependencies_and_redis(
    compose: Any, image_env: dict[str, str], clean_cwd: None
) -> None:
    broken = copy.deepcopy(compose)
    services = broken["services"]
    services["worker"]["volumes"] = ["./packs:/packs", "./rules:/site/rules:ro"]
    services["sensors"]["volumes"] = ["./rules:/site/rules:ro"]
    services["api"]["secrets"] = []
    services["rules"]["depends_on"] = {**services["rules"]["depends_on"], "redis-sentinel": {}}
    services["rules"]["container_name"] = "rules"
    services["redis"]["command"] = ["redis-server"]
    services["redis"]["healthcheck"] = {"test": ["CMD", "true"]}
    services["register"]["environment"] = {**services["register"]["environment"], "ST2LITE_PACKS_PATH": "/srv/packs"}
    services["register"]["volumes"] = ["./packs:/srv/packs:ro", "./rules:/site/rules:ro"]

    text = "\n".join(check_compose(broken, image_env))

    assert "service 'worker': ./packs is mounted at /packs read-write (add :ro)" in text
    assert "service 'worker': packs folder mount /packs is not read-only (add :ro)" in text
    assert "service 'sensors': packs folder /packs is not mounted" in text
    assert "service 'api': ST2LITE_DATASTORE_KEY_FILE names secret 'st2lite_datastore_key', not in its secrets" in text
    assert "service 'rules': depends_on names 'redis-sentinel', which is not a service" in text
    assert "service 'rules': container_name stops it from being scaled" in text
    assert "the packs and site folder differ between services" in text and "register: /srv/packs" in text
    assert "service 'redis': AOF persistence is off" in text
    assert "service 'redis': no healthcheck running redis-cli ping" in text


def test_checker_reports_a_broken_dockerfile() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    broken = (
        text.replace('ENTRYPOINT ["st2lite"]', 'ENTRYPOINT ["python", "-m", "st2lite"]')
        .replace("USER 10001:10001", "USER root")
        .replace("HEALTHCHECK", "# HEALTHCHECK")
        .replace("pip install --no-cache-dir --disable-pip-version-check /src", "pip install st2lite")
    )
    problems = check_dockerfile(broken)
    assert problems == [
        'Dockerfile: ENTRYPOINT is \'["python", "-m", "st2lite"]\', expected ["st2lite"]',
        "Dockerfile: no USER, or USER is root: the processes must run as an unprivileged user",
        "Dockerfile: no HEALTHCHECK probing /api/v1/health",
        "Dockerfile: no RUN pip install of the copied source tree (pyproject.toml's folder)",
    ]
