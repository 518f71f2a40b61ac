"""``cmdb proposal``: what-if proposals on an RFC (stage edits, see their impact diff).

The same use cases as the REST API (cmdb.app.proposals, cmdb.app.proposal_diff). The CLI
works on the database itself, so it sees every change and CI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cmdb.app import proposals
from cmdb.app.scope import Visibility
from cmdb.domain.errors import InvalidInput
from cmdb.domain.proposals import Proposal, ProposalState
from cmdb.store.contract import GraphStore

from ._common import EXIT_BAD_INPUT, CliGroup, JsonOpt, cli, console, print_json

app = typer.Typer(
    cls=CliGroup,
    no_args_is_help=True,
    help="What-if proposals: stage edits to the graph on an RFC and see their impact diff.",
)

EVERYTHING = Visibility()
ChangeArg = Annotated[str, typer.Argument(help="The change (RFC) the proposal belongs to.")]
VersionOpt = Annotated[
    int | None, typer.Option("--version", min=1, help="An earlier version (default: the latest).")
]
NoteOpt = Annotated[str, typer.Option("--note", help="What this version does.")]
FileOpt = Annotated[
    Path | None,
    typer.Option(
        "--file",
        metavar="PATH",
        help="A JSON file: a list of edits, or a generic import document (its CIs added, or"
        " updated where a key is a live CI's id, and its relationships added).",
    ),
]


def _edits_from(store: GraphStore, path: Path) -> list[Any]:
    from discovery.io import json_document

    doc = json_document(path)
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and "edits" in doc and isinstance(doc["edits"], list):
        return list(doc["edits"])
    return proposals.edits_from_document(store, EVERYTHING, doc)


def _names(store: GraphStore, p: Proposal) -> dict[str, str]:
    """CI id -> name for every CI the edits name (a new one's, or the live one's)."""
    names = {e.ci.id: e.ci.name for e in p.edits if e.ci is not None}
    # One batch read, not one per CI: a round trip each on Neo4j.
    live = store.get_cis(p.touches() - set(names))
    return names | {ci_id: ci.name for ci_id, ci in live.items()}


def _print(store: GraphStore, p: Proposal) -> None:
    at = p.at.strftime("%Y-%m-%d %H:%M UTC")
    typer.echo(f"proposal {p.id} version {p.version} ({p.state.value}) by {p.author} at {at}")
    if p.note:
        typer.echo(f"  {p.note}")
    names = _names(store, p)
    for i, e in enumerate(p.edits):
        shown = e if isinstance(e, proposals.ShownEdit) else None
        typer.echo(f"  [{i if shown is None else shown.index}] {e.describe(names)}")
        # A merged version's edits are the live graph now: nothing of them to check.
        check = shown.validity if shown is not None else None
        if check is not None and not check.holds and p.state is not ProposalState.MERGED:
            typer.echo(f"      no longer holds: {'; '.join(check.why)}")
    if not p.edits:
        typer.echo("  no edits")


def _done(store: GraphStore, p: Proposal, as_json: bool) -> None:
    if as_json:
        print_json(p)
    else:
        _print(store, p)


@app.command("create")
def create(
    ctx: typer.Context,
    change: ChangeArg,
    file: FileOpt = None,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """The change's proposal (empty, or with the edits of --file)."""
    state = cli(ctx)
    store = state.store()
    edits = _edits_from(store, file) if file is not None else []
    made = proposals.create(store, EVERYTHING, state.caller(), change, edits, note=note)
    _done(store, made, as_json)


@app.command("show")
def show(
    ctx: typer.Context, change: ChangeArg, version: VersionOpt = None, as_json: JsonOpt = False
) -> None:
    """The proposal's edits, numbered (the number remove-edit takes), each one the live
    graph no longer allows said with why (a CI retired since, a relationship gone)."""
    state = cli(ctx)
    store = state.store()
    _done(store, proposals.get(store, EVERYTHING, change, version=version, check=True), as_json)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        ProposalState | None, typer.Option("--state", help="Only proposals in this state.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The latest version of every proposal."""
    state = cli(ctx)
    found = proposals.list_proposals(state.store(), EVERYTHING, state=status)
    if as_json:
        print_json(found)
        return
    if not found:
        typer.echo("no proposals")
    for p in found:
        typer.echo(f"{p.id}  v{p.version}  {p.state.value:<9} {len(p.edits)} edits  {p.note}")


def _pairs(values: list[str] | None) -> dict[str, Any]:
    """``key=value`` (``attributes.key=value`` for one attribute); a value that reads as
    JSON is taken as such (numbers, true, null, lists), any other as text."""
    out: dict[str, Any] = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"{item!r} is not key=value", where="--set")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        if key.startswith("attributes."):
            out.setdefault("attributes", {})[key.removeprefix("attributes.")] = value
        else:
            out[key] = value
    return out


@app.command("add-edit")
def add_edit(
    ctx: typer.Context,
    change: ChangeArg,
    op: Annotated[
        str | None,
        typer.Argument(
            help="add-ci, update-ci, retire-ci, add-rel, retire-rel or set-redundancy"
            " (none with --file)."
        ),
    ] = None,
    ci: Annotated[
        str | None, typer.Option("--ci", help="The CI (id, Class:name, kind=value or name).")
    ] = None,
    ci_class: Annotated[str | None, typer.Option("--class", help="A new CI's class.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="A new CI's name.")] = None,
    fields: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="KEY=VALUE", help="A field (repeatable; attributes.x=1)."),
    ] = None,
    rel_type: Annotated[str | None, typer.Option("--type", help="A relationship type.")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Its source CI.")] = None,
    target: Annotated[str | None, typer.Option("--target", help="Its target CI.")] = None,
    min_up: Annotated[
        int | None, typer.Option("--min-up", help="A cluster's members that must be up.")
    ] = None,
    min_up_percent: Annotated[
        float | None, typer.Option("--min-up-percent", help="The same, as a percent.")
    ] = None,
    file: FileOpt = None,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Stage one edit (or those of --file); each is checked, and a bad one refused."""
    state = cli(ctx)
    store = state.store()
    if file is not None:
        edits = _edits_from(store, file)
    elif op is None:
        raise InvalidInput("give an operation or --file", where="OP")
    else:
        kind = op.replace("-", "_")
        edit: dict[str, Any] = {"op": kind}
        if kind == "add_ci":
            edit["ci"] = {"class": ci_class, "name": name, **_pairs(fields)}
        elif kind == "update_ci":
            edit |= {"ci_id": ci, "fields": _pairs(fields)}
        elif kind in ("retire_ci", "set_redundancy"):
            edit["ci_id"] = ci
            if min_up is not None or min_up_percent is not None:
                edit["redundancy"] = {"min_up": min_up, "min_up_percent": min_up_percent}
        else:
            edit |= {"type": rel_type, "source_id": source, "target_id": target}
        edits = [{k: v for k, v in edit.items() if v is not None}]
    made = proposals.add_edits(store, EVERYTHING, state.caller(), change, edits, note=note)
    _done(store, made, as_json)


@app.command("remove-edit")
def remove_edit(
    ctx: typer.Context,
    change: ChangeArg,
    index: Annotated[int, typer.Argument(help="The edit's number (see show).")],
    as_json: JsonOpt = False,
) -> None:
    """A new version without that edit (refused if a later edit needs it)."""
    state = cli(ctx)
    store = state.store()
    made = proposals.remove_edit(store, EVERYTHING, state.caller(), change, index)
    _done(store, made, as_json)


@app.command("withdraw")
def withdraw(ctx: typer.Context, change: ChangeArg, note: NoteOpt = "") -> None:
    """Withdraw the proposal (its versions are kept)."""
    state = cli(ctx)
    made = proposals.withdraw(state.store(), EVERYTHING, state.caller(), change, note=note)
    typer.echo(f"withdrew proposal {made.id} (version {made.version})")


@app.command("diff")
def diff(
    ctx: typer.Context,
    change: ChangeArg,
    version: VersionOpt = None,
    every: Annotated[
        bool, typer.Option("--all", help="Also the services the proposal leaves as they are.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Per service: SPOFs removed and introduced, availability before and after, paths,
    customers and SLA; and other open proposals on the same CIs."""
    from rich.table import Table

    from cmdb.app.proposal_diff import diff as evaluate

    state = cli(ctx)
    got = evaluate(state.store(), EVERYTHING, change, version=version)
    if as_json:
        print_json(got)
        return
    table = Table(
        title=f"Impact diff of proposal {got.proposal} v{got.version} ({got.edits} edits)"
    )
    for col in ("service", "availability", "SPOFs removed", "SPOFs introduced", "paths", "SLA"):
        table.add_column(col)
    shown = [s for s in got.services if s.changed or every]
    for s in shown:
        b, a = s.availability_before, s.availability_after
        table.add_row(
            s.name,
            f"{b.value:.6%} -> {a.value:.6%}" if b and a else "unchanged (nothing it needs)",
            ", ".join(x.name for x in s.spofs_removed) or "-",
            ", ".join(x.name for x in s.spofs_introduced) or "-",
            f"+{len(s.paths_appeared)} -{len(s.paths_disappeared)}",
            f"{s.sla} ({s.sla_target_percent}%)" if s.sla else "-",
        )
    out = console()
    if shown:
        out.print(table)
    else:
        typer.echo(f"the proposal changes none of the {len(got.services)} services it reaches")
    for s in shown:
        if s.customers:
            typer.echo(f"{s.name}: customers {', '.join(s.customers)}")
    for c in got.collisions:
        typer.echo(f"collides with the open proposal of {c.proposal} on {', '.join(c.ci_ids)}")
    if got.truncated:
        typer.echo("warning: the fetch hit its node cap; the diff may be incomplete", err=True)


def _conflict_lines(found: list[Any]) -> None:
    for c in found:
        typer.echo(f"  {c.line()}")


@app.command("conflicts")
def conflicts(ctx: typer.Context, change: ChangeArg, as_json: JsonOpt = False) -> None:
    """What would stop a merge now: each edit whose CIs, fields or relationships the live
    graph changed since it was staged (value then and now, who changed it)."""
    from cmdb.app import proposal_merge

    state = cli(ctx)
    found = proposal_merge.conflicts(
        state.store(),
        EVERYTHING,
        state.caller(),
        change,
        precedence=proposal_merge.precedence_of(state.settings),
    )
    if as_json:
        print_json(found)
        return
    if not found:
        typer.echo(f"no conflicts: the proposal of {change} merges as it is")
        return
    typer.echo(f"{len(found)} conflicts:")
    _conflict_lines(found)


@app.command("merge")
def merge(ctx: typer.Context, change: ChangeArg, as_json: JsonOpt = False) -> None:
    """Write the proposal into the live graph as one change set (its change implemented);
    on a conflict nothing is written and each conflict is listed."""
    from cmdb.app import proposal_merge

    state = cli(ctx)
    try:
        done = proposal_merge.merge(
            state.store(),
            EVERYTHING,
            state.caller(),
            change,
            precedence=proposal_merge.precedence_of(state.settings),
        )
    except proposal_merge.MergeConflicts as exc:
        if as_json:
            print_json(exc.conflicts)
        else:
            typer.echo(
                f"error: the proposal of {change} conflicts with the live graph;"
                f" nothing written ({len(exc.conflicts)} conflicts):",
                err=True,
            )
            for c in exc.conflicts:
                typer.echo(f"  {c.line()}", err=True)
            typer.echo(
                f"resolve: cmdb proposal rebase {change} (accept the live changes), or"
                f" cmdb proposal remove-edit {change} N",
                err=True,
            )
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if as_json:
        print_json(done)
        return
    typer.echo(f"merged proposal {change} v{done.proposal.version - 1} ({done.reason})")
    typer.echo(
        f"  CIs: {done.created} created, {done.updated} updated, {done.retired} retired;"
        f" relationships: {done.rels_created} added, {done.rels_retired} retired"
    )


@app.command("rebase")
def rebase(ctx: typer.Context, change: ChangeArg, as_json: JsonOpt = False) -> None:
    """A new version whose edits take the live graph as it is now as their base: the
    conflicts listed are accepted (an edit the live graph no longer allows is named)."""
    from cmdb.app import proposal_merge

    state = cli(ctx)
    store = state.store()
    made, cleared = proposal_merge.rebase(
        store,
        EVERYTHING,
        state.caller(),
        change,
        precedence=proposal_merge.precedence_of(state.settings),
    )
    if as_json:
        print_json(made)
        return
    _print(store, made)
    if cleared:
        typer.echo(f"accepted {len(cleared)} live changes:")
        _conflict_lines(cleared)
