"""Common-cause ranking and recovery order on hand-drawn topologies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from impact.cause import Evidence, rank_causes
from impact.evidence import DEFAULT_MTTR
from impact.recovery import recovery_plan
from tests.unit.impact.builders import topo

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)

# Two services on one switch; one service also on its own database.
TWO = topo(
    "s1:Service s2:Service a1:Application a2:Application sw:NetworkDevice db:Database",
    "s1 CONTAINS a1, s2 CONTAINS a2, a1 CONNECTS_TO sw, a2 CONNECTS_TO sw, a1 DEPENDS_ON db",
)


def test_ranks_by_how_many_each_explains_then_distance() -> None:
    r = rank_causes(TWO, ["s1", "s2"], now=NOW)
    top = r.candidates[0]
    assert (top.name, top.explained, top.explains) == ("sw", 2, ["s1", "s2"])
    assert [p.ci_ids for p in top.paths] == [["sw", "a1", "s1"], ["sw", "a2", "s2"]]
    assert {c.name for c in r.candidates if c.explained == 1} >= {"db", "a1", "s1"}


def test_recent_change_favours_but_never_beats_explaining_more() -> None:
    ev = [Evidence(ci_id="db", at=NOW - timedelta(hours=1), what="RFC-1 implemented")]
    r = rank_causes(TWO, ["s1", "s2"], evidence=ev, now=NOW, lookback=timedelta(hours=4))
    assert r.candidates[0].name == "sw"
    db = next(c for c in r.candidates if c.name == "db")
    # No symptom incident here: the change is weighed against now (1 h of a 4 h lookback).
    assert db.recency == pytest.approx(0.75) and db.score == pytest.approx(1 + 0.6 * 0.75)
    # Among the candidates explaining one, the recently changed database comes first.
    ones = [c.name for c in r.candidates if c.explained == 1]
    assert ones[0] == "db" and db.changes[0].what == "RFC-1 implemented"
    old = [Evidence(ci_id="db", at=NOW - timedelta(hours=5), what="too old")]
    assert (
        next(
            c
            for c in rank_causes(
                TWO, ["s1"], evidence=old, now=NOW, lookback=timedelta(hours=4)
            ).candidates
            if c.name == "db"
        ).recency
        == 0
    )


def test_unknown_affected_are_reported() -> None:
    assert rank_causes(TWO, ["s1", "nope"], now=NOW).unknown == ["nope"]


def minutes(m: float) -> dict[str, dict[str, float]]:
    return {"attributes": {"recovery_minutes": m}}


PLANT = topo(
    "svc:Service app:ApplicationInstance c:Cluster v1:VirtualMachine v2:VirtualMachine "
    "v3:VirtualMachine h:Server db:Database",
    "svc DEPENDS_ON app, app RUNS_ON c, v1 MEMBER_OF c, v2 MEMBER_OF c, v3 MEMBER_OF c, "
    "v1 HOSTED_ON h, v2 HOSTED_ON h, v3 HOSTED_ON h, app DEPENDS_ON db",
    extra={
        "c": {"redundancy": {"min_up": 2}, **minutes(5)},
        "v1": minutes(10),
        "v2": minutes(30),
        "v3": minutes(15),
        "h": minutes(20),
        "db": minutes(60),
        "app": minutes(3),
        "svc": minutes(0),
    },
)


def test_cold_start_brings_clusters_back_to_quorum_only() -> None:
    plan = recovery_plan(PLANT, "svc")
    # h (20) -> v1 (10) and v3 (15) in parallel -> cluster (5): 40; db alone 60 -> app 63.
    assert plan.total_minutes == 63
    assert plan.critical_path == ["db", "app", "svc"]
    assert plan.deferred == ["v2"]
    steps = {s.name: s for s in plan.steps}
    assert (steps["c"].start_minute, steps["c"].finish_minute) == (35, 40)
    assert steps["c"].note == "waits for 2 of 3 members"
    assert [s.name for s in plan.steps][:2] == ["db", "h"]  # both start at once
    assert steps["app"].wave > steps["c"].wave > steps["v1"].wave > steps["h"].wave
    assert not plan.unknown_times


def test_plan_from_current_failures_prefers_members_still_up() -> None:
    plan = recovery_plan(PLANT, "svc", down=["v1", "v2"])
    # v3 is up, so one more member makes quorum: v1 (10) beats v2 (30).
    assert plan.total_minutes == 10 + 5 + 3
    assert [s.name for s in plan.steps] == ["v1", "c", "app", "svc"]
    assert plan.deferred == ["v2"]


def test_a_ci_without_a_time_of_its_own_takes_its_class_default_and_says_so() -> None:
    # Issue 14: a Server with no recovery_minutes was "+0 ?"; it now takes the Server
    # default, the step says so, and the plan warns that it rests on defaults.
    g = topo("s:Service a:Server", "s DEPENDS_ON a")
    plan = recovery_plan(g, "s")
    step = {st.name: st for st in plan.steps}
    assert plan.total_minutes == 240 and not plan.unknown_times
    assert (step["a"].source, step["a"].basis) == ("default", "default for Server")
    assert step["s"].recovery_minutes == 0 and step["s"].time_known
    assert step["s"].basis == "comes back when what it rests on does"
    assert (plan.on_defaults, plan.timed_steps) == (1, 1) and plan.warning
    assert [(b.name, b.back_minute) for b in plan.services] == [("s", 240)]


def test_unknown_times_are_listed_with_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(DEFAULT_MTTR, "Server")  # a class nobody gave a default
    g = topo("s:Service a:Server", "s DEPENDS_ON a")
    plan = recovery_plan(g, "s")
    step = {st.name: st for st in plan.steps}
    assert plan.total_minutes == 0 and plan.unknown_times == ["a"]
    assert not step["a"].time_known and "no repair time" in step["a"].basis
