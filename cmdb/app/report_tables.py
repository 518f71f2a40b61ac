"""Reports as rows: the CSV that REST (``format=csv``) and ``cmdb report --csv`` serve,
and the rows ``cmdb report`` prints as tables. One section per row, so a spreadsheet
filters by it; the single figures first."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime

from cmdb.app.reports import Report
from cmdb.practice.agreements import AgreementFinding
from cmdb.practice.health import HealthReport
from cmdb.practice.reports.agenda import CabAgenda
from cmdb.practice.reports.base import Count
from cmdb.practice.reports.changes import ChangesReport
from cmdb.practice.reports.cis import CIsReport
from cmdb.practice.reports.incidents import IncidentsReport
from cmdb.practice.reports.problems import ProblemsReport
from cmdb.practice.windows import utc

Table = tuple[list[str], list[list[str]]]
COUNT_HEADER = ["section", "key", "name", "value", "detail"]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _counts(section: str, rows: Iterable[Count]) -> list[list[str]]:
    return [[section, r.key, r.name, str(r.count), ""] for r in rows]


def _scalars(pairs: Iterable[tuple[str, object]]) -> list[list[str]]:
    return [[name, "", "", _cell(value), ""] for name, value in pairs]


def changes_table(r: ChangesReport) -> Table:
    rows = _scalars(
        [
            ("total", r.total),
            ("rejected", r.rejected),
            ("emergency", r.emergency),
            ("failed", r.failed),
            ("reviewed", r.reviewed),
            ("failed_rate", r.failed_rate),
            ("review_required", r.review_required),
            ("backlog_open", r.backlog.open),
            ("backlog_mean_age_days", r.backlog.mean_age_days),
            ("backlog_median_age_days", r.backlog.median_age_days),
            ("backlog_oldest_age_days", r.backlog.oldest_age_days),
        ]
    )
    for section in ("by_state", "by_type", "by_priority", "by_ci", "by_service"):
        rows += _counts(section, getattr(r, section))
    rows += _counts("backlog_by_state", r.backlog.by_state)
    rows += _counts("backlog_by_age", r.backlog.by_age)
    rows += [
        ["backlog_oldest", b.id, b.title, _cell(b.age_days), f"{b.state}, {b.type}"]
        for b in r.backlog.oldest
    ]
    return COUNT_HEADER, rows


def incidents_table(r: IncidentsReport) -> Table:
    rows = _scalars(
        [
            ("total", r.total),
            ("open", r.open),
            ("major", r.major),
            ("outages", r.outages),
            ("clocks", r.clocks),
            ("breached_incidents", r.breached_incidents),
        ]
    )
    for section in ("by_state", "by_priority", "by_service", "by_ci"):
        rows += _counts(section, getattr(r, section))
    rows += [
        [
            "sla_breach",
            b.incident_id,
            f"{b.service}: {b.target}",
            _cell(b.elapsed_minutes),
            f"{b.priority} target {b.target_minutes} min, due {_cell(b.due_at)}"
            + (", running" if b.running else ""),
        ]
        for b in r.breaches
    ]
    return COUNT_HEADER, rows


def problems_table(r: ProblemsReport) -> Table:
    rows = _scalars(
        [
            ("total", r.total),
            ("open", r.open),
            ("known_errors", r.known_errors),
            ("incidents_explained", r.incidents_explained),
            ("mean_open_age_days", r.mean_open_age_days),
        ]
    )
    for section in ("by_state", "by_category", "by_ci", "by_service"):
        rows += _counts(section, getattr(r, section))
    rows += [
        [
            "oldest_open",
            o.id,
            o.title,
            _cell(o.age_days),
            f"{o.state}, {o.incidents} incidents",
        ]
        for o in r.oldest_open
    ]
    return COUNT_HEADER, rows


def cis_table(r: CIsReport) -> Table:
    rows = _scalars([("total", r.total)])
    for section in ("by_class", "by_status", "by_location", "by_owner", "by_environment"):
        rows += _counts(section, getattr(r, section))
    rows += [
        ["most_changed", c.key, c.name, str(c.writes), f"{c.fields} field changes"]
        for c in r.most_changed
    ]
    rows += _counts("most_incidents", r.most_incidents)
    return COUNT_HEADER, rows


def health_table(r: HealthReport) -> Table:
    rows: list[list[str]] = [
        ["total", "", "", str(r.total), ""],
        ["retired", "", "", str(r.retired), ""],
        ["complete", "", "", str(r.complete), f"{r.completeness_percent:g}%"],
        ["incomplete_total", "", "", str(r.incomplete_total), ""],
        ["stale_total", "", "", str(r.stale_total), ""],
        ["orphans_total", "", "", str(r.orphans_total), ""],
        ["duplicate_groups", "", "", str(r.duplicate_groups), ""],
        ["agreement_gaps_total", "", "", str(r.agreement_gaps_total), ""],
    ]
    for c in r.by_class:
        gaps = ", ".join(f"{g.field} {g.missing}" for g in c.missing)
        detail = f"requires {', '.join(c.required) or 'nothing'}" + (
            f"; missing: {gaps}" if gaps else ""
        )
        rows.append(
            ["completeness", c.ci_class, f"{c.complete}/{c.total}", f"{c.percent:g}", detail]
        )
    rows += [["incomplete", i.id, i.name, i.ci_class, ", ".join(i.missing)] for i in r.incomplete]
    rows += [
        [
            "stale",
            s.id,
            s.name,
            s.ci_class,
            ", ".join(s.stale_sources) + (" (all)" if s.all_stale else ""),
        ]
        for s in r.stale
    ]
    rows += [["orphan", o.id, o.name, o.ci_class, o.status] for o in r.orphans]
    for g in r.duplicates:
        for ref in g.cis:
            rows.append([f"duplicate_{g.reason}", ref.id, ref.name, ref.ci_class, g.key])
    rows += [
        [
            "agreement_gap",
            f.ci.id,
            f"{f.agreement.name} ({f.agreement.kind})",
            f.sla,
            f"{'; '.join(g.text for g in f.gaps)}; path: {f.path.text}",
        ]
        for f in r.agreement_gaps
    ]
    return COUNT_HEADER, rows


AGENDA_HEADER = [
    "section",
    "id",
    "title",
    "type",
    "state",
    "priority",
    "start",
    "end",
    "risk",
    "approval",
    "score",
    "services",
    "collisions",
    "violations",
    "agreement_gaps",
]


def _gap_line(f: AgreementFinding) -> str:
    """One agreement gap in a cell: whose SLA, which agreement, every figure it misses."""
    return f"{f.service.name}: {f.agreement.name} ({', '.join(g.text for g in f.gaps)})"


def agenda_table(r: CabAgenda) -> Table:
    rows: list[list[str]] = []
    for item in [*r.decide, *r.scheduled, *r.review]:
        rows.append(
            [
                item.section,
                item.id,
                item.title,
                item.type,
                item.state,
                item.priority,
                _cell(item.start),
                _cell(item.end),
                item.risk_class,
                item.approval,
                _cell(item.score),
                "; ".join(f"{s.name} ({s.severity})" for s in item.services),
                "; ".join(
                    f"{c.kind} with {c.b if c.a == item.id else c.a}" for c in item.collisions
                ),
                "; ".join(f"{v.kind}: {v.service}" for v in item.violations),
                "; ".join(_gap_line(f) for f in item.agreement_gaps),
            ]
        )
    return AGENDA_HEADER, rows


def table(report: Report) -> Table:
    if isinstance(report, ChangesReport):
        return changes_table(report)
    if isinstance(report, IncidentsReport):
        return incidents_table(report)
    if isinstance(report, ProblemsReport):
        return problems_table(report)
    if isinstance(report, CIsReport):
        return cis_table(report)
    if isinstance(report, HealthReport):
        return health_table(report)
    return agenda_table(report)


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _safe(cell: str) -> str:
    """A text cell a spreadsheet would run as a formula is quoted (numbers stay numbers)."""
    if cell.startswith(_FORMULA):
        try:
            float(cell)
        except ValueError:
            return "'" + cell
    return cell


def to_csv(report: Report) -> str:
    header, rows = table(report)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([_safe(c) for c in row] for row in rows)
    return buf.getvalue()
