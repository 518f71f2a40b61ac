"""Reports on the sample estate, on both stores (the real Neo4j runs under the ``neo4j``
mark; it never skips). The same records give the same reports on either store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cmdb.app import reports
from cmdb.app.report_tables import to_csv
from cmdb.app.scope import Visibility
from cmdb.domain.changeset import ChangeSet
from cmdb.domain.records import ChangeOutcome, ChangeState, ChangeType, Level
from cmdb.practice.changes import assess_change, transition_change
from cmdb.practice.incidents import open_incident
from cmdb.practice.review import review_change
from cmdb.store.contract import GraphStore
from cmdb.store.refs import resolve_ci
from tests.integration.test_practice_stores import NIGHT, NOW, POLICY, cid, rfc

ALL = Visibility()


@pytest.fixture
def store(sample_store: GraphStore) -> GraphStore:
    """The sample estate on each store (tests/integration/conftest.py)."""
    return sample_store


def _work(store: GraphStore) -> None:
    """Two colliding changes awaiting the CAB, one failed emergency change, an incident."""
    rfc(store, "RFC-1", "vm-app-01")
    rfc(store, "RFC-2", "vm-app-02")
    for ref in ("RFC-1", "RFC-2"):
        assess_change(store, ref, POLICY, actor="cm", now=NOW)
    rfc(store, "RFC-3", "srv-03", window=None, type=ChangeType.EMERGENCY)
    for to in (ChangeState.AUTHORISED, ChangeState.SCHEDULED, ChangeState.IMPLEMENTED):
        transition_change(store, "RFC-3", to, actor="cm", now=NOW, window=NIGHT)
    review_change(
        store, "RFC-3", ChangeOutcome.FAILED, POLICY, actor="cm", now=NIGHT[1] + timedelta(hours=1)
    )
    open_incident(
        store,
        incident_id="INC-1",
        title="bookings-db down",
        cis=[resolve_ci(store, "bookings-db")],
        urgency=Level.HIGH,
        policy=POLICY,
        actor="desk",
        now=NOW,
    )
    # An owner written twice: the CI that changes most.
    db = resolve_ci(store, "bookings-db")
    for owner in ("DBA", "Platform Engineering"):
        store.apply(
            ChangeSet(
                actor="t",
                source="manual",
                ci_upserts=[{"id": db.id, "class": db.ci_class, "name": db.name, "owner": owner}],
            )
        )


def test_every_report_on_the_sample_estate(store: GraphStore) -> None:
    _work(store)
    later = NOW + timedelta(days=1)

    changes = reports.changes(store, ALL, later)
    assert (changes.total, changes.emergency, changes.failed, changes.reviewed) == (3, 1, 1, 1)
    assert changes.backlog.open == 2 and changes.backlog.oldest_age_days == 1.0
    assert {c.name: c.count for c in changes.by_ci} == {"vm-app-01": 1, "vm-app-02": 1, "srv-03": 1}

    incidents = reports.incidents(store, ALL, later)
    assert incidents.total == 1 and incidents.by_priority[0].key == "P1"
    names = {c.name for c in incidents.by_service}
    assert "Online Ferry Booking" in names
    # A P1 left open for a day breaches every SLA clock it has.
    assert incidents.breached_incidents == 1
    assert {b.target for b in incidents.breaches} == {"response", "resolution"}

    cis = reports.cis(store, ALL, later, top=3)
    assert cis.total == 47
    assert cis.most_changed[0].name == "bookings-db" and cis.most_changed[0].writes == 2
    assert [c.name for c in cis.most_incidents] == ["bookings-db"]

    health = reports.health(store, ALL, later)
    assert (health.total, health.incomplete_total, health.orphans_total) == (47, 2, 0)

    agenda = reports.cab_agenda(store, ALL, POLICY, NOW, NOW + timedelta(days=60), NOW)
    assert [i.id for i in agenda.decide] == ["RFC-1", "RFC-2"]
    assert agenda.scheduled == [] and agenda.review == []
    kinds = {c.kind for c in agenda.decide[0].collisions}
    assert "joint_quorum" in kinds  # a quorum break neither change causes alone
    assert {s.name for s in agenda.decide[0].services} >= {"Boarding Pass App API"}
    assert to_csv(agenda).count("\n") == 3


def test_a_scope_counts_only_what_is_inside(store: GraphStore) -> None:
    _work(store)
    scope = {cid(store, "vm-app-01"), cid(store, "srv-03")}
    vis = Visibility(frozenset(scope))
    changes = reports.changes(store, vis, NOW)
    assert sorted(c.key for c in changes.by_ci) == sorted(scope)
    cis = reports.cis(store, vis, NOW)
    assert cis.total == 2 and cis.most_incidents == []
    health = reports.health(store, vis, NOW)
    assert health.total == 2
    agenda = reports.cab_agenda(store, vis, POLICY, NOW, NOW + timedelta(days=60), NOW)
    assert [i.id for i in agenda.decide] == ["RFC-1"]
    assert agenda.decide[0].collisions == [] and agenda.decide[0].services == []
    assert agenda.decide[0].why == ""
