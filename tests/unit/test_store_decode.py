"""The embedded store reads its own documents through cmdb.store.decode (without the
domain's idempotent validators): on everything it writes, the result must be the very
model ``model_validate_json`` gives (tests/integration/test_neo4j_decode.py holds the
same for Neo4j)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import BaseModel

from cmdb.domain.changeset import ChangeSet, CIUpsert
from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.domain.model import CI, Redundancy, Relationship, Sighting
from cmdb.domain.records import Incident, IncidentAlert, IncidentNote, IncidentState, Level
from cmdb.domain.service import Priority
from cmdb.sample.load import load_sample
from cmdb.sample.via_discovery import load_via_discovery
from cmdb.store import decode
from cmdb.store.contract import CIFilter, Direction
from cmdb.store.embedded.store import EmbeddedStore
from tests.fakes import FakeClock
from tests.integration.test_neo4j_decode import _full_service


def _same(fast: BaseModel, checked: BaseModel) -> None:
    assert type(fast) is type(checked)
    assert fast == checked
    assert fast.model_fields_set == checked.model_fields_set
    assert fast.model_dump_json(by_alias=True) == checked.model_dump_json(by_alias=True)


@pytest.fixture
def store(tmp_path: Path) -> EmbeddedStore:
    return EmbeddedStore(tmp_path / "cmdb.db", clock=FakeClock())


def _every_document_decodes_alike(store: EmbeddedStore) -> tuple[int, int]:
    conn = store._conn()
    ci_docs = [r[0] for r in conn.execute("SELECT doc FROM cis")]
    rel_docs = [r[0] for r in conn.execute("SELECT doc FROM rels")]
    for doc in ci_docs:
        _same(decode.ci(doc), CI.model_validate_json(doc))
    for doc in rel_docs:
        _same(decode.rel(doc), Relationship.model_validate_json(doc))
    for text in conn.execute("SELECT value FROM cis, json_each(cis.doc, '$.sources')").fetchall():
        _same(decode.sighting_json(text[0]), Sighting.model_validate_json(text[0]))
    return len(ci_docs), len(rel_docs)


def test_the_sample_estate_reads_as_validated(store: EmbeddedStore) -> None:
    load_via_discovery(store, actor="test")
    n_cis, n_rels = _every_document_decodes_alike(store)
    assert n_cis >= 50 and n_rels >= 50
    listed = store.list_cis(limit=1000).items
    assert len(listed) == n_cis
    for ci in listed:
        _same(ci, CI.model_validate_json(ci.model_dump_json(by_alias=True)))
        _same(store.get_ci(ci.id), ci)
    roots = [c.id for c in listed if c.ci_class == "Service"]
    sub = store.subgraph(roots, direction=Direction.BOTH, max_depth=3)
    for r in sub.edges:
        _same(r, Relationship.model_validate_json(r.model_dump_json(by_alias=True)))


def test_cis_with_every_optional_part_read_as_validated(store: EmbeddedStore) -> None:
    store.apply(
        ChangeSet(
            actor="test",
            source="decode-test",
            ci_upserts=[
                CIUpsert.model_validate(
                    {
                        "class": "Server",
                        "name": "Ünïcode-01",
                        "identifiers": [
                            Identifier(kind=IdentifierKind.MAC, value="AA-BB-CC-DD-EE-0F"),
                            Identifier(kind=IdentifierKind.HOSTNAME, value="Web-01.Example."),
                        ],
                        "attributes": {"ratio": 1.0, "on": True, "nested": {"a": [1, None]}},
                    }
                ),
                CIUpsert.model_validate(
                    {
                        "class": "Cluster",
                        "name": "db-cluster",
                        "identifiers": [Identifier(kind=IdentifierKind.KEY, value="cl-1")],
                        "redundancy": Redundancy(min_up_percent=50.0),
                    }
                ),
                CIUpsert.model_validate(
                    {
                        "class": "Service",
                        "name": "bookings",
                        "identifiers": [Identifier(kind=IdentifierKind.KEY, value="svc-1")],
                        **_full_service(),
                    }
                ),
            ],
        )
    )
    assert _every_document_decodes_alike(store) == (3, 0)


def test_incidents_read_as_validated(store: EmbeddedStore) -> None:
    load_sample(store, actor="test", history=True)
    a, b = (c.id for c in store.list_cis(limit=2).items)
    svc = store.list_cis(CIFilter(ci_class="Service"), limit=1).items[0].id
    zone = timezone(timedelta(hours=-3, minutes=-30))
    at = datetime(2026, 5, 4, 22, 15, 7, 123456, tzinfo=zone)
    full = Incident(
        id="INC-FULL",
        title="every part",
        state=IncidentState.RESOLVED,
        priority=Priority.P1,
        ci_ids=[a, b],
        service_ids=[svc],
        opened_at=at,
        resolved_at=at + timedelta(hours=3),
        major=True,
        impact=Level.HIGH,
        urgency=Level.MEDIUM,
        responded_at=datetime(2026, 5, 5, 2, 0),  # written without a zone: UTC
        outage=False,
        change_ids=["RFC-1"],
        cause_id=a,
        alerts=[
            IncidentAlert(
                fingerprint="f1",
                name="HostDown",
                status="resolved",
                ci_ids=[a],
                labels={"instance": "a:9100"},
                starts_at=at,
                ends_at=at + timedelta(minutes=5),
            )
        ],
        notes=[IncidentNote(at=at, actor="alice", text="opened from alerts")],
    )
    store.apply(ChangeSet(actor="test", source="manual", incidents=[full]))
    docs = [r[0] for r in store._conn().execute("SELECT doc FROM records WHERE kind = 'incident'")]
    assert len(docs) > 20 and any("INC-FULL" in d for d in docs)
    for fast, doc in zip(decode.incidents(docs), docs, strict=True):
        _same(fast, Incident.model_validate_json(doc))
    assert store.list_incidents() == [Incident.model_validate_json(d) for d in sorted(
        docs, key=lambda d: Incident.model_validate_json(d).id
    )]  # fmt: skip
