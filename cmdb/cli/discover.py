"""``cmdb discover FORMAT PATH...`` and ``cmdb runs list|show``.

Exit codes: 0 the run finished (a suspicious run too: it is flagged in the output and in
its record), 2 bad input (nothing written), 1 the run failed (recorded as failed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from cmdb.app import discovery
from cmdb.domain.errors import InvalidInput
from cmdb.domain.records import DiscoveryRun, RunStatus
from discovery.reconcile import RunReport
from discovery.registry import FORMATS

from ._common import CliGroup, JsonOpt, cli, console, print_json

EXIT_FAILED = 1
SHOWN = 10  # names listed per section of a report; --json has them all

runs_app = typer.Typer(cls=CliGroup, no_args_is_help=True, help="Discovery run records.")


def register(app: typer.Typer) -> None:
    app.command("discover")(discover)
    app.add_typer(runs_app, name="runs")


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not enabled,
    )
    tasks: dict[str, TaskID] = {}

    def report(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done, total=total)

    with bar:
        yield report


def discover(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Argument(metavar="FORMAT", help=f"One of: {', '.join(FORMATS)}.")],
    paths: Annotated[list[Path], typer.Argument(metavar="PATH...", help="Inventory files.")],
    source: Annotated[
        str | None, typer.Option(help="Who vouches for the data (default: the format).")
    ] = None,
    scope: Annotated[
        str | None, typer.Option(help="What the source looked at, e.g. a subnet or cluster.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan; write nothing.")
    ] = False,
    override: Annotated[
        bool, typer.Option("--override", help="Sweep for staleness even if the run looks wrong.")
    ] = False,
    stale_after: Annotated[
        int | None,
        typer.Option(
            min=1, help="Missed runs before a CI is stale (CMDB_DISCOVERY_STALE_AFTER_RUNS)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Reconcile inventory files into the CMDB: one discovery run."""
    state = cli(ctx)
    # A run's writes carry its run id; a command has no request id to add.
    caller = replace(state.caller(), request_id=None)
    started = time.monotonic()
    with _progress(enabled=not as_json and console().is_terminal) as progress:
        try:
            report = discovery.run(
                state.store(),
                caller,
                state.settings,
                fmt,
                paths,
                source=source,
                scope=scope,
                dry_run=dry_run,
                override=override,
                stale_after_runs=stale_after,
                progress=progress,
            )
        except InvalidInput:
            raise  # bad input: exit 2, nothing written
        except Exception as exc:
            typer.echo(f"error: the run failed: {type(exc).__name__}: {exc}", err=True)
            raise typer.Exit(EXIT_FAILED) from exc
    if as_json:
        print_json(report)
    else:
        _show_report(report, time.monotonic() - started)
    if report.run.status is RunStatus.FAILED:
        if not as_json:
            typer.echo(f"error: the run failed: {report.error}", err=True)
        raise typer.Exit(EXIT_FAILED)


def _show_report(report: RunReport, seconds: float) -> None:
    out = console()
    run = report.run
    what = "plan (dry run, nothing written)" if run.dry_run else f"run {run.id}"
    where = f"{run.source}" + (f", scope {run.scope}" if run.scope else "")
    out.print(f"{what}: {where}: {run.status.value} in {seconds:.1f}s")
    t = Table(show_header=True, title_justify="left")
    for name in report.summary():
        t.add_column(name, justify="right")
    t.add_row(*(str(v) for v in report.summary().values()))
    out.print(t)
    if report.relationships:
        rels = ", ".join(f"{v} {k}" for k, v in report.relationships.items())
        out.print(f"relationships: {rels}")
    if report.skipped_fields:
        out.print(f"fields kept by a higher-ranked or newer source: {report.skipped_fields}")
    if report.suspicious:
        out.print(
            f"[bold yellow]suspicious:[/] {report.suspicious}; nothing marked stale"
            " (--override to sweep anyway)"
        )
    _listing("unresolved", [f"{u.name} ({u.ci_class})" for u in report.unresolved])
    _listing("stale", [f"{s.name} ({s.ci_id})" for s in report.stale])
    _listing(
        "updated",
        [f"{u.name}: " + ", ".join(d.field for d in u.diffs) for u in report.updated],
    )
    _listing(
        "unauthorised changes",
        [f"{d.name}: {d.field}: {d.before} -> {d.after}: {d.why}" for d in report.discrepancies],
    )
    _listing("conflicts", [f"{c.key}: {c.message}" for c in report.conflicts])
    errors = [p for p in report.problems if p.severity == "error"]
    _listing("errors", [f"{p.where}: {p.message}" for p in errors])


def _listing(title: str, lines: list[str]) -> None:
    if not lines:
        return
    out = console()
    out.print(f"{title}:")
    for line in lines[:SHOWN]:
        out.print(f"  {line}", markup=False)
    if len(lines) > SHOWN:
        out.print(f"  … and {len(lines) - SHOWN} more (--json lists all)")


@runs_app.command("list")
def runs_list(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only this source's runs.")] = None,
    scope: Annotated[str | None, typer.Option(help="Only runs of this scope.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Discovery runs, newest first."""
    runs = cli(ctx).store().list_runs(source=source, scope=scope, limit=limit)
    if as_json:
        print_json(runs)
        return
    t = Table(show_header=True)
    for col in (
        "run",
        "source",
        "scope",
        "status",
        "started",
        "seconds",
        "items",
        "created",
        "updated",
        "stale",
    ):
        t.add_column(col)
    for r in runs:
        took = (r.ended_at - r.started_at).total_seconds() if r.ended_at else None
        t.add_row(
            r.id,
            r.source,
            r.scope or "",
            _status(r),
            r.started_at.isoformat(timespec="seconds"),
            "" if took is None else f"{took:.1f}",
            *(str(r.counts.get(k, "")) for k in ("items", "created", "updated", "stale")),
        )
    console().print(t)


def _status(r: DiscoveryRun) -> str:
    return r.status.value + (" (override)" if r.override else "")


@runs_app.command("show")
def runs_show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="A run id.")],
    as_json: JsonOpt = False,
) -> None:
    """One run: status, counts and the problems it met."""
    r = cli(ctx).store().get_run(run_id)
    if as_json:
        print_json(r)
        return
    t = Table(show_header=False, title=f"run {r.id}", title_justify="left")
    t.add_column("field", style="bold")
    t.add_column("value")
    for name, value in (
        ("source", r.source),
        ("scope", r.scope or ""),
        ("format", r.format),
        ("status", _status(r)),
        ("started", r.started_at.isoformat()),
        ("ended", r.ended_at.isoformat() if r.ended_at else ""),
        ("note", r.note),
    ):
        t.add_row(name, value)
    for key, n in r.counts.items():
        t.add_row(key, str(n))
    console().print(t)
    _listing("problems", [f"{p.severity}: {p.where}: {p.message}" for p in r.problems])
