"""``cmdb impact change|incident|spof|availability|cause|recovery``: the impact engine's
questions, the same use cases as REST and GraphQL (cmdb/app/impact.py).

Registered by the main CLI as ``app.add_typer(impact.impact_app, name="impact")``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from cmdb.app import impact
from cmdb.app.impact import Limits
from cmdb.app.inputs import resolve_visible
from cmdb.app.scope import Visibility
from cmdb.domain.errors import InvalidInput
from impact.availability import AvailabilityResult, Sourced
from impact.cause import CauseResult
from impact.explain import ImpactPath
from impact.fetch import DEFAULT_MAX_DEPTH, DEFAULT_MAX_NODES, Strategy
from impact.recovery import RecoveryPlan
from impact.report import ImpactReport, ServiceImpact
from impact.severity import FailureMode
from impact.spof import Spof, SpofResult
from impact.spof_rank import DEFAULT_LIMIT

from ._common import AsOfOpt, CliGroup, JsonOpt, cli, console, parse_instant, print_json

impact_app = typer.Typer(
    cls=CliGroup,
    no_args_is_help=True,
    help="What a change or an incident does to services: severity, paths, SLAs, SPOFs.",
)

CiOpt = Annotated[
    list[str], typer.Option("--ci", help="Id, KIND=VALUE, Class:name or a unique name; repeatable.")
]
ServiceArg = Annotated[
    str, typer.Argument(help="The service: id, KIND=VALUE, Class:name or unique name.")
]
ModeOpt = Annotated[FailureMode, typer.Option("--mode", help="How the CIs fail.")]
DepthOpt = Annotated[int, typer.Option("--depth", min=0, help="Depth cap of the walk.")]
NodesOpt = Annotated[int, typer.Option("--max-nodes", min=1, help="Node cap of the walk.")]
FetchOpt = Annotated[
    str,
    typer.Option(
        "--fetch",
        help="walk (default): one store round trip that reads only what the impact reaches;"
        " rounds: the same in a few round trips; one-call: one round trip that walks both"
        " ways (reads far more).",
    ),
]
AllOpt = Annotated[bool, typer.Option("--all", help="Also list every impacted CI.")]

_SEVERITY_STYLE = {"down": "bold red", "degraded": "yellow", "at_risk": "cyan"}


def _limits(depth: int, max_nodes: int, fetch: str) -> Limits:
    strategies: dict[str, Strategy] = {"walk": "walk", "rounds": "rounds", "one-call": "one-call"}
    if fetch not in strategies:
        raise InvalidInput("expected walk, rounds or one-call", where="--fetch")
    return Limits(max_depth=depth, max_nodes=max_nodes, strategy=strategies[fetch])


# The CLI works on the database itself: it sees everything.
EVERYTHING = Visibility()


def _minutes(m: float | None) -> str:
    if m is None:
        return ""
    return f"{m:,.0f} min" if abs(m) < 600 else f"{m / 60:,.1f} h"


def _sla_cell(s: ServiceImpact) -> str:
    if s.window is not None:
        w = s.window
        text = f"{_minutes(w.minutes_in_hours)} in hours"
        if w.scheduled_interruption:
            text += ", an allowed scheduled interruption"
        if w.counts_against_budget and w.periods:
            left = min(p.remaining_after for p in w.periods)
            text += f", budget left {_minutes(left)}" + (" BREACH" if w.breach else "")
        return text
    if s.incident is not None:
        i = s.incident
        if i.breached:
            return "budget spent: BREACHED"
        if i.minutes_left is None:
            return f"{_minutes(i.service_minutes_left)} of budget left (outlasts the month)"
        return f"breach in {_minutes(i.minutes_left)}"
    return ""


def _chain(path: ImpactPath) -> str:
    """A path's steps without its group notes (the table lists those once, below it)."""
    tail = "".join(f"; {n.text}" for n in path.groups)
    return (
        path.text[: len(path.text) - len(tail)] if tail and path.text.endswith(tail) else path.text
    )


def _show_report(report: ImpactReport, show_all: bool) -> None:
    con = console()
    failed = ", ".join(f"{f.name} ({f.mode})" for f in report.failed) or "nothing known"
    con.print(f"{report.question}: {failed}; impact score {report.score:g}")
    if report.already_down:
        con.print(
            "already down in open incidents: " + ", ".join(f.name for f in report.already_down)
        )
    t = Table(title="impacted services", title_justify="left")
    for col in ("service", "severity", "score", "customers", "SLA", "path"):
        t.add_column(col, overflow="fold")
    groups: dict[str, None] = {}  # the quorums and groupings on the paths shown, once each
    for s in report.services:
        path = _chain(s.paths[0]) if s.paths else s.reason
        groups.update((n.text, None) for n in (s.paths[0].groups if s.paths else ()))
        t.add_row(
            s.name,
            f"[{_SEVERITY_STYLE.get(s.severity, '')}]{s.severity}[/]"
            + ("" if s.new else " (already)"),
            f"{s.score.value:g}",
            ", ".join(s.customers),
            _sla_cell(s),
            path,
        )
    con.print(t)
    if groups:
        con.print("on these paths:")
        for text in groups:
            con.print(f"  {text}", markup=False, highlight=False)
    if show_all:
        c = Table(title="impacted CIs", title_justify="left")
        for col in ("CI", "class", "severity", "why"):
            c.add_column(col, overflow="fold")
        for item in report.cis:
            c.add_row(item.name, item.ci_class, item.severity, item.reason)
        con.print(c)
    caps = report.caps
    notes = [f"{len(report.cis)} CIs impacted, {caps.fetched_cis} read"]
    if caps.store_calls is not None:
        notes.append(f"{caps.store_calls} store call(s), {caps.strategy}")
    if caps.truncated_by_depth:
        notes.append(
            "CUT BY THE DEPTH CAP"
            + (f" after {', '.join(caps.frontier[:5])}" if caps.frontier else "")
        )
    if caps.truncated_by_nodes:
        notes.append("CUT BY THE NODE CAP: the answer may be incomplete")
    if report.unknown:
        notes.append(f"not in the graph (retired or out of reach): {', '.join(report.unknown)}")
    con.print("; ".join(notes))
    for w in report.warnings:
        con.print(f"warning: {w}")


@impact_app.command("change")
def change(
    ctx: typer.Context,
    ci: CiOpt,
    start: Annotated[str, typer.Option("--start", metavar="TIME", help="Window start (ISO 8601).")],
    end: Annotated[str, typer.Option("--end", metavar="TIME", help="Window end (ISO 8601).")],
    mode: ModeOpt = FailureMode.DOWN,
    depth: DepthOpt = DEFAULT_MAX_DEPTH,
    max_nodes: NodesOpt = DEFAULT_MAX_NODES,
    fetch: FetchOpt = "walk",
    paths: Annotated[int, typer.Option("--paths", min=1, max=10, help="Paths per CI.")] = 3,
    show_all: AllOpt = False,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A planned change takes the CIs down from --start to --end: what does it hit?"""
    store = cli(ctx).store()
    t1, t2 = parse_instant(start, where="--start"), parse_instant(end, where="--end")
    assert t1 is not None and t2 is not None
    report = impact.change_impact(
        store,
        EVERYTHING,
        impact.resolve_all(store, EVERYTHING, ci, where="--ci", indexed=False),
        t1,
        t2,
        mode=mode,
        as_of=parse_instant(as_of),
        limits=_limits(depth, max_nodes, fetch),
        paths=paths,
        where_end="--end",
    )
    if as_json:
        print_json(report)
        return
    _show_report(report, show_all)


@impact_app.command("incident")
def incident(
    ctx: typer.Context,
    ci: CiOpt,
    mode: ModeOpt = FailureMode.DOWN,
    depth: DepthOpt = DEFAULT_MAX_DEPTH,
    max_nodes: NodesOpt = DEFAULT_MAX_NODES,
    fetch: FetchOpt = "walk",
    paths: Annotated[int, typer.Option("--paths", min=1, max=10, help="Paths per CI.")] = 3,
    show_all: AllOpt = False,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The CIs are failing now: what is hit, and how long before each SLA breaches?"""
    store = cli(ctx).store()
    report = impact.incident_impact(
        store,
        EVERYTHING,
        impact.resolve_all(store, EVERYTHING, ci, where="--ci", indexed=False),
        mode=mode,
        as_of=parse_instant(as_of),
        limits=_limits(depth, max_nodes, fetch),
        paths=paths,
    )
    if as_json:
        print_json(report)
        return
    _show_report(report, show_all)


@impact_app.command("spof")
def spof(
    ctx: typer.Context,
    service: ServiceArg,
    depth: DepthOpt = DEFAULT_MAX_DEPTH,
    max_nodes: NodesOpt = DEFAULT_MAX_NODES,
    fetch: FetchOpt = "walk",
    as_of: AsOfOpt = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", help=f"List the N costliest (default {DEFAULT_LIMIT})."),
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="List every one.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """CIs whose failure alone takes the service down (redundancy and open incidents
    considered), costliest first, by kind, each with what would remove it."""
    if every and limit is not None:
        raise InvalidInput("give --limit or --all, not both", where="--all")
    store = cli(ctx).store()
    svc = resolve_visible(store, EVERYTHING, service, where="SERVICE")
    result = impact.spof(
        store,
        EVERYTHING,
        svc,
        as_of=parse_instant(as_of),
        limits=_limits(depth, max_nodes, fetch),
        limit=None if every else (DEFAULT_LIMIT if limit is None else limit),
        where="SERVICE",
        where_limit="--limit",
    )
    if as_json:
        print_json(result)
        return
    _show_spof(result)


def _show_spof(r: SpofResult) -> None:
    con = console()
    if r.already_down:
        con.print(f"{r.service_name} is already down (open incidents): every CI is moot")
        return
    head = f"single points of failure of {r.service_name}: {r.total} of {r.cone_size - 1} CIs"
    if r.left_out:
        head += f", the {len(r.spofs)} costliest ({r.left_out} left out: --all lists them)"
    con.print(head)
    for g in r.groups:
        rows = [s for s in r.spofs if s.kind == g.kind]
        if not rows:
            if g.found:
                con.print(
                    f"{g.kind}: {g.found} left out, the costliest {g.costliest}"
                    f" ({g.costliest_cost}): --all lists them"
                )
            continue
        more = f", {g.left_out} more left out" if g.left_out else ""
        t = Table(title=f"{g.kind} ({g.shown} of {g.found}{more})", title_justify="left")
        for col in ("#", "CI", "cost", "takes down", "fails a year", "what would remove it"):
            t.add_column(col, overflow="fold")
        for s in rows:
            cost = f"{s.cost.value:.1f}" if s.cost else "-"
            t.add_row(str(s.rank), f"{s.name} ({s.ci_class})", cost, _lost(s), _fails(s), s.remedy)
        con.print(t)


def _lost(s: Spof) -> str:
    n, c = len(s.services_lost), len(s.customers_lost)
    return f"{n} service{'s' if n != 1 else ''}, {c} customer{'s' if c != 1 else ''}"


def _fails(s: Spof) -> str:
    if not s.minutes_down:
        return f"not on its own ({s.failure_rate_source})"
    return f"{s.failure_rate:.2g}x, {s.minutes_down:.0f} min ({s.failure_rate_source})"


@impact_app.command("availability")
def availability(
    ctx: typer.Context,
    service: ServiceArg,
    depth: DepthOpt = DEFAULT_MAX_DEPTH,
    max_nodes: NodesOpt = DEFAULT_MAX_NODES,
    fetch: FetchOpt = "walk",
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Expected availability from the components, and the odds of breaching the SLA."""
    store = cli(ctx).store()
    svc = resolve_visible(store, EVERYTHING, service, where="SERVICE")
    result = impact.availability(
        store,
        EVERYTHING,
        svc,
        as_of=parse_instant(as_of),
        limits=_limits(depth, max_nodes, fetch),
        where="SERVICE",
    )
    if as_json:
        print_json(result)
        return
    _show_availability(result)


def _show_availability(r: AvailabilityResult) -> None:
    con = console()
    if r.warning:
        con.print(f"warning: {r.warning}", style="yellow", highlight=False)
    how = "exact" if r.exact else f"estimate within [{r.lower:.5%}, {r.upper:.5%}]"
    con.print(f"{r.service_name}: expected availability {r.availability:.4%} ({how}, {r.method})")
    if r.evidence is not None:
        con.print(f"from its components: {r.evidence.describe()}", highlight=False)
    if r.observed_availability is not None:
        con.print(
            f"its own record: {r.observed_availability:.4%} observed ({r.observed_basis})",
            highlight=False,
        )
    src = {f.figure: f for f in r.figures}
    if r.target_percent is not None:
        con.print(
            f"SLA target {r.target_percent:g}% over {_minutes(r.agreed_minutes)} of service hours"
            f" this month: allowed {_minutes(r.allowed_minutes)}, expected downtime"
            f" {_minutes(r.expected_downtime_minutes)}{_from(src, 'expected downtime')};"
            f" P(breach) {r.breach_probability:.1%}{_from(src, 'P(breach)')}"
            f"; outages last {r.mean_outage_minutes:.0f} min on average{_from(src, 'mean outage')}",
            highlight=False,
        )
        outage = src.get("mean outage")
        if outage is not None:
            con.print(f"mean outage: {outage.basis}", highlight=False)
    t = Table(title="least available components", title_justify="left")
    for col in ("CI", "class", "availability", "from", "basis"):
        t.add_column(col, overflow="fold")
    for c in [c for c in r.components if c.availability < 1][:10]:
        t.add_row(c.name, c.ci_class, f"{c.availability:.4%}", c.evidence, c.basis)
    con.print(t)


def _from(figures: dict[str, Sourced], name: str) -> str:
    f = figures.get(name)
    return f" ({f.source})" if f is not None else ""


@impact_app.command("cause")
def cause(
    ctx: typer.Context,
    ci: CiOpt,
    lookback: Annotated[
        float, typer.Option("--lookback-hours", min=0, help="How far back a change counts.")
    ] = 24.0,
    top: Annotated[int, typer.Option("--top", min=1, help="Candidates to show.")] = 10,
    depth: DepthOpt = DEFAULT_MAX_DEPTH,
    max_nodes: NodesOpt = DEFAULT_MAX_NODES,
    fetch: FetchOpt = "walk",
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Which upstream CI best explains all these affected CIs or services?"""
    store = cli(ctx).store()
    result = impact.cause(
        store,
        EVERYTHING,
        impact.resolve_all(store, EVERYTHING, ci, where="--ci", indexed=False),
        as_of=parse_instant(as_of),
        lookback=timedelta(hours=lookback),
        limits=_limits(depth, max_nodes, fetch),
        top=top,
    )
    if as_json:
        print_json(result)
        return
    _show_cause(result)


def _show_cause(r: CauseResult) -> None:
    con = console()
    if r.symptom_incidents and r.first_symptom is not None:
        con.print(
            f"changes weighed against the first symptom, {r.first_symptom:%Y-%m-%d %H:%M %Z}"
            f" ({', '.join(r.symptom_incidents)})",
            highlight=False,
        )
    else:
        con.print("no open incident names them: changes weighed against now", highlight=False)
    t = Table(title=f"likely common causes of {len(r.affected)} affected", title_justify="left")
    for col in ("#", "CI", "class", "score", "explains", "evidence", "path"):
        t.add_column(col, overflow="fold")
    for c in r.candidates:
        # The topology part is the "explains" column; the rest of the reasons, then the tie.
        why = c.reasons[1:] + ([f"tie: {c.tie_break}"] if c.tie_break else [])
        t.add_row(
            str(c.rank),
            c.name,
            c.ci_class,
            f"{c.score:g}",
            f"{c.explained}/{len(r.affected)}",
            "\n".join(why),
            c.paths[0].text if c.paths else "(is affected itself)",
        )
    con.print(t)


@impact_app.command("recovery")
def recovery(
    ctx: typer.Context,
    service: ServiceArg,
    current: Annotated[
        bool, typer.Option("--current", help="Plan for what open incidents have down now.")
    ] = False,
    depth: DepthOpt = DEFAULT_MAX_DEPTH,
    max_nodes: NodesOpt = DEFAULT_MAX_NODES,
    fetch: FetchOpt = "walk",
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What to bring back first for the service, clusters only to quorum."""
    store = cli(ctx).store()
    svc = resolve_visible(store, EVERYTHING, service, where="SERVICE")
    plan = impact.recovery(
        store,
        EVERYTHING,
        svc,
        as_of=parse_instant(as_of),
        limits=_limits(depth, max_nodes, fetch),
        current=current,
        where="SERVICE",
    )
    if as_json:
        print_json(plan)
        return
    _show_recovery(plan)


def _show_recovery(p: RecoveryPlan) -> None:
    con = console()
    if p.warning:
        con.print(f"warning: {p.warning}", style="yellow", highlight=False)
    what = "cold start" if p.cold_start else "from the open incidents"
    con.print(f"{p.service_name} ({what}): back after {_minutes(p.total_minutes) or '0 min'}")
    if p.timed_steps:
        con.print(
            f"repair times: {p.timed_steps - p.on_defaults} from records or declared values,"
            f" {p.on_defaults} class defaults",
            highlight=False,
        )
    if p.services:
        con.print(
            "services back: "
            + ", ".join(f"{b.name} +{_minutes(b.back_minute) or '0 min'}" for b in p.services),
            highlight=False,
        )
    t = Table(title="recovery order", title_justify="left")
    for col in ("wave", "CI", "class", "start", "takes", "back", "from", "note"):
        t.add_column(col, overflow="fold")
    for s in p.steps:
        takes = (_minutes(s.recovery_minutes) or "0 min") if s.time_known else "unknown"
        why = s.basis if s.basis.startswith(s.source) else f"{s.source}: {s.basis}"
        t.add_row(
            str(s.wave),
            s.name,
            s.ci_class,
            f"+{_minutes(s.start_minute) or '0 min'}",
            takes,
            f"+{_minutes(s.finish_minute) or '0 min'}",
            why,
            s.note,
        )
    con.print(t)
    if p.critical_path:
        con.print("critical path: " + " -> ".join(p.critical_path))
    if p.deferred:
        con.print("not needed for quorum (later): " + ", ".join(p.deferred))
    if p.unknown_times:
        con.print(
            f"{len(p.unknown_times)} CIs have no repair time recorded, declared or defaulted"
            f" (counted as 0): {', '.join(p.unknown_times)}"
        )
