"""``cmdb serve``: the API (REST, GraphQL, the impact map) on the configured store.

It lives with the server, not in ``cmdb.cli``: the CLI lists it by module name (its lazy
command table), so the CLI shell never imports the web stack.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel

from cmdb.cli._common import cli
from cmdb.config import Settings
from cmdb.domain.errors import InvalidInput

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def _shared_metrics(settings: Settings, workers: int) -> Iterator[None]:
    """Under several workers, a fresh directory where each writes its metrics and from
    which any of them answers /metrics for all (prometheus_client's multiprocess mode).
    The library reads it from its own variable when a worker starts, so it is handed
    down through the environment, and taken back when the server stops. A directory
    given by hand (PROMETHEUS_MULTIPROC_DIR) is used as it is."""
    if workers < 2 or settings.prometheus_multiproc_dir is not None:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="cmdb-metrics-") as shared:
        os.environ[MULTIPROC_ENV] = shared
        try:
            yield
        finally:
            os.environ.pop(MULTIPROC_ENV, None)


def urls(host: str, port: int) -> dict[str, str]:
    """What to open, by name (an any-address bind is shown as 127.0.0.1)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base = f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"
    return {
        "service desk": f"{base}/ui",
        "impact map": f"{base}/ui/map",
        "GraphiQL": f"{base}/graphql",
        "OpenAPI docs": f"{base}/docs",
        "ReDoc": f"{base}/redoc",
        "REST API": f"{base}/api/v1",
        "metrics": f"{base}/metrics",
    }


def _store_text(settings: Settings) -> str:
    if settings.store == "neo4j":
        return f"neo4j at {settings.neo4j_uri} (database {settings.neo4j_database})"
    return f"embedded, {settings.db_path}"


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (CMDB_API_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="Port (CMDB_API_PORT, 8000).")
    ] = None,
    reload: Annotated[
        bool,
        typer.Option(
            "--reload/--no-reload",
            help="Restart on code changes (development; settings from CMDB_* only).",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes, each with its own store and driver (settings from"
            " CMDB_* only when more than 1).",
        ),
    ] = 1,
) -> None:
    """Start the API server: REST under /api/v1, GraphQL at /graphql, the web pages at /ui."""
    # The web stack is imported here, not at the top: `cmdb --help` loads this module to
    # list the command and should not pay a second for FastAPI, Strawberry and uvicorn.
    import uvicorn

    from cmdb.server import listen
    from cmdb.server.app import LOCAL_DEV_WARNING, create_app
    from cmdb.web.logs import uvicorn_log_config

    settings = cli(ctx).settings
    host = host or settings.api_host
    port = settings.api_port if port is None else port
    err = Console(stderr=True)
    out = Console()
    out.print(f"graph-cmdb API, store: {_store_text(settings)}")
    for name, url in urls(host, port).items():
        out.print(f"  {name:<13} {url}")
    if settings.auth_disabled:
        text = LOCAL_DEV_WARNING
        if host not in LOOPBACK:
            text += f" It is listening on {host}, reachable from other machines!"
        err.print(Panel(text, title="WARNING", style="bold red", expand=False))
    else:
        out.print("  every request needs a token: cmdb token create NAME --role viewer")
    # JSON: every logger writes JSON lines, and cmdb.access replaces uvicorn's access log.
    log_config = uvicorn_log_config(settings.log_format, settings.log_level)
    log_options: dict[str, Any] = {"log_level": settings.log_level}
    if log_config is not None:
        log_options |= {"log_config": log_config, "access_log": False}
    if reload or workers > 1:
        # Each process builds its own app (and opens its own store) from the environment:
        # an option given to this process cannot reach them.
        option = "--reload" if reload else "--workers"
        if reload and workers > 1:
            raise InvalidInput("--reload runs one process; drop --workers", where="--workers")
        if settings != Settings():
            raise InvalidInput(
                f"{option} reads its settings from CMDB_* variables only; set CMDB_DB_PATH"
                " instead of --db",
                where=option,
            )
        with _shared_metrics(settings, 1 if reload else workers):
            listen.run(
                "cmdb.server.app:serving_app",
                factory=True,
                host=host,
                port=port,
                reload=reload,
                workers=None if reload else workers,
                **log_options,
            )
        return
    uvicorn.run(create_app(settings, serving=True), host=host, port=port, **log_options)
