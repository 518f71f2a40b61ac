"""``/reports``: status accounting (cmdb/app/reports.py), the same reports the
``cmdb report`` commands print. JSON by default; ``format=csv`` or ``Accept: text/csv``
gives CSV; ``at`` is the report's instant (the CLI's ``--at``: ages and SLA clocks). A
token scoped to services gets reports over its scope only: a CI counts when it is inside,
a change, incident or problem when the token reads it in ``/changes``,
``/incidents`` or ``/problems`` (it names at least one CI or service inside: one rule,
``cmdb.app.scope.readable``), and only the ids inside are shown.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from cmdb.app import reports
from cmdb.app.report_tables import to_csv
from cmdb.app.reports import DEFAULT_TOP, MAX_AGENDA_DAYS, MAX_HEALTH_ROWS, MAX_TOP, Report
from cmdb.practice.health import HealthReport
from cmdb.practice.policy import load_policy
from cmdb.practice.reports.agenda import CabAgenda
from cmdb.practice.reports.changes import ChangesReport
from cmdb.practice.reports.cis import CIsReport
from cmdb.practice.reports.incidents import IncidentsReport
from cmdb.practice.reports.problems import ProblemsReport
from cmdb.web.deps import Reader, SettingsDep, Store, Visible

router = APIRouter(prefix="/reports", tags=["reports"])


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


From = Annotated[
    datetime | None,
    Query(alias="from", description="count from this instant (ISO 8601; no zone: UTC)"),
]
To = Annotated[
    datetime | None, Query(description="count until this instant (ISO 8601; no zone: UTC)")
]
Top = Annotated[int, Query(ge=1, le=MAX_TOP, description="rows per ranking")]
At = Annotated[
    datetime | None,
    Query(
        description="the report's instant, for ages and SLA clocks (ISO 8601; no zone: UTC);"
        " default now"
    ),
]
Format = Annotated[
    ReportFormat | None,
    Query(description="json (default) or csv; Accept: text/csv also gives CSV"),
]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


def _render(report: Report, request: Request, fmt: ReportFormat | None, name: str) -> Any:
    wants_csv = fmt is ReportFormat.CSV or (
        fmt is None and "text/csv" in request.headers.get("accept", "")
    )
    if not wants_csv:
        return report
    return Response(
        to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _period_report(
    name: str,
    operation_id: str,
    model: type[Report],
    build: reports.PeriodReport,
    doc: str,
) -> None:
    """One ``GET /reports/{name}`` over a period (from, to, top, at): the four period
    reports differ only in what they build."""

    def endpoint(
        _: Reader,
        store: Store,
        vis: Visible,
        request: Request,
        from_: From = None,
        to: To = None,
        top: Top = DEFAULT_TOP,
        at: At = None,
        format: Format = None,
    ) -> Any:
        period = reports.period(from_, to)
        report = build(store, vis, reports.report_time(at), period=period, top=top)
        return _render(report, request, format, name)

    endpoint.__name__ = f"report_{name}"  # the OpenAPI summary, as for the other routes
    endpoint.__doc__ = doc
    router.get(f"/{name}", operation_id=operation_id, response_model=model, responses=CSV_RESPONSE)(
        endpoint
    )


_period_report(
    "changes",
    "reportChanges",
    ChangesReport,
    reports.changes,
    """Changes raised in the period by state, type, priority, CI and service; rejected,
    emergency and failed counts; the backlog (open changes) and its age.""",
)
_period_report(
    "incidents",
    "reportIncidents",
    IncidentsReport,
    reports.incidents,
    """Incidents opened in the period by state, priority, service and CI; SLA breaches
    (response and resolution clocks counted in service hours).""",
)
_period_report(
    "problems",
    "reportProblems",
    ProblemsReport,
    reports.problems,
    """Problems logged in the period by state, category, CI at fault and service; open
    known errors; the open problems' age and the incidents they explain.""",
)
_period_report(
    "cis",
    "reportCis",
    CIsReport,
    reports.cis,
    """CIs by class, status, location, owner and environment; the CIs changed most and
    named by most incidents (in the period).""",
)


@router.get(
    "/health",
    operation_id="reportHealth",
    response_model=HealthReport,
    responses=CSV_RESPONSE,
)
def report_health(
    _: Reader,
    store: Store,
    vis: Visible,
    request: Request,
    limit: Annotated[
        int, Query(ge=1, le=MAX_HEALTH_ROWS, description="most CIs listed per finding")
    ] = reports.DEFAULT_HEALTH_ROWS,
    at: At = None,
    format: Format = None,
) -> Any:
    """CMDB health: completeness of the required fields per class, stale CIs, orphans
    (no active relationship), suspected duplicates."""
    report = reports.health(store, vis, reports.report_time(at), limit=limit)
    return _render(report, request, format, "health")


@router.get(
    "/cab-agenda",
    operation_id="reportCabAgenda",
    response_model=CabAgenda,
    responses=CSV_RESPONSE,
)
def report_cab_agenda(
    _: Reader,
    store: Store,
    vis: Visible,
    settings: SettingsDep,
    request: Request,
    from_: Annotated[
        datetime | None, Query(alias="from", description="the meeting period's start; now")
    ] = None,
    to: Annotated[datetime | None, Query(description="its end; `days` after the start")] = None,
    days: Annotated[int, Query(ge=1, le=MAX_AGENDA_DAYS)] = reports.DEFAULT_AGENDA_DAYS,
    at: At = None,
    format: Format = None,
) -> Any:
    """The changes a CAB meeting decides (assessed), those scheduled in the period and
    emergency changes awaiting review, each with its risk, impacted services, collisions
    and window violations."""
    now = reports.report_time(at)
    start, end = reports.meeting(from_, to, days, now)
    policy = load_policy(settings.practice_policy_file)
    agenda = reports.cab_agenda(store, vis, policy, start, end, now)
    return _render(agenda, request, format, "cab-agenda")
