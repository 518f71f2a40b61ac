"""Cause ranking by evidence (impact/cause.py): topology first, then a change's window
against the first symptom, then the candidate's own incidents; ties broken and told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cmdb.domain.history import EntityKind, HistoryEntry, HistoryOp
from cmdb.domain.records import Change, ChangeState, StateEntry
from impact.cause import (
    CauseCandidate,
    Evidence,
    change_weight,
    rank_causes,
    real_changes,
    with_ties,
)
from impact.queries import change_window
from tests.unit.impact.builders import topo

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
FIRST = NOW - timedelta(hours=1)  # the first symptom
H = timedelta(hours=1)

# Two services, each behind its own application; both applications on one database and
# one switch: db and sw explain both services at the same distance (2).
SHARED = topo(
    "s1:Service s2:Service a1:Application a2:Application db:Database sw:NetworkDevice",
    "s1 CONTAINS a1, s2 CONTAINS a2, a1 DEPENDS_ON db, a2 DEPENDS_ON db, "
    "a1 CONNECTS_TO sw, a2 CONNECTS_TO sw",
)


def change(ci: str, *, start: datetime | None, end: datetime, ref: str = "RFC-1") -> Evidence:
    return Evidence(
        ci_id=ci, at=end, start=start, kind="change", ref=ref, what=f"{ref} implemented"
    )


def incident(ci: str, at: datetime, ref: str) -> Evidence:
    return Evidence(ci_id=ci, at=at, kind="incident", ref=ref, what=f"{ref} P3: {ci} slow")


def rank(
    graph: Any = SHARED, affected: tuple[str, ...] = ("s1", "s2"), **kw: Any
) -> list[CauseCandidate]:
    kw.setdefault("first_symptom", FIRST)
    kw.setdefault("lookback", timedelta(hours=4))
    return rank_causes(graph, list(affected), now=NOW, **kw).candidates


def by_name(cands: list[CauseCandidate], name: str) -> CauseCandidate:
    return next(c for c in cands if c.name == name)


# --- the change's window against the first symptom ---------------------------------------


def test_a_change_that_ended_just_before_the_first_symptom_counts_most() -> None:
    ev = [
        change(
            "db", start=FIRST - 50 * timedelta(minutes=1), end=FIRST - 20 * timedelta(minutes=1)
        ),
        change("sw", start=FIRST - 3 * H, end=FIRST - 2 * H, ref="RFC-2"),
    ]
    cands = rank(evidence=ev)
    assert [c.name for c in cands[:2]] == ["db", "sw"]
    db, sw = cands[0], cands[1]
    # Linear over the 4 h lookback: 20 min before -> 1 - 20/240; 2 h before -> 0.5.
    assert db.recency == pytest.approx(1 - 20 / 240, abs=1e-3)
    assert sw.recency == pytest.approx(0.5)
    assert db.score == pytest.approx(2 + 0.6 * (1 - 20 / 240), abs=1e-3)
    assert db.changes[0].note == "ended 20 min before the first symptom"
    assert db.reasons[1] == "RFC-1 implemented, ended 20 min before the first symptom (weight 0.92)"
    assert db.tie_break is None and sw.tie_break is None  # scores differ: no tie to tell


def test_a_change_after_the_symptoms_started_counts_not_at_all() -> None:
    late = change(
        "db", start=FIRST + 10 * timedelta(minutes=1), end=FIRST + 40 * timedelta(minutes=1)
    )
    db = by_name(rank(evidence=[late]), "db")
    assert db.recency == 0 and db.score == 2
    # Listed, so the analyst sees it was considered, with why it does not count.
    assert db.changes[0].weight == 0
    assert db.changes[0].note == "began 10 min after the first symptom: not counted"
    assert db.reasons[1] == "no change in the 4 h before the first symptom"


def test_a_change_in_progress_when_the_first_symptom_began_weighs_one() -> None:
    ongoing = change("sw", start=FIRST - 15 * timedelta(minutes=1), end=FIRST + H)
    sw = rank(evidence=[ongoing])[0]
    assert (sw.name, sw.recency, sw.score) == ("sw", 1.0, 2.6)
    assert sw.changes[0].note == "in progress at the first symptom"


def test_a_change_beyond_the_lookback_is_left_out() -> None:
    old = change("db", start=FIRST - 6 * H, end=FIRST - 5 * H)
    db = by_name(rank(evidence=[old]), "db")
    assert db.recency == 0 and db.changes == []


def test_without_a_symptom_incident_changes_are_weighed_against_now() -> None:
    ev = [change("db", start=NOW - 2 * H, end=NOW - H)]
    r = rank_causes(SHARED, ["s1", "s2"], evidence=ev, now=NOW, lookback=timedelta(hours=4))
    assert r.first_symptom == NOW and r.symptom_incidents == []
    assert r.candidates[0].changes[0].note == "ended 60 min before now"
    assert r.candidates[0].recency == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("start", "end", "weight"),
    [
        (FIRST - 2 * H, FIRST - H, 0.75),  # ended an hour before, 4 h lookback
        (FIRST - H, FIRST, 1.0),  # ended as the symptom began: in progress
        (FIRST, FIRST + H, 0.0),  # began with the symptom: cannot have caused it
        (None, FIRST - 4 * H, 0.0),  # an instant exactly a lookback before
    ],
)
def test_change_weight(start: datetime | None, end: datetime, weight: float) -> None:
    w, _ = change_weight(change("x", start=start, end=end), FIRST, timedelta(hours=4))
    assert w == pytest.approx(weight)


# --- topology: all symptoms before some ---------------------------------------------------

# db sits under both services, cache only under s1.
SOME = topo(
    "s1:Service s2:Service a1:Application a2:Application db:Database cache:Database",
    "s1 CONTAINS a1, s2 CONTAINS a2, a1 DEPENDS_ON db, a2 DEPENDS_ON db, a1 DEPENDS_ON cache",
)


def test_explaining_all_symptoms_beats_any_evidence_on_some() -> None:
    ev = [change("cache", start=FIRST - 30 * timedelta(minutes=1), end=FIRST + H)]
    fails = [incident("cache", FIRST - timedelta(days=d), f"INC-{d}") for d in (1, 2, 3, 4)]
    cands = rank(SOME, evidence=ev, failures=fails)
    assert cands[0].name == "db" and cands[0].explained == 2
    cache = by_name(cands, "cache")
    # A change in progress (1.0) and four incidents (1 - 1/16): 1 + 0.6 + 0.3 * 0.9375.
    assert cache.score == pytest.approx(1.881) and cache.score < cands[0].score
    assert cache.reasons[0] == "under 1 of 2 affected; not under s2"
    assert cands[0].reasons[0] == "under all 2 affected"


# --- the candidate's own incidents --------------------------------------------------------


def test_recent_failures_of_a_candidate_raise_it_within_the_window_only() -> None:
    fails = [
        incident("sw", FIRST - timedelta(days=3), "INC-7"),
        incident("sw", FIRST - timedelta(days=20), "INC-5"),
        incident("db", FIRST - timedelta(days=200), "INC-1"),  # outside 90 days
    ]
    cands = rank(failures=fails)
    sw, db = cands[0], by_name(cands, "db")
    assert sw.name == "sw" and sw.failure_weight == pytest.approx(0.75)
    assert sw.score == pytest.approx(2.225)
    assert [f.ref for f in sw.failures] == ["INC-7", "INC-5"]
    assert sw.reasons[2] == "2 incidents on it in the 90 days before: INC-7, INC-5 (weight 0.75)"
    assert db.failures == [] and db.failure_weight == 0
    assert db.reasons[2] == "no incident on it in the 90 days before"


def test_a_change_outweighs_a_history_of_failures() -> None:
    ev = [
        change("db", start=FIRST - 40 * timedelta(minutes=1), end=FIRST - 10 * timedelta(minutes=1))
    ]
    fails = [incident("sw", FIRST - timedelta(days=d), f"INC-{d}") for d in range(1, 8)]
    assert rank(evidence=ev, failures=fails)[0].name == "db"


# --- ties ---------------------------------------------------------------------------------


def test_equal_evidence_and_distance_and_reach_fall_back_to_the_name() -> None:
    cands = rank()  # no evidence at all: topology and distance alone
    both = [c for c in cands if c.explained == 2]
    # db and sw: both 2 hops from each service, both take a1, a2, s1 and s2 down.
    assert [(c.name, c.mean_distance, c.takes_down) for c in both] == [
        ("db", 2, 4),
        ("sw", 2, 4),
    ]
    assert both[0].tie_break == "same evidence as sw (score 2); comes before it, by name"
    assert both[1].tie_break == "same evidence as db (score 2); db comes first, by name"


def test_ties_are_broken_by_distance_then_what_else_fails_then_name() -> None:
    # x and y both sit right under s1 and s2; y also carries z: failing y takes more down.
    # far sits under both too, one hop further.
    g = topo(
        "s1:Service s2:Service z:Service x:Application y:Application b:Application far:Database",
        "s1 DEPENDS_ON x, s2 DEPENDS_ON x, s1 DEPENDS_ON y, s2 DEPENDS_ON y, z DEPENDS_ON y, "
        "s1 DEPENDS_ON b, s2 DEPENDS_ON b, x DEPENDS_ON far",
    )
    cands = [c for c in rank(g) if c.explained == 2]
    assert [c.name for c in cands] == ["b", "x", "y", "far"]
    b, x, y, far = cands
    assert (b.takes_down, x.takes_down, y.takes_down) == (2, 2, 3)
    assert b.tie_break == "same evidence as x (score 2); comes before it, by name"
    assert x.tie_break == "same evidence as b (score 2); b comes first, by name"
    assert y.tie_break == (
        "same evidence as x (score 2); x comes first, takes fewer CIs down with it (2 vs 3)"
    )
    assert far.tie_break == (
        "same evidence as y (score 2); y comes first, closer to the symptoms"
        " (1 vs 2 hops on average)"
    )
    assert [c.rank for c in cands] == [1, 2, 3, 4]


def test_ranking_is_deterministic() -> None:
    first = rank_causes(SHARED, ["s1", "s2"], now=NOW)
    again = rank_causes(SHARED, ["s2", "s1"], now=NOW)
    assert [c.name for c in first.candidates] == [c.name for c in again.candidates]


def test_with_ties_renumbers_and_retells_what_is_kept() -> None:
    g = topo(
        "s1:Service s2:Service x:Application y:Application b:Application",
        "s1 DEPENDS_ON x, s2 DEPENDS_ON x, s1 DEPENDS_ON y, s2 DEPENDS_ON y, "
        "s1 DEPENDS_ON b, s2 DEPENDS_ON b",
    )
    cands = [c for c in rank(g) if c.explained == 2]
    assert [c.name for c in cands] == ["b", "x", "y"]
    kept = with_ties([c for c in cands if c.name != "x"])  # x outside a caller's view
    assert [(c.name, c.rank) for c in kept] == [("b", 1), ("y", 2)]
    assert all("x" not in (c.tie_break or "").split() for c in kept)
    assert kept[1].tie_break == "same evidence as b (score 2); b comes first, by name"


# --- what counts as a change in a CI's history ---------------------------------------------


def row(seq: int, op: HistoryOp, field: str, before: Any, after: Any, **kw: Any) -> HistoryEntry:
    kw.setdefault("actor", "loader")
    kw.setdefault("source", "sample")
    return HistoryEntry(
        seq=seq,
        entity_kind=EntityKind.CI,
        entity_id="ci_1",
        op=op,
        field=field,
        before=before,
        after=after,
        at=NOW + timedelta(minutes=seq),
        **kw,
    )


def test_loading_and_first_discovery_are_not_changes() -> None:
    rows = [
        row(1, HistoryOp.CREATE, "*", None, {"name": "vm-1.example"}, source="nmap", run_id="r1"),
        # A second feed's first run: a better name and fields nobody had recorded.
        row(2, HistoryOp.UPDATE, "name", "vm-1.example", "vm-1", source="cat", run_id="r2"),
        row(3, HistoryOp.UPDATE, "owner", None, "Platform", source="cat", run_id="r2"),
        # Agreements loaded afterwards (no run): a first value, not a change.
        row(4, HistoryOp.UPDATE, "agreements", [], [{"kind": "ola"}], source="cat"),
        row(5, HistoryOp.UPDATE, "stale.nmap", False, True, source="nmap", run_id="r3"),
    ]
    assert real_changes(rows) == []


def test_later_changes_count_whoever_records_them() -> None:
    rows = [
        row(1, HistoryOp.CREATE, "*", None, {"version": "16.4"}, source="ansible", run_id="r1"),
        row(2, HistoryOp.UPDATE, "version", "16.4", "16.5", source="ansible", run_id="r2"),
        row(3, HistoryOp.UPDATE, "owner", "Platform", "DBA", source="manual", actor="ana"),
        row(4, HistoryOp.UPDATE, "attributes.max_conn", 400, None, source="api", actor="bo"),
    ]
    assert [h.seq for h in real_changes(rows)] == [2, 3, 4]


def test_a_recorded_field_change_is_an_instant_before_the_first_symptom() -> None:
    edit = Evidence(
        ci_id="sw",
        at=FIRST - 30 * timedelta(minutes=1),
        kind="field",
        what="attributes.mtu 9000 -> 1500 by ana via manual",
    )
    sw = rank(evidence=[edit])[0]
    assert (sw.name, sw.recency) == ("sw", 0.875)
    assert sw.reasons[1] == (
        "attributes.mtu 9000 -> 1500 by ana via manual, made 30 min before the first symptom"
        " (weight 0.88)"
    )


# --- which RFCs are changes, and when they ran (impact/queries.py) -------------------------


def rfc(state: ChangeState, log: list[tuple[ChangeState, datetime]], **kw: Any) -> Change:
    return Change(
        id="RFC-9",
        title="t",
        state=state,
        log=[StateEntry(state=s, at=at, by="cm") for s, at in log],
        **kw,
    )


def test_an_rfc_counts_once_implemented_or_begun() -> None:
    window = {"planned_start": NOW - 2 * H, "planned_end": NOW - H}
    done = rfc(ChangeState.IMPLEMENTED, [(ChangeState.IMPLEMENTED, NOW - H)], **window)
    assert change_window(done, NOW) == (NOW - 2 * H, NOW - H)
    # Scheduled: in progress once its window has begun, not before.
    begun = rfc(ChangeState.SCHEDULED, [], planned_start=NOW - H, planned_end=NOW + H)
    assert change_window(begun, NOW) == (NOW - H, NOW + H)
    assert change_window(begun, NOW - 2 * H) is None
    assert change_window(rfc(ChangeState.AUTHORISED, [], **window), NOW) is None
    # No window recorded: the instant its log says it was implemented.
    bare = rfc(
        ChangeState.CLOSED, [(ChangeState.IMPLEMENTED, NOW - 3 * H), (ChangeState.CLOSED, NOW)]
    )
    assert change_window(bare, NOW) == (None, NOW - 3 * H)
    # As of an instant before its log reached "implemented", it was only authorised.
    later = rfc(
        ChangeState.IMPLEMENTED,
        [(ChangeState.AUTHORISED, NOW - 5 * H), (ChangeState.IMPLEMENTED, NOW - H)],
        **window,
    )
    assert change_window(later, NOW - 90 * timedelta(minutes=1)) is None
