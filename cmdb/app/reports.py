"""The reports for a caller: which records it reads, read from the store once.

A caller with a scope (a service-scoped token) gets reports over its view only: a CI
counts when it is inside; a change, incident or problem when the caller reads it in the
lists (:func:`cmdb.app.scope.readable`: it names at least one CI or service inside), and
only the ids inside are shown. Each store scan runs once (``list_cis`` page by page,
``iter_history``, ``list_changes``); single ``get_ci`` calls only for the few CIs a report
names (its top rows, the SLAs of services).

REST, GraphQL and ``cmdb report`` take their bounds (``MAX_TOP``...) from here, so they
refuse alike (the CLI lists any number of CIs per health finding: it reads locally).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cmdb.app import agreements
from cmdb.app.inputs import every_ci, instant
from cmdb.app.scope import Visibility, readable, seen
from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.domain.model import CI
from cmdb.domain.records import Change, Incident
from cmdb.domain.service import SLA
from cmdb.practice.health import HealthBuilder, HealthReport
from cmdb.practice.policy import Policy
from cmdb.practice.reports import agenda
from cmdb.practice.reports.agenda import CabAgenda
from cmdb.practice.reports.base import DEFAULT_TOP, NameOf, Period
from cmdb.practice.reports.changes import ChangesReport, changes_report
from cmdb.practice.reports.cis import CIsReport, cis_report
from cmdb.practice.reports.incidents import IncidentsReport, incidents_report
from cmdb.practice.reports.problems import ProblemsReport, problems_report
from cmdb.store.contract import CIFilter, GraphStore

__all__ = [
    "DEFAULT_AGENDA_DAYS",
    "DEFAULT_HEALTH_ROWS",
    "DEFAULT_TOP",
    "MAX_AGENDA_DAYS",
    "MAX_HEALTH_ROWS",
    "MAX_TOP",
    "PeriodReport",
    "Report",
    "bounded",
    "cab_agenda",
    "changes",
    "cis",
    "health",
    "incidents",
    "meeting",
    "period",
    "problems",
    "report_time",
]

Report = ChangesReport | IncidentsReport | ProblemsReport | CIsReport | HealthReport | CabAgenda
# changes, incidents, problems, cis: (store, visibility, now, *, period, top) -> the report.
PeriodReport = Callable[..., Report]

MAX_TOP = 1000
MAX_HEALTH_ROWS = 10_000
DEFAULT_HEALTH_ROWS = 1000
MAX_AGENDA_DAYS = 366
DEFAULT_AGENDA_DAYS = 7
_PAGE = 1000


# -- the inputs every shell takes --------------------------------------------------------


def period(start: datetime | None, end: datetime | None) -> Period:
    """The period ``start``-``end`` (no zone: UTC), refused if it ends before it starts."""
    return Period(start=instant(start, where="from"), end=instant(end, where="to")).check()


def report_time(at: datetime | None = None) -> datetime:
    """The report's instant (ages, SLA clocks): ``at``, or now."""
    return instant(at, where="at") or datetime.now(UTC)


def meeting(
    start: datetime | None, end: datetime | None, days: int, now: datetime
) -> tuple[datetime, datetime]:
    """A CAB meeting's period: from ``start`` (now) to ``end`` (``days`` after its start)."""
    first = instant(start, where="from") or now
    return first, instant(end, where="to") or first + timedelta(days=days)


def bounded(value: int, most: int, where: str) -> int:
    """``value`` if it lies in 1..``most``: REST and the CLI declare the bounds on their
    parameters; GraphQL, whose schema has none, checks with this."""
    if not 1 <= value <= most:
        raise InvalidInput(f"{where} must be between 1 and {most}", where=where)
    return value


# -- the reports -------------------------------------------------------------------------


def changes(
    store: GraphStore,
    vis: Visibility,
    now: datetime,
    *,
    period: Period | None = None,
    top: int = DEFAULT_TOP,
) -> ChangesReport:
    shown = [seen(vis.ids, c) for c in _readable_changes(store, vis)]
    return changes_report(shown, now, period=period, name_of=_names(store), top=top)


def incidents(
    store: GraphStore,
    vis: Visibility,
    now: datetime,
    *,
    period: Period | None = None,
    top: int = DEFAULT_TOP,
) -> IncidentsReport:
    shown = _shown_incidents(store, vis)
    slas: dict[str, tuple[str, SLA]] = {}
    for svc in every_ci(store, CIFilter(ci_class="Service")):
        if svc.service is not None and svc.service.sla is not None:
            slas[svc.id] = (svc.name, svc.service.sla)
    return incidents_report(shown, slas, now, period=period, name_of=_names(store), top=top)


def problems(
    store: GraphStore,
    vis: Visibility,
    now: datetime,
    *,
    period: Period | None = None,
    top: int = DEFAULT_TOP,
) -> ProblemsReport:
    shown = [seen(vis.ids, p) for p in store.list_problems() if readable(vis, p)]
    return problems_report(shown, now, period=period, name_of=_names(store), top=top)


def cis(
    store: GraphStore,
    vis: Visibility,
    now: datetime,
    *,
    period: Period | None = None,
    top: int = DEFAULT_TOP,
) -> CIsReport:
    return cis_report(
        every_ci(store),
        store.iter_history(),
        _shown_incidents(store, vis),
        now,
        scope=vis.ids,
        period=period,
        name_of=_names(store),
        top=top,
    )


def health(
    store: GraphStore, vis: Visibility, now: datetime, *, limit: int = DEFAULT_HEALTH_ROWS
) -> HealthReport:
    builder = HealthBuilder(_connected_ids(store), limit=limit)
    services: list[CI] = []
    for ci in every_ci(store):
        if vis.allows(ci.id):
            builder.add(ci)
            if ci.service is not None:
                services.append(ci)
    return builder.finish(now, agreements.findings(store, vis, services=services))


def cab_agenda(
    store: GraphStore,
    vis: Visibility,
    policy: Policy,
    start: datetime,
    end: datetime,
    now: datetime,
) -> CabAgenda:
    """The agenda over the changes the caller reads, whole: risk is judged on all a change
    does, and the agenda shows a scoped caller only what lies in its view."""
    readable_ = _readable_changes(store, vis)
    return agenda.cab_agenda(store, readable_, policy, start, end, now, scope=vis.ids)


# -- reading the store -------------------------------------------------------------------


def _readable_changes(store: GraphStore, vis: Visibility) -> list[Change]:
    return [c for c in store.list_changes() if readable(vis, c)]


def _shown_incidents(store: GraphStore, vis: Visibility) -> list[Incident]:
    return [seen(vis.ids, i) for i in store.list_incidents() if readable(vis, i)]


def _names(store: GraphStore) -> NameOf:
    """A CI's name by id, read once per id (a missing one shows its id)."""
    cache: dict[str, str] = {}

    def name_of(ci_id: str) -> str:
        if ci_id not in cache:
            try:
                cache[ci_id] = store.get_ci(ci_id).name
            except NotFound:
                cache[ci_id] = ci_id
        return cache[ci_id]

    return name_of


def _connected_ids(store: GraphStore) -> set[str]:
    """Every CI at either end of an active relationship: one scan, a page at a time."""
    out: set[str] = set()
    cursor: str | None = None
    while True:
        page = store.list_relationships(limit=_PAGE, cursor=cursor)
        for rel in page.items:
            out.add(rel.source_id)
            out.add(rel.target_id)
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor
