"""`cmdb export` from one store and `cmdb import` into the other gives the same CMDB.

Also the CLI against a real Neo4j: `cmdb db migrate`, `cmdb sample load`, `cmdb ci show`.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from neo4j import Driver
from typer.testing import CliRunner

from cmdb.cli import app
from cmdb.domain.changeset import ChangeSet, CIRef, CIRetire, RelRetire
from cmdb.domain.identifiers import Identifier
from cmdb.sample.load import load_sample
from cmdb.store.contract import Direction, GraphStore
from cmdb.store.embedded.store import EmbeddedStore
from cmdb.store.snapshot import export, import_
from devsupport.neo4j_local import Neo4jServer
from tests.fakes import FakeClock
from tests.neo4j_support import fresh_store, wipe

pytestmark = pytest.mark.neo4j


def _body(store: GraphStore) -> list[dict[str, object]]:
    """The snapshot's rows without the header (which names the store and the time)."""
    buf = io.BytesIO()
    export(store, buf)
    return [orjson.loads(line) for line in buf.getvalue().splitlines()[1:]]


def _history_of_changes(store: GraphStore, clock: FakeClock) -> None:
    """The sample estate, then a day of changes: an update, a retirement, a retired edge."""
    load_sample(store, actor="test")
    clock.advance(hours=2)
    web = store.find_by_identifier(Identifier.parse("key=server:srv-01"))
    target = web[0] if web else store.list_cis().items[0]
    store.apply(
        ChangeSet(
            actor="alice",
            source="manual",
            request_id="req-1",
            ci_retires=[CIRetire(ref=CIRef(id=target.id))],
        )
    )
    clock.advance(hours=1)
    rel = store.list_relationships(limit=1).items[0]
    store.apply(
        ChangeSet(
            actor="bob",
            source="manual",
            rel_retires=[
                RelRetire(
                    type=rel.type, source=CIRef(id=rel.source_id), target=CIRef(id=rel.target_id)
                )
            ],
        )
    )


@pytest.mark.parametrize("direction", ["embedded_to_neo4j", "neo4j_to_embedded"])
def test_export_import_round_trips_between_stores(
    tmp_path: Path, neo4j_driver: Driver, direction: str
) -> None:
    clock = FakeClock()
    embedded = EmbeddedStore(tmp_path / "a.db", clock=clock)
    neo = fresh_store(neo4j_driver, clock)
    source, target = (embedded, neo) if direction == "embedded_to_neo4j" else (neo, embedded)
    _history_of_changes(source, clock)
    snapshot = io.BytesIO()
    export(source, snapshot)
    snapshot.seek(0)
    import_(target, snapshot)
    assert _body(target) == _body(source)
    # The copies answer the same questions, the past included.
    first = source.list_cis(limit=1).items[0]
    past = clock.now - timedelta(hours=2, minutes=30)
    assert target.get_ci(first.id, as_of=past) == source.get_ci(first.id, as_of=past)
    a = source.subgraph([first.id], direction=Direction.BOTH, max_depth=3)
    b = target.subgraph([first.id], direction=Direction.BOTH, max_depth=3)
    assert set(a.nodes) == set(b.nodes) and a.edges == b.edges
    assert source.counts() == target.counts()
    embedded.close()


def test_cli_against_real_neo4j(neo4j_server: Neo4jServer, neo4j_driver: Driver) -> None:
    wipe(neo4j_driver)
    env = {
        "CMDB_STORE": "neo4j",
        "CMDB_NEO4J_URI": neo4j_server.uri,
        "CMDB_NEO4J_USER": neo4j_server.user,
        "CMDB_NEO4J_PASSWORD": neo4j_server.password,
    }
    runner = CliRunner()
    res = runner.invoke(app, ["db", "migrate", "--json"], env=env)
    assert res.exit_code == 0, res.output
    assert orjson.loads(res.output)["applied"][0] == "0001_constraints.cypher"
    res = runner.invoke(app, ["db", "check"], env=env)
    assert res.exit_code == 0 and "schema ok" in res.output
    res = runner.invoke(app, ["sample", "load"], env=env)
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["counts", "--json"], env=env)
    counts = orjson.loads(res.output)
    assert sum(counts["by_class"].values()) >= 40
    res = runner.invoke(app, ["ci", "show", "srv-01", "--json"], env=env)
    assert res.exit_code == 0 and orjson.loads(res.output)["name"] == "srv-01"
    bad = runner.invoke(app, ["rel", "add", "srv-01", "serves", "srv-02"], env=env)
    assert bad.exit_code == 2 and "SERVES" in bad.output
    fresh_store(neo4j_driver, FakeClock())
