"""``cmdb neighbours``, ``cmdb subgraph``, ``cmdb history``, ``cmdb counts``."""

from __future__ import annotations

from typing import Annotated

import typer

from cmdb.domain.relationships import get_type
from cmdb.store.contract import Direction
from cmdb.store.refs import resolve_ci

from . import render
from ._common import AsOfOpt, JsonOpt, cli, console, parse_instant, print_json

RefArg = Annotated[str, typer.Argument(help="Id, KIND=VALUE, Class:name or a unique name.")]
TypesOpt = Annotated[
    list[str] | None,
    typer.Option("--type", "-t", help="Relationship type to follow; repeatable. Default: all."),
]


def _types(types: list[str] | None) -> list[str] | None:
    return [get_type(t, where="--type").name for t in types] if types else None


def neighbours(
    ctx: typer.Context,
    ref: RefArg,
    direction: Annotated[Direction, typer.Option()] = Direction.BOTH,
    types: TypesOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The CIs one relationship away."""
    store = cli(ctx).store()
    ci = resolve_ci(store, ref, where="REF")
    items = store.neighbours(
        ci.id, direction=direction, types=_types(types), as_of=parse_instant(as_of)
    )
    if as_json:
        print_json(items)
        return
    console().print(render.neighbours_table(ci, items))


def subgraph(
    ctx: typer.Context,
    refs: Annotated[list[str], typer.Argument(help="One or more CIs to start from.")],
    direction: Annotated[Direction, typer.Option()] = Direction.OUT,
    types: TypesOpt = None,
    depth: Annotated[int, typer.Option(min=0, help="Depth cap.")] = 6,
    max_nodes: Annotated[int, typer.Option(min=1, help="Node cap.")] = 10_000,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Everything reachable from the given CIs, within the depth and node caps."""
    store = cli(ctx).store()
    roots = [resolve_ci(store, r, where="REF").id for r in refs]
    sub = store.subgraph(
        roots,
        direction=direction,
        types=_types(types),
        max_depth=depth,
        max_nodes=max_nodes,
        as_of=parse_instant(as_of),
    )
    if as_json:
        print_json(sub)
        return
    render.show_subgraph(sub)


def history(
    ctx: typer.Context,
    ref: RefArg,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every change to a CI; with --as-of, the CI as it was then and its history up to then."""
    store = cli(ctx).store()
    ci = resolve_ci(store, ref, where="REF")
    at = parse_instant(as_of)
    rows = store.history(ci.id)
    if at is not None:
        ci = store.get_ci(ci.id, as_of=at)
        rows = [h for h in rows if h.at <= at]
    if as_json:
        print_json({"as_of": at.isoformat() if at else None, "ci": ci, "history": rows})
        return
    when = f" as of {at.isoformat()}" if at else ""
    render.show_ci(ci, title=render.ci_label(ci) + when)
    console().print(render.history_table(rows, title=f"history{when}"))


def counts(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """CIs by class and status, relationships by type."""
    c = cli(ctx).store().counts()
    if as_json:
        print_json(c)
        return
    con = console()
    for table in render.counts_tables(c):
        con.print(table)
