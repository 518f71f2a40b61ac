"""``cmdb ci add|show|list|retire``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import orjson
import typer

from cmdb.app import cis
from cmdb.app.scope import Visibility
from cmdb.domain.errors import InvalidInput
from cmdb.domain.model import Criticality, LifecycleStatus

from . import render
from ._common import (
    AsOfOpt,
    CliGroup,
    JsonOpt,
    cli,
    console,
    parse_instant,
    print_json,
)

app = typer.Typer(cls=CliGroup, no_args_is_help=True, help="Add, show, list and retire CIs.")


class RetireStatus(StrEnum):
    WITHDRAWN = "withdrawn"
    DISPOSED = "disposed"


# The CLI reads and writes the whole CMDB; errors name its options and arguments.
ALL = Visibility()
WORDS = cis.Words(ci_class="--class", ref="REF", body=False)


def parse_attr(text: str) -> tuple[str, Any]:
    """``key=value``; the value is read as JSON when it is JSON (8, true, null, [..])."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InvalidInput(f"expected KEY=VALUE, got {text!r}", where="--attr")
    try:
        return key, orjson.loads(raw)
    except orjson.JSONDecodeError:
        return key, raw


@app.command("add")
def add(
    ctx: typer.Context,
    ci_class: Annotated[str, typer.Option("--class", "-c", help="CI class, e.g. Server.")],
    name: Annotated[str, typer.Option("--name", "-n")],
    ci_id: Annotated[str | None, typer.Option("--id", help="Update this CI (by id).")] = None,
    identifier: Annotated[
        list[str] | None,
        typer.Option("--identifier", "-i", help="KIND=VALUE, repeatable (fqdn=..., serial=...)."),
    ] = None,
    attr: Annotated[
        list[str] | None,
        typer.Option("--attr", "-a", help="KEY=VALUE, repeatable; VALUE is JSON if it parses."),
    ] = None,
    owner: Annotated[str | None, typer.Option()] = None,
    location: Annotated[str | None, typer.Option()] = None,
    environment: Annotated[str | None, typer.Option()] = None,
    version: Annotated[str | None, typer.Option()] = None,
    criticality: Annotated[Criticality | None, typer.Option()] = None,
    status: Annotated[LifecycleStatus | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a CI, or update the one its id or identifiers point at.

    Without --id or a unique identifier the CI gets key=<class>:<name> (lowercased), so
    running the same command twice changes nothing.
    """
    fields: dict[str, Any] = {"class": ci_class, "name": name, "identifiers": identifier or []}
    if ci_id is not None:
        fields["id"] = ci_id
    fields["attributes"] = dict(parse_attr(a) for a in attr or [])
    given = {
        "owner": owner,
        "location": location,
        "environment": environment,
        "version": version,
        "criticality": criticality,
        "status": status,
        "description": description,
    }
    fields.update({k: v for k, v in given.items() if v is not None})
    # Checked before the store opens: bad input creates no database file.
    draft = cis.upsert_of(fields, WORDS)
    state = cli(ctx)
    done = cis.upsert(state.store(), state.caller(), ALL, draft, WORDS)
    outcome, ci = done.outcome, done.ci
    if as_json:
        print_json({"outcome": outcome, "ci": ci})
        return
    render.show_ci(ci, title=f"{outcome}: {render.ci_label(ci)}")


@app.command("show")
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Id, KIND=VALUE, Class:name or a unique name.")],
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one CI (as it is, or as it was at --as-of)."""
    at = parse_instant(as_of)
    ci = cis.get(cli(ctx).store(), ALL, ref, as_of=at, words=WORDS)
    if as_json:
        print_json(ci)
        return
    render.show_ci(ci, title=render.ci_label(ci) + (f" as of {at.isoformat()}" if at else ""))


@app.command("list")
def list_cis(
    ctx: typer.Context,
    ci_class: Annotated[str | None, typer.Option("--class", "-c", help="Subclasses too.")] = None,
    status: Annotated[list[LifecycleStatus] | None, typer.Option(help="Repeatable.")] = None,
    environment: Annotated[str | None, typer.Option()] = None,
    owner: Annotated[str | None, typer.Option()] = None,
    location: Annotated[str | None, typer.Option()] = None,
    name_contains: Annotated[
        str | None, typer.Option(help="Any case; the best matches first (exact, prefix, word).")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Seen by this source.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    cursor: Annotated[str | None, typer.Option(help="From a previous page.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List CIs, filtered, a page at a time (ordered by id; with --name-contains, best
    match first)."""
    flt = cis.ci_filter(
        ci_class=ci_class,
        status=status or None,
        environment=environment,
        owner=owner,
        location=location,
        name_contains=name_contains,
        source=source,
    )
    page = cli(ctx).store().list_cis(flt, limit=limit, cursor=cursor)
    if as_json:
        print_json(page)
        return
    con = console()
    con.print(render.ci_table(page.items, title=f"{len(page.items)} CIs"))
    if page.next_cursor:
        con.print(f"more: --cursor {page.next_cursor}")


@app.command("retire")
def retire(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Id, KIND=VALUE, Class:name or a unique name.")],
    status: Annotated[RetireStatus, typer.Option()] = RetireStatus.WITHDRAWN,
    as_json: JsonOpt = False,
) -> None:
    """Retire a CI (withdrawn or disposed); its record and history stay."""
    state = cli(ctx)
    status_ = LifecycleStatus(status.value)
    done = cis.retire(state.store(), state.caller(), ALL, ref, status_, WORDS)
    retired, ci = done.outcome == "retired", done.ci
    if as_json:
        print_json({"retired": int(retired), "ci": ci})  # the count of CIs retired: 1 or 0
        return
    said = "retired" if retired else "already retired"
    console().print(f"{said}: {render.ci_label(ci)} is {ci.status.value}")
