"""The Neo4j store decodes its own documents without the domain's Python validators
(cmdb/store/decode.py). That is only sound if, on everything the store writes, the
result is the very model ``model_validate_json`` gives: these tests hold it so on real
data (the sample estate as six discovery feeds reconcile it, and CIs with every optional
part filled in) and check that the decoder still refuses what the schema refuses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from neo4j import Driver
from pydantic import BaseModel, ValidationError

from cmdb.domain.changeset import ChangeSet, CIRef, CIUpsert, RelUpsert
from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.domain.model import CI, Redundancy, Relationship
from cmdb.domain.service import (
    SLA,
    Agreement,
    Blackout,
    CalendarException,
    ServiceCalendar,
    ServiceDetails,
    TimeRange,
)
from cmdb.sample.via_discovery import load_via_discovery
from cmdb.store import decode
from cmdb.store.contract import Direction, Page, Subgraph
from cmdb.store.neo4j.store import Neo4jStore
from tests.fakes import FakeClock
from tests.neo4j_support import fresh_store

pytestmark = pytest.mark.neo4j


@pytest.fixture
def store(neo4j_driver: Driver) -> Iterator[Neo4jStore]:
    s = fresh_store(neo4j_driver, FakeClock())
    yield s
    s.close()


def _docs(store: Neo4jStore, query: str) -> list[str]:
    return [r["doc"] for r in store._rows(query)]


def _assert_same(fast: BaseModel, checked: BaseModel) -> None:
    assert type(fast) is type(checked)
    assert fast == checked
    assert fast.model_fields_set == checked.model_fields_set
    assert fast.model_dump_json(by_alias=True) == checked.model_dump_json(by_alias=True)


def _assert_every_document_decodes_alike(store: Neo4jStore) -> tuple[int, int]:
    ci_docs = _docs(store, "MATCH (c:CI) RETURN c.doc AS doc")
    rel_docs = _docs(store, "MATCH ()-[r]->() WHERE r.doc IS NOT NULL RETURN r.doc AS doc")
    for doc in ci_docs:
        _assert_same(decode.ci(doc), CI.model_validate_json(doc))
    for doc in rel_docs:
        _assert_same(decode.rel(doc), Relationship.model_validate_json(doc))
    return len(ci_docs), len(rel_docs)


def test_the_validators_left_out_are_the_idempotent_ones() -> None:
    # If pydantic changed how validators appear in a core schema, nothing would be left
    # out: still correct, but the speed would be gone without anyone noticing.
    known_type = ("cmdb.domain.model", "Relationship._known_type")
    assert decode._CI.removed == decode.IDEMPOTENT - {known_type}
    assert decode._REL.removed == {known_type}


def test_the_left_out_validators_do_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    # The schema alone is not enough: pydantic-core reuses a complete class's own validator
    # for its "model" schema, which would run every validator the schema left out.
    import cmdb.domain.identifiers as identifiers
    import cmdb.domain.model as model

    calls: list[str] = []

    def probe(name: str, real: Any) -> Any:
        def counted(*args: Any) -> Any:
            calls.append(name)
            return real(*args)

        return counted

    for mod, name in ((model, "check_class"), (model, "get_type"), (identifiers, "normalise")):
        monkeypatch.setattr(mod, name, probe(name, getattr(mod, name)))
    ci = CI.model_validate(
        {
            "id": "ci_1",
            "class": "Server",
            "name": "s",
            "identifiers": [{"kind": "serial", "value": "X"}],
        }
    )
    rel = Relationship(id="rel_1", type="DEPENDS_ON", source_id="ci_1", target_id="ci_2")
    calls.clear()
    decode.ci(ci.model_dump_json(by_alias=True))
    decode.rel(rel.model_dump_json())
    assert calls == []
    CI.model_validate_json(ci.model_dump_json(by_alias=True))  # the probes do see a validation
    Relationship.model_validate_json(rel.model_dump_json())
    assert sorted(calls) == ["check_class", "get_type", "normalise"]


def test_the_sample_estate_decodes_as_validated(store: Neo4jStore) -> None:
    load_via_discovery(store, actor="test")
    n_cis, n_rels = _assert_every_document_decodes_alike(store)
    assert n_cis >= 50 and n_rels >= 50
    # What the store's reads hand out is the validated model too.
    page = store.list_cis(limit=1000)
    listed = page.items
    assert len(listed) == n_cis
    for ci in listed:
        _assert_same(ci, CI.model_validate_json(ci.model_dump_json(by_alias=True)))
    # The page (and a subgraph) are assembled without re-validating the decoded models.
    _assert_same(page, Page(items=listed, next_cursor=None))
    roots = [c.id for c in listed if c.ci_class == "Service"]
    for sub in (
        store.subgraph(roots, direction=Direction.BOTH, max_depth=3),
        store.subgraph(
            roots, walk={"DEPENDS_ON": Direction.OUT}, leaves={"MEMBER_OF": Direction.IN}
        ),
    ):
        _assert_same(sub, Subgraph.model_validate(sub.model_dump()))


def _full_service() -> dict[str, Any]:
    hours = [TimeRange.model_validate({"start": "08:00", "end": "00:00"})]
    calendar = ServiceCalendar(
        timezone="Europe/London",
        weekly={"mon": hours, "sat": []},
        exceptions=[CalendarException.model_validate({"day": "2026-12-25", "hours": []})],
    )
    return {
        "service": ServiceDetails(
            customers=["retail"],
            sla=SLA(name="gold", availability_target=99.95, service_hours=calendar),
            blackouts=[
                # Given without a zone: stored as UTC, and read back the same.
                Blackout.model_validate(
                    {"start": "2026-12-20T00:00:00", "end": "2026-12-27T00:00:00"}
                )
            ],
        ),
        "agreements": [
            Agreement.model_validate(
                {"kind": "ola", "name": "db-ola", "party": "dba", "response_minutes": {"P1": 15}}
            )
        ],
    }


def test_cis_with_every_optional_part_decode_as_validated(store: Neo4jStore) -> None:
    mac = Identifier(kind=IdentifierKind.MAC, value="AA-BB-CC-DD-EE-0F")
    ups = [
        CIUpsert.model_validate(
            {
                "class": "Server",
                "name": "Ünïcode-01",
                "identifiers": [
                    mac,
                    Identifier(kind=IdentifierKind.HOSTNAME, value="Web-01.Example."),
                    Identifier(kind=IdentifierKind.IP, value="10.0.0.1"),
                ],
                "criticality": "high",
                "attributes": {
                    "port": 5432,
                    "ratio": 1.0,
                    "on": True,
                    "none_kept": "",
                    "nested": {"a": [1, 2.5, {"b": None}]},
                    "when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                },
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
        CIUpsert.model_validate(
            {  # a Service given no details gets the default ones
                "class": "Service",
                "name": "plain-service",
                "identifiers": [Identifier(kind=IdentifierKind.KEY, value="svc-2")],
            }
        ),
    ]
    store.apply(
        ChangeSet(
            actor="test",
            source="decode-test",
            ci_upserts=ups,
            rel_upserts=[
                RelUpsert(
                    type="MEMBER_OF",
                    source=CIRef(identifier=mac),
                    target=CIRef(identifier=Identifier(kind=IdentifierKind.KEY, value="cl-1")),
                    confidence=0.5,
                    attributes={"weight": 2},
                )
            ],
        )
    )
    assert _assert_every_document_decodes_alike(store) == (4, 1)


def test_the_decoder_still_refuses_what_the_schema_refuses(store: Neo4jStore) -> None:
    load_via_discovery(store, actor="test")
    doc = _docs(store, "MATCH (c:CI) WHERE c.sources <> [] RETURN c.doc AS doc LIMIT 1")[0]
    good = CI.model_validate_json(doc)
    source = next(iter(good.sources))
    bad_count = doc.replace('"missed_runs":0', '"missed_runs":-1', 1)
    extra = doc.replace('"description":', '"unknown":1,"description":', 1)
    for wrong in (bad_count, extra, doc.replace(f'"{good.ci_class}"', "7", 1)):
        assert wrong != doc
        with pytest.raises(ValidationError):
            decode.ci(wrong)
    assert source  # the document had a sighting to break
