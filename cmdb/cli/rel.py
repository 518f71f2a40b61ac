"""``cmdb rel add|retire|list``."""

from __future__ import annotations

from typing import Annotated

import typer

from cmdb.app import cis
from cmdb.app.scope import Visibility
from cmdb.domain.errors import NotFound

from . import render
from ._common import CliGroup, JsonOpt, cli, console, print_json

app = typer.Typer(cls=CliGroup, no_args_is_help=True, help="Add, retire and list relationships.")

_TYPE_HELP = 'A type (DEPENDS_ON, depends_on) or a phrase either way ("depends on", "used by").'
# The CLI reads and writes the whole CMDB; errors name its arguments.
ALL = Visibility()
WORDS = cis.Words(source="SOURCE", target="TARGET", body=False)


@app.command("add")
def add(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Id, KIND=VALUE, Class:name or a unique name.")],
    type_: Annotated[str, typer.Argument(metavar="TYPE", help=_TYPE_HELP)],
    target: Annotated[str, typer.Argument(help="Id, KIND=VALUE, Class:name or a unique name.")],
    confidence: Annotated[float | None, typer.Option(min=0.0, max=1.0)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Relate two CIs, e.g. cmdb rel add booking-web-1 "runs on" harbour-app-cluster."""
    state = cli(ctx)
    ends, done = cis.relate(
        state.store(),
        state.caller(),
        ALL,
        source,
        type_,
        target,
        confidence=confidence,
        words=WORDS,
    )
    rel = done.relationship
    if as_json:
        print_json({"outcome": done.outcome, "relationship": rel})
        return
    console().print(
        f"{done.outcome}: {render.ci_label(ends.source)} {ends.rtype.forward}"
        f" {render.ci_label(ends.target)} (confidence {rel.confidence:g}, {rel.id})"
    )


@app.command("retire")
def retire(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument()],
    type_: Annotated[str, typer.Argument(metavar="TYPE", help=_TYPE_HELP)],
    target: Annotated[str, typer.Argument()],
    as_json: JsonOpt = False,
) -> None:
    """Retire a relationship; it stays in history and in as-of views before now."""
    state = cli(ctx)
    ends, outcome = cis.unrelate(state.store(), state.caller(), ALL, source, type_, target, WORDS)
    if as_json:
        print_json({"retired": int(outcome == "retired")})  # the count retired: 1 or 0
        return
    done = "retired" if outcome == "retired" else "already retired"
    s, t = render.ci_label(ends.source), render.ci_label(ends.target)
    console().print(f"{done}: {s} {ends.rtype.forward} {t}")


@app.command("list")
def list_rels(
    ctx: typer.Context,
    type_: Annotated[str | None, typer.Option("--type", "-t")] = None,
    include_retired: Annotated[bool, typer.Option("--include-retired")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    cursor: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """List relationships a page at a time (ordered by id)."""
    store = cli(ctx).store()
    type_name = cis.type_name(type_)
    page = store.list_relationships(
        type_name=type_name, include_retired=include_retired, limit=limit, cursor=cursor
    )
    if as_json:
        print_json(page)
        return
    names: dict[str, str] = {}

    def name_of(ci_id: str) -> str:
        if ci_id not in names:
            try:
                names[ci_id] = store.get_ci(ci_id).name
            except NotFound:
                names[ci_id] = ci_id
        return names[ci_id]

    con = console()
    con.print(render.rel_table(page.items, name_of, title=f"{len(page.items)} relationships"))
    if page.next_cursor:
        con.print(f"more: --cursor {page.next_cursor}")
