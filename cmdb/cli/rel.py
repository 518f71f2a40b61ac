"""``cmdb rel add|retire|list``."""

from __future__ import annotations

from typing import Annotated

import typer

from cmdb.domain.changeset import CIRef, RelRetire, RelUpsert
from cmdb.domain.errors import NotFound
from cmdb.domain.model import CI
from cmdb.domain.relationships import RelationshipType, parse_phrase
from cmdb.store.contract import GraphStore
from cmdb.store.refs import resolve_ci

from . import render
from ._common import CliGroup, JsonOpt, cli, console, print_json

app = typer.Typer(cls=CliGroup, no_args_is_help=True, help="Add, retire and list relationships.")

_TYPE_HELP = 'A type (DEPENDS_ON, depends_on) or a phrase either way ("depends on", "used by").'


def _ends(
    store: GraphStore, source: str, phrase: str, target: str
) -> tuple[RelationshipType, CI, CI]:
    """Resolve both ends; a reverse phrase ("used by", "hosts") swaps them."""
    rtype, reverse = parse_phrase(phrase)
    s = resolve_ci(store, source, where="SOURCE")
    t = resolve_ci(store, target, where="TARGET")
    return (rtype, t, s) if reverse else (rtype, s, t)


@app.command("add")
def add(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Id, KIND=VALUE or a unique name.")],
    type_: Annotated[str, typer.Argument(metavar="TYPE", help=_TYPE_HELP)],
    target: Annotated[str, typer.Argument(help="Id, KIND=VALUE or a unique name.")],
    confidence: Annotated[float | None, typer.Option(min=0.0, max=1.0)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Relate two CIs, e.g. cmdb rel add booking-web-1 "runs on" harbour-app-cluster."""
    state = cli(ctx)
    rtype, s, t = _ends(state.store(), source, type_, target)
    op = RelUpsert(
        type=rtype.name,
        source=CIRef(id=s.id),
        target=CIRef(id=t.id),
        confidence=confidence,
    )
    result = state.apply({"rel_upserts": [op]})
    rel = state.store().get_relationship(result.rel_ids[0])
    outcome = (
        "created" if result.rels_created else "updated" if result.rels_updated else "unchanged"
    )
    if as_json:
        print_json({"outcome": outcome, "relationship": rel})
        return
    console().print(
        f"{outcome}: {render.ci_label(s)} {rtype.forward} {render.ci_label(t)}"
        f" (confidence {rel.confidence:g}, {rel.id})"
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
    rtype, s, t = _ends(state.store(), source, type_, target)
    op = RelRetire(type=rtype.name, source=CIRef(id=s.id), target=CIRef(id=t.id))
    result = state.apply({"rel_retires": [op]})
    if as_json:
        print_json({"retired": result.rels_retired})
        return
    done = "retired" if result.rels_retired else "already retired"
    console().print(f"{done}: {render.ci_label(s)} {rtype.forward} {render.ci_label(t)}")


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
    type_name = parse_phrase(type_)[0].name if type_ else None
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
