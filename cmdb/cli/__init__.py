"""The ``cmdb`` command line: a thin shell over the store (``cmdb = "cmdb.cli:app"``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from cmdb.config import Settings
from cmdb.domain.errors import InvalidInput

from . import change, ci, data, db, discover, graph, impact, incident, problem, rel
from . import report as report_cli
from . import serve as serve_cli
from . import token as token_cli
from ._common import Cli, CliGroup

app = typer.Typer(
    cls=CliGroup,
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


app.add_typer(ci.app, name="ci")
app.add_typer(rel.app, name="rel")
app.add_typer(data.sample_app, name="sample")
app.add_typer(db.app, name="db")
app.add_typer(impact.impact_app, name="impact")
app.add_typer(change.app, name="change")
app.add_typer(incident.app, name="incident")
app.add_typer(problem.app, name="problem")
app.add_typer(report_cli.app, name="report")
app.command("neighbours")(graph.neighbours)
app.command("subgraph")(graph.subgraph)
app.command("history")(graph.history)
app.command("counts")(graph.counts)
app.command("export")(data.export)
app.command("import")(data.import_)
discover.register(app)
app.add_typer(token_cli.app, name="token")
app.command("serve")(serve_cli.serve)

__all__ = ["app"]
