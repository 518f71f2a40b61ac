"""``cmdb export``, ``cmdb import`` and ``cmdb sample load``."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from cmdb.domain.errors import CmdbError
from cmdb.sample.history import load_history
from cmdb.sample.load import load_sample
from cmdb.sample.via_discovery import AGREEMENTS, inventories, load_via_discovery
from cmdb.store import snapshot
from cmdb.store.contract import GraphStore

from ._common import CliGroup, JsonOpt, cli, console, print_json

FileArg = Annotated[str, typer.Argument(metavar="FILE", help="A path, or - for stdout/stdin.")]

sample_app = typer.Typer(cls=CliGroup, no_args_is_help=True, help="The shipped sample estate.")


def export(ctx: typer.Context, file: FileArg, as_json: JsonOpt = False) -> None:
    """Write the whole CMDB, history included, as a JSON Lines snapshot."""
    store = cli(ctx).store()
    if file == "-":
        snapshot.export(store, sys.stdout.buffer)
        return
    with Path(file).open("wb") as fh:
        counts = snapshot.export(store, fh)
    if as_json:
        print_json({"file": file, "counts": counts})
        return
    console().print(f"exported to {file}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


def import_(ctx: typer.Context, file: FileArg, as_json: JsonOpt = False) -> None:
    """Load a snapshot into an empty store (all of it, or nothing if any line is bad)."""
    store = cli(ctx).store()
    try:
        if file == "-":
            counts = snapshot.import_(store, sys.stdin.buffer)
        else:
            fh: IO[bytes]
            with Path(file).open("rb") as fh:
                counts = snapshot.import_(store, fh)
    except CmdbError as exc:
        if exc.where and exc.where.startswith("line"):
            exc.where = f"{file}, {exc.where}"
        raise
    if as_json:
        print_json({"file": file, "counts": counts})
        return
    console().print(f"imported {file}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


@sample_app.command("load")
def sample_load(
    ctx: typer.Context,
    via_discovery: Annotated[
        bool,
        typer.Option(
            "--via-discovery",
            help="Load it through the discovery adapters, from the shipped inventory files"
            " (nmap, Ansible, compose, Kubernetes, CSV), one run each, then the agreements.",
        ),
    ] = False,
    no_history: Annotated[
        bool,
        typer.Option(
            "--no-history",
            help="Leave out the records the sample carries: a year of incidents, changes and"
            " known errors (placed relative to now, from a fixed seed) and the planted open"
            " incidents with the change before them.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Load Saltmarsh Ferries, the fictional sample estate, with a year of history
    (idempotent)."""
    state = cli(ctx)
    store, actor = state.store(), state.settings.actor
    doc: dict[str, Any]
    if via_discovery:
        doc = _load_via_discovery(store, actor, as_json, planted=not no_history)
    else:
        result = load_sample(store, actor=actor, planted=not no_history)
        doc = result.model_dump(exclude={"ci_ids", "rel_ids"})
        if not as_json:
            console().print(
                f"sample estate: {result.created} CIs created, {result.updated} updated,"
                f" {result.unchanged} unchanged; {result.rels_created} relationships created;"
                f" {result.history_rows} history rows"
            )
    if not no_history:
        past = load_history(store, actor=actor)
        doc["history"] = asdict(past)
        if not as_json:
            console().print(
                f"a year of history: {past.incidents} incidents, {past.changes} changes,"
                f" {past.problems} known errors ({past.written} written now)",
                highlight=False,
            )
    if as_json:
        print_json(doc)


def _load_via_discovery(
    store: GraphStore, actor: str, as_json: bool, *, planted: bool
) -> dict[str, Any]:
    loaded = load_via_discovery(store, actor=actor, planted=planted)
    doc: dict[str, Any] = {
        "runs": [{"format": f.fmt, "files": list(f.files), "report": r} for f, r in loaded.runs],
        "agreements": loaded.agreements.model_dump(exclude={"ci_ids", "rel_ids"}),
    }
    if as_json:
        return doc
    out = console()
    out.print(f"discovery runs over {inventories()}:", highlight=False)
    for feed, report in loaded.runs:
        s = report.summary()
        rels = sum(report.relationships.values())
        out.print(
            f"{feed.fmt:<8} {' '.join(feed.files):<56} {report.run.status.value}: "
            f"{s['created']} CIs created, {s['updated']} updated, {s['unchanged']} unchanged,"
            f" {rels} relationships, {s['errors']} errors",
            markup=False,
            highlight=False,
        )
    a = loaded.agreements
    out.print(
        f"{'-':<8} {AGREEMENTS + ' (SLAs, OLAs, contracts, cluster quorum)':<56} applied: "
        f"{a.updated} CIs updated, {a.created} created",
        highlight=False,
    )
    return doc
