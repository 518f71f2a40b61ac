"""``cmdb incident open|list|show|priority|clock|resolve``: incidents, priority and SLA
clocks; the same use cases as REST and GraphQL (cmdb/app/incidents.py).

Registered by the main CLI as ``app.add_typer(incident.app, name="incident")``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cmdb.app import incidents, problems
from cmdb.app.incident_inputs import NewIncident, NewPriority, Resolution, Words
from cmdb.app.inputs import validated
from cmdb.domain.errors import NotFound
from cmdb.domain.records import Incident, Level
from cmdb.practice.clocks import TargetClock
from cmdb.store.contract import GraphStore

from ._common import CliGroup, JsonOpt, cli, console, print_json
from .change import EVERYTHING, AtOpt, now_or, policy_of, when_text

app = typer.Typer(
    cls=CliGroup,
    no_args_is_help=True,
    help="Incidents: impacted services, priority from impact and urgency, SLA clocks.",
)

IdArg = Annotated[str, typer.Argument(help="The incident's reference, e.g. INC-000123.")]

# Errors name the options; a missing incident is the store's answer; --at may be any instant
# (a replay or a rehearsal on the database itself).
WORDS = Words(
    incident_id=None,
    cis="--ci",
    indexed=False,
    ci="--ci",
    service="--service",
    urgency="--urgency",
    future=True,
)


def _show(store: GraphStore, inc: Incident, as_json: bool) -> None:
    if as_json:
        print_json(inc)
        return
    con = console()
    con.print(f"{inc.id}  {inc.title}" + ("  [bold red]MAJOR INCIDENT[/]" if inc.major else ""))
    t = Table(show_header=False, box=None)
    rows = [
        ("state", inc.state.value),
        (
            "priority",
            f"{inc.priority.value} (impact {inc.impact.value if inc.impact else '?'},"
            f" urgency {inc.urgency.value if inc.urgency else '?'})",
        ),
        ("CIs", ", ".join(store.get_ci(c).name for c in inc.ci_ids)),
        (
            "services " + ("(out)" if inc.outage else "(degraded)"),
            ", ".join(store.get_ci(s).name for s in inc.service_ids),
        ),
        ("opened", when_text(inc.opened_at)),
        ("responded", when_text(inc.responded_at)),
        ("resolved", when_text(inc.resolved_at)),
        ("changes", ", ".join(inc.change_ids)),
        # Opened by monitoring alerts (cmdb alerts): the cause they share, and each alert.
        ("probable cause", store.get_ci(inc.cause_id).name if inc.cause_id else ""),
        ("alerts", ", ".join(f"{a.name} {a.fingerprint} {a.status}" for a in inc.alerts)),
    ]
    beside = problems.for_incident(store, EVERYTHING, inc)
    rows.append(("problems", ", ".join(f"{p.id} ({p.state.value})" for p in beside.problems)))
    for k, v in rows:
        if v:
            t.add_row(k, v)
    con.print(t)
    for note in inc.notes:
        con.print(f"  {when_text(note.at)}  {note.actor}: {note.text}", soft_wrap=True)
    # What the service desk can try now: the workarounds of known errors on these CIs.
    known = beside.known_errors
    if known:
        ke = Table(title="known errors on these CIs", title_justify="left")
        for col in ("problem", "title", "workaround", "root cause"):
            ke.add_column(col, overflow="fold")
        for p in known:
            ke.add_row(p.id, p.title, p.workaround or "-", p.root_cause or "-")
        con.print(ke)


@app.command("open")
def open_(
    ctx: typer.Context,
    incident_id: IdArg,
    title: Annotated[str, typer.Option("--title")],
    ci: Annotated[list[str], typer.Option("--ci", help="A failing CI; repeatable.")],
    urgency: Annotated[Level, typer.Option("--urgency")] = Level.MEDIUM,
    impact: Annotated[
        Level | None, typer.Option("--impact", help="Default: from the impact engine.")
    ] = None,
    at: AtOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record an incident: its impacted services, impact and priority (major or not)."""
    state = cli(ctx)
    store = state.store()
    new = validated(
        NewIncident,
        {
            "id": incident_id,
            "title": title,
            "cis": ci,
            "urgency": urgency,
            "impact": impact,
            "opened_at": now_or(at),
        },
    )
    inc = incidents.open_incident(
        store, state.caller(), EVERYTHING, new, policy_of(state), words=WORDS
    )
    _show(store, inc, as_json)


def _name(store: GraphStore, ci_id: str) -> str:
    # An incident may outlive a CI it names (an old snapshot): show the id rather than fail.
    try:
        return store.get_ci(ci_id).name
    except NotFound:
        return ci_id


@app.command("list")
def list_(
    ctx: typer.Context,
    ci: Annotated[
        str | None, typer.Option("--ci", help="Incidents naming this CI or service.")
    ] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only open incidents.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Incidents, by reference (GET /incidents)."""
    store = cli(ctx).store()
    found = incidents.list_incidents(store, EVERYTHING, ci=ci, open_only=open_only, words=WORDS)
    if as_json:
        print_json(found)
        return
    t = Table()
    for col in ("incident", "title", "state", "priority", "CIs", "services", "opened"):
        t.add_column(col, overflow="fold")
    for i in found:
        t.add_row(
            i.id,
            i.title,
            i.state.value,
            i.priority.value + (" MAJOR" if i.major else ""),
            ", ".join(_name(store, c) for c in i.ci_ids),
            ", ".join(_name(store, s) for s in i.service_ids),
            when_text(i.opened_at),
        )
    console().print(t)


@app.command("show")
def show(ctx: typer.Context, incident_id: IdArg, as_json: JsonOpt = False) -> None:
    """One incident."""
    store = cli(ctx).store()
    _show(store, incidents.get(store, EVERYTHING, incident_id, WORDS), as_json)


@app.command("priority")
def priority(
    ctx: typer.Context,
    incident_id: IdArg,
    impact: Annotated[Level | None, typer.Option("--impact")] = None,
    urgency: Annotated[Level | None, typer.Option("--urgency")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-prioritise from a new impact and/or urgency, through the policy's matrix."""
    state = cli(ctx)
    store = state.store()
    given = NewPriority(impact=impact, urgency=urgency)
    inc = incidents.prioritise(
        store, state.caller(), EVERYTHING, incident_id, given, policy_of(state), words=WORDS
    )
    _show(store, inc, as_json)


@app.command("resolve")
def resolve(
    ctx: typer.Context,
    incident_id: IdArg,
    responded: Annotated[
        bool, typer.Option("--responded", help="Only record the response (stops that clock).")
    ] = False,
    at: AtOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Resolve the incident at --at (or now); --responded records only the response."""
    state = cli(ctx)
    store = state.store()
    given = Resolution(responded_only=responded, at=now_or(at))
    inc = incidents.resolve(store, state.caller(), EVERYTHING, incident_id, given, words=WORDS)
    _show(store, inc, as_json)


def _cell(c: TargetClock) -> list[str]:
    if c.target_minutes is None:
        return ["no target", "", "", "", ""]
    status = "BREACHED" if c.breached else ("met" if not c.running else "running")
    if c.running and not c.in_service_hours_now and not c.breached:
        status = "paused (outside service hours)"
    return [
        f"{c.target_minutes} min",
        f"{c.elapsed_minutes:g}",
        f"{c.remaining_minutes:g}" if c.remaining_minutes is not None else "",
        when_text(c.due_at),
        status,
    ]


@app.command("clock")
def clock(
    ctx: typer.Context,
    incident_id: IdArg,
    at: AtOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Response and resolution clocks per affected service, in its service hours."""
    store = cli(ctx).store()
    found = incidents.clocks(store, EVERYTHING, incident_id, at=now_or(at), words=WORDS).clocks
    if as_json:
        print_json(found)
        return
    t = Table(title=f"{incident_id}: SLA clocks (service-hour minutes)", title_justify="left")
    for col in ("service", "priority", "target", "limit", "elapsed", "left", "due", "status"):
        t.add_column(col, overflow="fold")
    for sc in found:
        for c in (sc.response, sc.resolution):
            t.add_row(sc.service, sc.priority.value, c.target, *_cell(c))
    console().print(t)
    if not found:
        console().print("no affected service with an SLA")
