"""Settings: every tunable of st2lite in one typed, validated object.

Values come, highest priority first, from keyword arguments (CLI flags),
``ST2LITE_*`` environment variables, the YAML file named by ``ST2LITE_CONFIG``
(else ``./st2lite.yaml`` when present), then the defaults below. The object is
built once in each process entry point and passed down; nothing imports a
global settings instance. docs/configuration.md lists every setting.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)

from st2lite.exceptions import ConfigError

__all__ = ["Settings", "load_settings"]

#: The statuses an execution ends in (the action trigger can be emitted for these).
_FINAL_STATUSES = ("succeeded", "failed", "timeout", "canceled", "abandoned")
#: Seconds in a day, for the retention defaults below.
DAY = 86_400


class Settings(BaseSettings):
    """The typed configuration of every st2lite process."""

    model_config = SettingsConfigDict(env_prefix="ST2LITE_", extra="forbid", frozen=True, validate_default=True)

    #: Folder for st2lite's own state: the embedded Redis data and AOF, run files, logs.
    home: Path = Field(default_factory=lambda: Path.home() / ".st2lite")
    #: Redis to use (``redis://host:port/db``). Empty: ``st2lite up`` starts an embedded redis-server.
    redis_url: str = ""
    #: Port of the embedded redis-server; 0 picks a free port.
    embedded_redis_port: int = Field(default=0, ge=0, le=65535)
    #: Address the API listens on.
    api_host: str = "127.0.0.1"
    #: Port the API listens on.
    api_port: int = Field(default=9101, ge=1, le=65535)
    #: Base URL the CLI uses to reach the API; empty means ``http://{api_host}:{api_port}``.
    api_url: str = ""
    #: Colon-separated folders holding packs (each pack a folder with pack.yaml).
    packs_path: str = "packs"
    #: Folder whose ``rules/``, ``actions/`` and ``sensors/`` are the site's own pack ``default``.
    site_dir: Path = Path(".")
    #: Folder of the packs' configs (``<pack>.yaml`` each, as StackStorm's /opt/stackstorm/configs);
    #: empty: ``<site_dir>/configs``.
    configs_dir: Path | None = None
    #: Worker processes started by ``st2lite up``.
    workers: int = Field(default=2, ge=0, le=256)
    #: Trigger instances kept in the trigger stream (approximate; older entries are trimmed).
    trigger_stream_maxlen: int = Field(default=1_000_000, ge=1_000)
    #: Audit events kept in the audit stream (approximate; older events are trimmed).
    audit_stream_maxlen: int = Field(default=5_000_000, ge=1_000)
    #: Seconds an execution, its enforcement and trigger instance record are kept.
    execution_ttl: int = Field(default=30 * DAY, ge=60)
    #: Largest webhook body or trigger payload accepted, in bytes.
    max_payload_bytes: int = Field(default=1_048_576, ge=1_024)
    #: Largest request body of every other endpoint (run requests, rules, datastore values...), in bytes.
    max_request_bytes: int = Field(default=4_194_304, ge=65_536)
    #: Trigger instances a rules engine reads per batch.
    engine_batch_size: int = Field(default=200, ge=1, le=10_000)
    #: Milliseconds a trigger instance may stay unacknowledged before another engine reclaims it.
    engine_claim_idle_ms: int = Field(default=30_000, ge=100)
    #: Seconds without a heartbeat after which a running execution becomes ``abandoned``.
    abandon_after: float = Field(default=30.0, ge=1.0)
    #: Emit ``core.st2.generic.actiontrigger`` when an execution ends.
    action_trigger_enabled: bool = True
    #: Emit it even when no enabled rule listens to it (off: an unwatched trigger can cause nothing).
    action_trigger_unwatched: bool = False
    #: Statuses that emit the action trigger (in the environment: comma-separated).
    action_trigger_statuses: Annotated[tuple[str, ...], NoDecode] = (
        "succeeded",
        "failed",
        "timeout",
        "canceled",
        "abandoned",
    )
    #: Key file encrypting datastore secrets (``st2lite key generate-key``); empty: ``<home>/keys/datastore.key``.
    datastore_key_file: Path | None = None
    #: Seconds the timer leadership lasts without renewal: a dead leader's timers move to another engine
    #: within about this long (plus ``timer_loop_interval``). Renewed every third of it.
    timer_lease_seconds: float = Field(default=10.0, ge=0.2, le=3600)
    #: Longest wait, in seconds, between two rounds of a timer engine (lease renewal, registry changes,
    #: a follower's bid for the leadership); a tick that falls due wakes the leader sooner.
    timer_loop_interval: float = Field(default=0.5, ge=0.01, le=60)
    # -- sensor containers (docs/sensors.md) --
    #: Name of this sensor container in Redis; empty: ``<hostname>-<pid>``. Must differ between containers.
    sensor_node_name: str = ""
    #: Seconds a container's hold on a sensor (and its heartbeat) lasts without renewal; renewed every third
    #: of it. A dead container's sensors run elsewhere within this plus one third of it.
    sensor_lease_seconds: float = Field(default=15.0, ge=0.3, le=3600)
    #: Seconds before restarting a sensor process that exited; doubles with each exit in a row.
    sensor_restart_backoff: float = Field(default=1.0, ge=0.01, le=3600)
    #: The longest pause before restarting a sensor process (it is restarted for ever).
    sensor_restart_backoff_max: float = Field(default=60.0, ge=0.01, le=86_400)
    #: Seconds a sensor process must run for its restart pause to go back to ``sensor_restart_backoff``.
    sensor_stable_seconds: float = Field(default=60.0, ge=0.1)
    #: Seconds a sensor gets to return from ``run`` and ``cleanup`` after it is told to stop, then it is killed.
    sensor_stop_timeout: float = Field(default=5.0, ge=0.1, le=600)
    # -- auth (docs/auth.md) --
    #: Require credentials on every endpoint but health. Off: anyone who reaches the API is an admin
    #: (logged as a warning at every start).
    auth_enabled: bool = True
    #: The users file (name, role, bcrypt hash); empty: ``<home>/users.yaml``.
    users_file: Path | None = None
    #: Seconds a token from ``POST /auth/v1/tokens`` lasts when the request asks for no ``ttl``.
    token_ttl: int = Field(default=86_400, ge=60)
    #: The longest ``ttl`` a token request may ask for.
    token_ttl_max: int = Field(default=30 * 86_400, ge=60)
    #: Seconds an API process trusts a checked token or API key before checking it again: a revoked key,
    #: an expired token or a changed role is seen within this long.
    auth_cache_seconds: float = Field(default=2.0, ge=0.0, le=300)
    #: API key the ``st2lite`` CLI sends; empty: the one in ``<home>/credentials`` (written by ``st2lite up``).
    api_key: SecretStr = SecretStr("")
    #: Auth token the ``st2lite`` CLI sends instead of an API key.
    auth_token: SecretStr = SecretStr("")
    # -- execution output and the event stream (docs/api.md, "Event stream") --
    #: Store the stdout and stderr lines of running actions as they come (``/output``, the event stream).
    output_streaming: bool = True
    #: Seconds a worker gathers output lines before writing them to Redis in one round trip.
    output_flush_interval: float = Field(default=0.1, ge=0.01, le=5.0)
    #: Bytes of output stored per execution; past this one truncation line is stored and the rest is only in
    #: the result (``result.stdout``/``stderr``, which keep everything).
    output_max_bytes: int = Field(default=1_048_576, ge=1_024)
    #: Output lines stored per execution (the same truncation as ``output_max_bytes``).
    output_max_lines: int = Field(default=50_000, ge=10)
    #: Output lines kept (approximately) in the stream live readers follow; a reader further behind skips lines.
    output_events_maxlen: int = Field(default=100_000, ge=1_000)
    #: Seconds between two heartbeat comments on an idle event stream.
    stream_heartbeat: float = Field(default=25.0, ge=0.05, le=3600)
    #: Event streams one API process serves at once (each holds one Redis connection); more get a 503.
    stream_max_clients: int = Field(default=1_000, ge=1, le=100_000)
    #: Logging level of every process.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix:// (or be empty for the embedded Redis)")
        return value

    @field_validator("datastore_key_file", "configs_dir", "users_file", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("home", "site_dir", "datastore_key_file", "configs_dir", "users_file")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        # Children (redis-server --dir, the services) run from other folders: pin relative paths now.
        return None if value is None else value.expanduser().resolve()

    @field_validator("action_trigger_statuses", mode="before")
    @classmethod
    def _split_statuses(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("action_trigger_statuses")
    @classmethod
    def _known_statuses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [status for status in value if status not in _FINAL_STATUSES]
        if unknown:
            raise ValueError(f"unknown status(es) {', '.join(unknown)}; use some of: {', '.join(_FINAL_STATUSES)}")
        return value

    @property
    def packs_paths(self) -> list[Path]:
        """The pack folders of ``packs_path``, in order."""
        return [Path(p) for p in self.packs_path.split(os.pathsep) if p]

    @property
    def resolved_api_url(self) -> str:
        """The URL clients use to reach the API."""
        if self.api_url:
            return self.api_url.rstrip("/")
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::") else self.api_host
        return f"http://{host}:{self.api_port}"

    @property
    def resolved_configs_dir(self) -> Path:
        """Where pack configs are read: ``configs_dir``, else ``<site_dir>/configs``."""
        return self.configs_dir or self.site_dir / "configs"

    @property
    def datastore_key_path(self) -> Path:
        """The datastore key file: ``datastore_key_file``, else ``<home>/keys/datastore.key``."""
        return self.datastore_key_file or self.home / "keys" / "datastore.key"

    @property
    def users_path(self) -> Path:
        """The users file: ``users_file``, else ``<home>/users.yaml``."""
        return self.users_file or self.home / "users.yaml"

    @property
    def credentials_path(self) -> Path:
        """Where ``st2lite up`` keeps the admin API key the CLI reads (mode 0600)."""
        return self.home / "credentials"

    @property
    def run_dir(self) -> Path:
        """Where running processes publish how to reach them (the embedded Redis URL)."""
        return self.home / "run"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = os.environ.get("ST2LITE_CONFIG") or "st2lite.yaml"
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if Path(config_file).is_file():
            content = yaml.safe_load(Path(config_file).read_text(encoding="utf-8"))
            if content is not None and not isinstance(content, dict):
                raise ConfigError(
                    f"{config_file} must hold a mapping of settings (name: value), not a {type(content).__name__}"
                )
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        elif os.environ.get("ST2LITE_CONFIG"):
            raise ConfigError(f"ST2LITE_CONFIG names '{config_file}', which is not a file; fix the path or unset it")
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning validation errors into a :class:`ConfigError` naming each setting."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except (SettingsError, yaml.YAMLError) as exc:
        raise ConfigError(f"invalid configuration: {exc}; check st2lite.yaml and the ST2LITE_* variables") from exc
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "?"
            problems.append(f"setting '{name}' (ST2LITE_{name.upper()}): {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from exc
