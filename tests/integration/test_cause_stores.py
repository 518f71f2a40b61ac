"""Cause ranking on the shipped demo (issue 14 item 5): the planted cause first, with its
evidence, on both stores and for both ways of loading the sample.

The demo (``cmdb sample load``, ``make demo``: the estate, its year of history and the
planted scenario, loaded at SAMPLE_NOW) plants RFC-2026-0871, the Booking Engine 4.8.0
release, ending 2 h 10 min before the load, and open incidents on Online Ferry Booking
(1 h 55 min before) and Boarding Pass App API (1 h 48 min before): cmdb/sample/planted.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from cmdb.domain.changeset import ChangeSet
from cmdb.domain.identifiers import natural_key
from cmdb.domain.records import IncidentState
from cmdb.sample.load import load_sample
from cmdb.sample.planted import plant
from cmdb.sample.via_discovery import load_via_discovery
from cmdb.store.contract import CIFilter, GraphStore
from cmdb.store.refs import resolve_ci
from impact.cause import CauseResult, real_changes
from impact.queries import cause_report
from tests.contract.conftest import STORE_FACTORIES, STORE_MARKS
from tests.fakes import FakeClock
from tests.integration.conftest import SAMPLE_NOW

BOOKING = "Online Ferry Booking"
APP_API = "Boarding Pass App API"
ASKED = SAMPLE_NOW + timedelta(minutes=5)


@pytest.fixture(
    params=[
        pytest.param((kind, how), id=f"{kind}-{how}", marks=STORE_MARKS.get(kind, ()))
        for kind in STORE_FACTORIES
        for how in ("estate", "discovery")
    ]
)
def demo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    kind, how = request.param
    s = STORE_FACTORIES[kind](tmp_path, FakeClock(SAMPLE_NOW), request)
    if how == "estate":
        load_sample(s, actor="tester", history=True)
    else:
        load_via_discovery(s, actor="tester", history=True)
    try:
        yield s
    finally:
        s.close()


def ask(store: GraphStore, *, top: int = 10, now: datetime = ASKED) -> CauseResult:
    affected = [resolve_ci(store, BOOKING), resolve_ci(store, APP_API)]
    return cause_report(store, affected, now=now, top=top)


def test_the_planted_release_ranks_first_with_its_evidence(demo: GraphStore) -> None:
    r = ask(demo)
    assert r.symptom_incidents == ["INC-2026-08871", "INC-2026-08872"]
    assert r.first_symptom == SAMPLE_NOW - timedelta(hours=1, minutes=55)
    top = r.candidates[0]
    assert (top.rank, top.name, top.ci_class, top.explained) == (
        1,
        "Booking Engine",
        "Application",
        2,
    )
    # Ended 15 min before the first symptom (24 h lookback), and one incident of its own in
    # the year's history: 2 + 0.6 (1 - 15/1440) + 0.3 * 0.5.
    assert (top.recency, top.failure_weight, top.score) == (0.99, 0.5, 2.744)
    assert [(e.kind, e.ref, e.weight) for e in top.changes] == [("change", "RFC-2026-0871", 0.99)]
    assert [f.ref for f in top.failures] == ["INC-2026-01021"]
    assert top.reasons == [
        "under all 2 affected",
        "RFC-2026-0871 implemented: Booking Engine 4.8.0: new fare-quote cache,"
        " ended 15 min before the first symptom (weight 0.99)",
        "1 incident on it in the 90 days before: INC-2026-01021 (weight 0.50)",
    ]
    assert top.tie_break is None
    assert [p.names[0] for p in top.paths] == ["Booking Engine", "Booking Engine"]
    assert [p.names[-1] for p in top.paths] == [BOOKING, APP_API]


def test_the_rest_are_separated_by_evidence_and_their_ties_told(demo: GraphStore) -> None:
    rest = ask(demo, top=30).candidates[1:]
    # Nothing else changed: loading, discovering and the year's history (nothing of it in
    # the two days before the load) give no other candidate a counted change.
    assert all(c.recency == 0 for c in rest)
    assert all(c.reasons[1] == "no change in the 24 h before the first symptom" for c in rest)
    # The symptoms' own incidents are nobody's failures; the history's incidents are.
    assert not any({"INC-2026-08871", "INC-2026-08872"} & {f.ref for f in c.failures} for c in rest)
    assert rest[0].failure_weight > 0
    scores = [c.score for c in rest]
    assert scores == sorted(scores, reverse=True)
    for above, below in pairwise(rest):
        if above.score == below.score:
            assert below.tie_break and below.tie_break.startswith(
                f"same evidence as {above.name} (score {above.score:g}); {above.name} comes first,"
            )
        elif below.tie_break:  # tied with the next one instead
            assert "comes before it" in below.tie_break


def test_loading_the_demo_records_no_change_to_any_ci(demo: GraphStore) -> None:
    cis = demo.list_cis(CIFilter(), limit=10_000).items
    assert len(cis) > 40
    assert {
        c.name: real_changes(demo.history(c.id)) for c in cis if real_changes(demo.history(c.id))
    } == {}


# --- the plant's rules on the bare estate plus the planted scenario ---------------------


@pytest.fixture
def planted(sample_store: GraphStore) -> GraphStore:
    plant(sample_store, actor="tester")
    return sample_store


def test_a_change_after_the_first_symptom_does_not_count(
    planted: GraphStore, sample_clock: FakeClock
) -> None:
    # The DBA bumps bookings-db while the incidents are open: not the cause of them.
    sample_clock.advance(minutes=30)
    planted.apply(
        ChangeSet(
            actor="dba",
            source="manual",
            ci_upserts=[
                {
                    "class": "Database",
                    "name": "bookings-db",
                    "identifiers": [natural_key("Database", "bookings-db")],
                    "version": "16.5",
                }
            ],
        )
    )
    r = ask(planted, top=30, now=sample_clock.now + timedelta(minutes=5))
    assert r.candidates[0].name == "Booking Engine"
    db = next(c for c in r.candidates if c.name == "bookings-db")
    assert db.recency == 0 and db.changes[0].kind == "field" and "version" in db.changes[0].what
    assert db.changes[0].note == "began 2.4 h after the first symptom: not counted"


def test_without_an_open_incident_the_release_is_weighed_against_now(
    planted: GraphStore,
) -> None:
    for inc in planted.list_incidents(open_only=True):
        resolved = inc.model_copy(
            update={"state": IncidentState.RESOLVED, "resolved_at": SAMPLE_NOW}
        )
        planted.apply(ChangeSet(actor="desk", source="manual", incidents=[resolved]))
    r = ask(planted)
    assert r.symptom_incidents == [] and r.first_symptom == ASKED
    top = r.candidates[0]
    # 2 h 15 min before now: 1 - 135/1440.
    assert (top.name, top.recency) == ("Booking Engine", 0.906)
    assert top.changes[0].note == "ended 2.2 h before now"
    assert top.reasons[1].endswith("ended 2.2 h before now (weight 0.91)")


def test_loading_again_plants_nothing_twice(planted: GraphStore) -> None:
    before = planted.counts()
    load_sample(planted, actor="tester", planted=True)
    assert plant(planted, actor="tester").written == 0
    assert planted.counts() == before
    incidents = planted.list_incidents(open_only=True)
    assert [i.id for i in incidents] == ["INC-2026-08871", "INC-2026-08872"]
    # Raised against the services, naming no CI and no outage: nothing counts as down.
    assert all(i.ci_ids == [] and not i.outage for i in incidents)
    assert [c.id for c in planted.list_changes()] == ["RFC-2026-0871"]
