"""``cmdb export``, ``cmdb import`` and ``cmdb sample load``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Annotated

import typer

from cmdb.domain.errors import CmdbError
from cmdb.sample.load import load_sample
from cmdb.store import snapshot

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
def sample_load(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Load Saltmarsh Ferries, the fictional sample estate (idempotent)."""
    state = cli(ctx)
    result = load_sample(state.store(), actor=state.settings.actor)
    if as_json:
        print_json(result.model_dump(exclude={"ci_ids", "rel_ids"}))
        return
    console().print(
        f"sample estate: {result.created} CIs created, {result.updated} updated,"
        f" {result.unchanged} unchanged; {result.rels_created} relationships created;"
        f" {result.history_rows} history rows"
    )
