"""The ``cmdb`` command line: a thin shell over the store (``cmdb = "cmdb.cli:app"``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar

import typer
from pydantic import ValidationError

from cmdb.config import Settings
from cmdb.domain.errors import InvalidInput

from ._common import Cli
from ._lazy import LazyGroup


class RootGroup(LazyGroup):
    # In the order `cmdb --help` lists them.
    lazy: ClassVar[dict[str, tuple[str, str]]] = {
        "ci": ("cmdb.cli.ci", "app"),
        "rel": ("cmdb.cli.rel", "app"),
        "sample": ("cmdb.cli.data", "sample_app"),
        "db": ("cmdb.cli.db", "app"),
        "impact": ("cmdb.cli.impact", "impact_app"),
        "change": ("cmdb.cli.change", "app"),
        "proposal": ("cmdb.cli.proposal", "app"),
        "incident": ("cmdb.cli.incident", "app"),
        "alerts": ("cmdb.cli.alerts", "app"),
        "problem": ("cmdb.cli.problem", "app"),
        "report": ("cmdb.cli.report", "app"),
        "neighbours": ("cmdb.cli.graph", "neighbours"),
        "subgraph": ("cmdb.cli.graph", "subgraph"),
        "history": ("cmdb.cli.graph", "history"),
        "counts": ("cmdb.cli.graph", "counts"),
        "export": ("cmdb.cli.data", "export"),
        "import": ("cmdb.cli.data", "import_"),
        "discover": ("cmdb.cli.discover", "discover"),
        "runs": ("cmdb.cli.discover", "runs_app"),
        "token": ("cmdb.cli.token", "app"),
        "webhooks": ("cmdb.cli.webhooks", "app"),
        "serve": ("cmdb.server.serve", "serve"),
    }


app = typer.Typer(
    cls=RootGroup,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    help="graph-cmdb: configuration items, their relationships and history.",
)


@app.callback()
def main(
    ctx: typer.Context,
    db: Annotated[
        Path | None,
        typer.Option("--db", metavar="PATH", help="The embedded store's file (CMDB_DB_PATH)."),
    ] = None,
) -> None:
    """Store settings come from CMDB_* environment variables; --db overrides the file."""
    try:
        settings = Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "CMDB_" + "_".join(str(p) for p in err["loc"]).upper()
        raise InvalidInput(str(err["msg"]), where=name) from exc
    if db is not None:
        settings = settings.model_copy(update={"db_path": db})
    state = Cli(settings)
    ctx.obj = state
    ctx.call_on_close(state.close)


__all__ = ["app"]
