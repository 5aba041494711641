"""Process entry points: each st2lite service as a thin loop with signal handling.

``st2lite sensors`` runs the sensor container (:mod:`st2lite.sensors.container`);
``st2lite rules`` runs the rules engine, the scheduler and a reaper in one
process (three threads); ``st2lite api`` runs uvicorn; ``st2lite worker``
runs :func:`st2lite.worker.serve`. SIGINT and SIGTERM stop each one after the
work in hand is written.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from st2lite.config import Settings
from st2lite.exceptions import ConfigError, St2liteError
from st2lite.processes import tune_service_process
from st2lite.redisdb import connect, wait_until_ready
from st2lite.runfiles import published_redis_url

if TYPE_CHECKING:
    from st2lite.sensors.container import SensorContainer

# Each service imports what it runs inside its function: a worker process never loads the
# rules engine (jinja2, jsonpath) nor the API (fastapi), which keeps every process small.

__all__ = ["api_server_options", "redis_url_for", "run_api", "run_rules", "run_sensors", "stop_on_signals"]

log = logging.getLogger(__name__)


def redis_url_for(settings: Settings) -> str:
    """The Redis to use: ``redis_url``, else the embedded one a running ``st2lite up`` published."""
    if settings.redis_url:
        return settings.redis_url
    published = published_redis_url(settings)
    if published:
        return published
    raise ConfigError(
        "no Redis configured: set ST2LITE_REDIS_URL, or start 'st2lite up' (it starts an embedded Redis "
        f"and publishes its address under {settings.run_dir})"
    )


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT or SIGTERM while the block runs."""

    def handler(signum: int, _frame: object) -> None:
        log.info("Received %s; stopping after the work in hand", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_rules(
    settings: Settings, redis_url: str, *, ready: Callable[[], None] | None = None, with_sensors: bool = False
) -> None:
    """The rules engine, the scheduler, the chain conductor and the reaper, until SIGINT/SIGTERM.

    ``with_sensors`` also runs the sensor container (and its timer engine) as
    a thread of this process: ``st2lite up`` does, saving a process (~45 MB).
    """
    from st2lite.chains.conductor import ChainConductor
    from st2lite.enforcements import EnforcementStore
    from st2lite.executions import ExecutionStore
    from st2lite.maintenance import Maintenance
    from st2lite.rules_engine import RulesEngine, default_consumer_name
    from st2lite.scheduler import Scheduler
    from st2lite.trigger_instances import TriggerInstanceStore
    from st2lite.wait_store import WaitStore
    from st2lite.worker import Reaper

    client = connect(redis_url)
    wait_until_ready(client, timeout=30)
    name = default_consumer_name()
    engine = RulesEngine(settings, client, name=name)
    scheduler = Scheduler(settings, connect(redis_url), redis_url, name=name)
    conductor = ChainConductor(settings, connect(redis_url), name=name)
    executions = ExecutionStore.for_settings(client, settings, actor=f"reaper:{name}")
    reaper = Reaper(executions, settings, WaitStore(client, executions, actor=f"reaper:{name}"))
    maintenance = Maintenance(
        executions,
        EnforcementStore(client, ttl=settings.execution_ttl),
        TriggerInstanceStore(client, ttl=settings.execution_ttl),
    )
    stop = threading.Event()
    tune_service_process()
    with stop_on_signals(stop):
        threads = [
            threading.Thread(target=scheduler.run, args=(stop,), name="scheduler"),
            threading.Thread(target=conductor.run, args=(stop,), name="conductor"),
            threading.Thread(target=reaper.run, args=(stop,), name="reaper", daemon=True),
            threading.Thread(target=maintenance.run, args=(stop,), name="maintenance", daemon=True),
        ]
        if with_sensors:
            # Not a daemon: on stop it stops the sensor processes and releases their leases.
            threads.append(
                threading.Thread(target=sensor_container(settings, redis_url).run, args=(stop,), name="sensors")
            )
        for thread in threads:
            thread.start()
        if ready is not None:
            ready()
        try:
            engine.run(stop)
        finally:
            stop.set()
            for thread in threads[:2]:  # the scheduler and the conductor finish their step
                thread.join(timeout=10)
            if with_sensors:
                threads[-1].join(timeout=settings.sensor_stop_timeout + 5)


def api_server_options(log_level: str) -> dict[str, Any]:
    """uvicorn's options for the API (also used by the benchmark's bare baseline, so both run alike).

    No access log (one line per request costs more than a webhook's own work)
    and no lifespan; the event loop and HTTP parser are uvicorn's ``auto``
    choice: uvloop and httptools, both dependencies of st2lite, else asyncio and h11.
    """
    return {
        "log_level": log_level.lower() if log_level != "INFO" else "warning",
        "access_log": False,
        "lifespan": "off",
    }


def run_api(settings: Settings, redis_url: str) -> None:
    """The HTTP API (uvicorn), until SIGINT/SIGTERM."""
    import uvicorn

    from st2lite.api.app import create_app
    from st2lite.api.server import ApiHttpServer

    wait_until_ready(connect(redis_url), timeout=30)
    app = create_app(settings, redis_url)
    config = uvicorn.Config(
        app, host=settings.api_host, port=settings.api_port, **api_server_options(settings.log_level)
    )
    ApiHttpServer(config, app).run()


def run_sensors(
    settings: Settings,
    redis_url: str,
    *,
    background: Sequence[Callable[[threading.Event], None]] = (),
) -> None:
    """The sensor container, the timer engine and ``background`` services (as its threads), until SIGINT/SIGTERM.

    Each background service is called as ``service(stop_event)`` in its own
    thread and must return soon after ``stop_event`` is set. Services that need
    the container's name use :func:`st2lite.sensors.container.node_name`
    (the same name the container registers under).
    """
    client = connect(redis_url)
    wait_until_ready(client, timeout=30)
    container = sensor_container(settings, redis_url, background=background)
    stop = threading.Event()
    tune_service_process()
    with stop_on_signals(stop):
        container.run(stop)


def sensor_container(
    settings: Settings, redis_url: str, *, background: Sequence[Callable[[threading.Event], None]] = ()
) -> SensorContainer:
    """The sensor container with the timer engine and ``background`` as its threads."""
    from st2lite.sensors.container import SensorContainer, node_name
    from st2lite.sensors.timer_engine import TimerEngine

    node = node_name(settings)
    # The timer engine runs in every sensor container; its leadership lease makes one of them fire each tick.
    timers = TimerEngine(settings, connect(redis_url), node)
    services = [timers.run, *background]
    return SensorContainer(settings, connect(redis_url), redis_url, node=node, background=services)


def main(argv: list[str] | None = None) -> None:
    """``python -m st2lite.services api|rules|rules+sensors|worker|sensors``: a service, without the CLI's imports.

    ``st2lite up`` starts its children this way: typer and rich would stay
    resident in every service process for nothing.
    """
    import sys

    from st2lite.config import load_settings

    args = sys.argv[1:] if argv is None else argv
    services = ("api", "rules", "rules+sensors", "worker", "sensors")
    if len(args) != 1 or args[0] not in services:
        sys.stderr.write(f"usage: python -m st2lite.services {{{'|'.join(services)}}}\n")
        raise SystemExit(2)
    try:
        settings = load_settings()
        url = redis_url_for(settings)
    except St2liteError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from exc
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args[0] == "api":
        run_api(settings, url)
    elif args[0] in ("rules", "rules+sensors"):
        run_rules(settings, url, with_sensors=args[0] == "rules+sensors")
    elif args[0] == "sensors":
        run_sensors(settings, url)
    else:
        from st2lite.worker import serve

        serve(settings, url)


if __name__ == "__main__":
    main()
