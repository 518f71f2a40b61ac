"""The problems report: counts, open known errors, ages, and what a scoped reader sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cmdb.app.report_tables import to_csv
from cmdb.domain.records import Problem, ProblemState
from cmdb.practice.reports.base import Period
from cmdb.practice.reports.problems import problems_report
from cmdb.practice.scoped import reads, seen

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def prb(pid: str, days_ago: float, state: ProblemState, **kw: object) -> Problem:
    return Problem(
        id=pid, title=f"{pid} title", state=state, opened_at=NOW - timedelta(days=days_ago), **kw
    )


PROBLEMS = [
    prb(
        "PRB-1",
        40,
        ProblemState.KNOWN_ERROR,
        ci_ids=["db"],
        workaround="restart",
        category="db",
        incident_ids=["INC-1", "INC-2"],
        service_ids=["shop"],
    ),
    prb("PRB-2", 10, ProblemState.INVESTIGATING, ci_ids=["db", "vm"], incident_ids=["INC-2"]),
    prb("PRB-3", 5, ProblemState.RESOLVED, ci_ids=["sw"], root_cause="optic", category="network"),
    prb("PRB-4", 100, ProblemState.CLOSED, ci_ids=["db"]),
]


def test_counts_known_errors_ages_and_the_cis_at_fault() -> None:
    r = problems_report(PROBLEMS, NOW, name_of=str.upper)
    assert (r.total, r.open, r.known_errors, r.incidents_explained) == (4, 2, 1, 2)
    assert r.mean_open_age_days == 25.0  # (40 + 10) / 2
    assert [(c.key, c.count) for c in r.by_state] == [
        ("closed", 1),
        ("investigating", 1),
        ("known_error", 1),
        ("resolved", 1),
    ]
    assert (r.by_ci[0].key, r.by_ci[0].name, r.by_ci[0].count) == ("db", "DB", 3)
    assert [(c.key, c.count) for c in r.by_category] == [("(none)", 2), ("db", 1), ("network", 1)]
    assert [(o.id, o.known_error, o.incidents) for o in r.oldest_open] == [
        ("PRB-1", True, 2),
        ("PRB-2", False, 1),
    ]
    # A resolved problem with a root cause is not an open known error.
    assert "PRB-3" not in [o.id for o in r.oldest_open]


def test_a_period_counts_the_problems_logged_in_it() -> None:
    period = Period(start=NOW - timedelta(days=20), end=NOW)
    r = problems_report(PROBLEMS, NOW, period=period)
    assert r.total == 2 and {c.key for c in r.by_state} == {"investigating", "resolved"}


def test_a_scoped_reader_sees_problems_touching_its_scope_with_only_its_ids() -> None:
    scope = {"vm"}
    shown = [seen(scope, p) for p in PROBLEMS if reads(scope, p)]
    assert [(p.id, p.ci_ids) for p in shown] == [("PRB-2", ["vm"])]
    assert "db" not in to_csv(problems_report(shown, NOW))


def test_csv_rows() -> None:
    lines = to_csv(problems_report(PROBLEMS, NOW)).splitlines()
    assert lines[0] == "section,key,name,value,detail"
    assert "known_errors,,,1," in lines
    assert 'oldest_open,PRB-1,PRB-1 title,40,"known_error, 2 incidents"' in lines
