"""The embedded store reads its own documents through cmdb.store.decode (without the
domain's idempotent validators): on everything it writes, the result must be the very
model ``model_validate_json`` gives (tests/integration/test_neo4j_decode.py holds the
same for Neo4j)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from cmdb.domain.changeset import ChangeSet, CIUpsert
from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.domain.model import CI, Redundancy, Relationship, Sighting
from cmdb.sample.via_discovery import load_via_discovery
from cmdb.store import decode
from cmdb.store.contract import Direction
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
