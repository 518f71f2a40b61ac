"""``cmdb report ...``: status accounting (changes, incidents, problems, CIs, CMDB health,
CAB agenda, agreement gaps)
as rich tables, ``--json`` or ``--csv``.

Registered by the main CLI as ``app.add_typer(report.app, name="report")``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cmdb.app import reports
from cmdb.app.report_tables import table, to_csv
from cmdb.app.reports import DEFAULT_TOP, MAX_AGENDA_DAYS, MAX_TOP, Report
from cmdb.app.scope import Visibility
from cmdb.domain.errors import InvalidInput
from cmdb.practice.agreements import AgreementFinding, ServiceAgreements
from cmdb.practice.policy import load_policy
from cmdb.practice.reports.agenda import CabAgenda

from ._common import CliGroup, JsonOpt, cli, console, parse_instant, print_json

app = typer.Typer(
    cls=CliGroup,
    no_args_is_help=True,
    help="Reports: changes, incidents, problems, CIs, CMDB health, the CAB agenda,"
    " agreement gaps (tables, JSON, CSV).",
)

FromOpt = Annotated[
    str | None, typer.Option("--from", metavar="TIME", help="Count from this instant (ISO 8601).")
]
ToOpt = Annotated[
    str | None, typer.Option("--to", metavar="TIME", help="Count until this instant (ISO 8601).")
]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Print CSV instead of tables.")]
TopOpt = Annotated[int, typer.Option("--top", min=1, max=MAX_TOP, help="Rows per ranking.")]
AtOpt = Annotated[
    str | None,
    typer.Option("--at", metavar="TIME", help="The report's instant (ages, SLA clocks); now."),
]


# The CLI reads the whole CMDB: it runs where the store is.
ALL = Visibility()


def _now(at: str | None) -> datetime:
    return reports.report_time(parse_instant(at, where="--at"))


def _emit(report: Report, as_json: bool, as_csv: bool, title: str) -> None:
    if as_json and as_csv:
        raise InvalidInput("choose one of --json and --csv", where="--csv")
    if as_json:
        print_json(report)
        return
    if as_csv:
        typer.echo(to_csv(report), nl=False)
        return
    header, rows = table(report)
    t = Table(title=title, title_justify="left")
    for col in header:
        t.add_column(col, overflow="fold")
    last = None
    for row in rows:
        group = row[0] if row[1] else ""  # the single figures print together
        if last is not None and group != last:
            t.add_section()
        last = group
        t.add_row(*row)
    console().print(t)


def _span(from_: str | None, to: str | None) -> str:
    return f" {from_ or '...'} - {to or '...'}" if from_ or to else ""


def _period_command(name: str, title: str, build: reports.PeriodReport, doc: str) -> None:
    """One ``cmdb report NAME`` over a period: the four period reports differ only in what
    they build and how their table is titled."""

    def command(
        ctx: typer.Context,
        from_: FromOpt = None,
        to: ToOpt = None,
        top: TopOpt = DEFAULT_TOP,
        at: AtOpt = None,
        as_json: JsonOpt = False,
        as_csv: CsvOpt = False,
    ) -> None:
        start, end = parse_instant(from_, where="--from"), parse_instant(to, where="--to")
        period = reports.period(start, end)
        report = build(cli(ctx).store(), ALL, _now(at), period=period, top=top)
        _emit(report, as_json, as_csv, title + _span(from_, to))

    command.__doc__ = doc
    app.command(name)(command)


_period_command(
    "changes",
    "changes",
    reports.changes,
    """Changes raised in the period by state, type, priority, CI and service; rejected,
    emergency and failed counts; the backlog and its age.""",
)
_period_command(
    "incidents",
    "incidents",
    reports.incidents,
    """Incidents opened in the period by state, priority, service and CI; SLA breaches
    (response and resolution clocks in service hours).""",
)
_period_command(
    "problems",
    "problems",
    reports.problems,
    """Problems logged in the period by state, category, CI at fault and service; open
    known errors; the open problems' age and the incidents they explain.""",
)
_period_command(
    "cis",
    "CIs",
    reports.cis,
    """CIs by class, status, location, owner and environment; those changed most and named
    by most incidents (in the period).""",
)


@app.command("health")
def health(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Most CIs listed per finding.")
    ] = reports.DEFAULT_HEALTH_ROWS,
    at: AtOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """CMDB health: required fields per class, stale CIs, orphans, suspected duplicates,
    agreements weaker than the SLAs resting on them."""
    report = reports.health(cli(ctx).store(), ALL, _now(at), limit=limit)
    _emit(report, as_json, as_csv, "CMDB health")


@app.command("cab-agenda")
def cab_agenda(
    ctx: typer.Context,
    from_: Annotated[
        str | None, typer.Option("--from", metavar="TIME", help="The period's start; now.")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", metavar="TIME", help="Its end; --days after --from.")
    ] = None,
    days: Annotated[
        int, typer.Option("--days", min=1, max=MAX_AGENDA_DAYS)
    ] = reports.DEFAULT_AGENDA_DAYS,
    at: AtOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """The changes a CAB meeting decides (assessed), those scheduled in the period, and
    emergency changes awaiting review, each with risk, impacted services, collisions and
    window violations."""
    state = cli(ctx)
    now = _now(at)
    first, last = parse_instant(from_, where="--from"), parse_instant(to, where="--to")
    start, end = reports.meeting(first, last, days, now)
    policy = load_policy(state.settings.practice_policy_file)
    agenda = reports.cab_agenda(state.store(), ALL, policy, start, end, now)
    if as_json or as_csv:
        _emit(agenda, as_json, as_csv, "")
        return
    _show_agenda(agenda)


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M %Z") if at else ""


def _show_agenda(agenda: CabAgenda) -> None:
    con = console()
    con.print(f"CAB agenda {_when(agenda.start)} - {_when(agenda.end)}")
    for title, items in (
        ("to decide (assessed)", agenda.decide),
        ("scheduled in the period", agenda.scheduled),
        ("emergency changes to review", agenda.review),
    ):
        t = Table(title=f"{title}: {len(items)}", title_justify="left")
        for col in (
            "RFC",
            "window",
            "risk",
            "approval",
            "services hit",
            "collisions",
            "windows",
            "agreement gaps",
        ):
            t.add_column(col, overflow="fold")
        for i in items:
            t.add_row(
                f"{i.id} {i.title} ({i.type}, {i.state})",
                f"{_when(i.start)} - {_when(i.end)}" if i.start else "not planned",
                f"{i.risk_class} ({i.score:g})",
                i.approval,
                ", ".join(f"{s.name} ({s.severity})" for s in i.services),
                "\n".join(
                    f"{c.kind} with {c.b if c.a == i.id else c.a}: {c.detail}" for c in i.collisions
                ),
                "\n".join(f"{v.kind}: {v.service}" for v in i.violations),
                "\n".join(_gap_cell(f) for f in i.agreement_gaps),
            )
        con.print(t)


def _gap_cell(f: AgreementFinding) -> str:
    return f"{f.service.name}: {f.agreement.name} ({', '.join(g.text for g in f.gaps)})"


@app.command("agreements")
def agreements(
    ctx: typer.Context,
    service: Annotated[
        str | None,
        typer.Argument(
            metavar="[SERVICE]",
            help="One service: every agreement it rests on, held up or not (default: the"
            " gaps under every service with an SLA).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Agreements that do not hold an SLA up: an OLA or supplier contract on anything the
    service rests on (through the impact relationships) that promises less availability,
    or slower response or resolution for a priority, than the SLA. Each with the path from
    the service to the CI it covers and both figures."""
    from cmdb.app import agreements as use_case
    from cmdb.app.inputs import resolve_visible

    store = cli(ctx).store()
    if service is None:
        found = use_case.findings(store, ALL)
        if as_json:
            print_json(found)
            return
        _show_findings(found)
        return
    svc = resolve_visible(store, ALL, service, where="SERVICE")
    checked = use_case.service_agreements(store, ALL, svc)
    if as_json:
        print_json(checked)
        return
    _show_service_agreements(checked)


def _show_findings(found: list[AgreementFinding]) -> None:
    t = Table(
        title=f"agreements weaker than the SLA resting on them: {len(found)}",
        title_justify="left",
    )
    for col in ("SLA", "agreement", "misses", "path"):
        t.add_column(col, overflow="fold")
    for f in found:
        t.add_row(
            escape(f.sla),
            escape(f"{f.agreement.name} ({f.agreement.kind}, {f.agreement.party})"),
            "\n".join(g.text for g in f.gaps),
            escape(f.path.text),
        )
    console().print(t)


def _show_service_agreements(c: ServiceAgreements) -> None:
    sla = c.sla or "no SLA: nothing to compare"
    title = escape(f"agreements under {c.service.name} ({sla}): {c.findings} do not hold it up")
    t = Table(title=title, title_justify="left")
    for col in ("agreement", "holds", "misses", "path"):
        t.add_column(col, overflow="fold")
    for a in c.agreements:
        holds = "yes" if not a.gaps else f"behind {a.shielded_by}" if a.shielded_by else "NO"
        t.add_row(
            escape(f"{a.agreement.name} ({a.agreement.kind}, {a.agreement.party})"),
            escape(holds),
            "\n".join(g.text for g in a.gaps),
            escape(a.path.text),
        )
    con = console()
    con.print(t)
    if c.truncated:
        con.print("the walk hit its depth or node cap: agreements further down were not seen")
