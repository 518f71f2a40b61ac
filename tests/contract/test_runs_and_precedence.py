"""Discovery bookkeeping in the store: precedence, observation order, touches, misses and
staleness, run records, batched identifier look-ups. Both stores, through apply() only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cmdb.domain.changeset import ChangeSet, CIRef, Miss, Precedence, Touch
from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.domain.history import HistoryOp
from cmdb.domain.records import DiscoveryRun, RunStatus
from cmdb.store.contract import GraphStore
from tests.contract.builders import ident, touch, up
from tests.fakes import FakeClock

POLICY = Precedence(owners={"attributes.os": ["ansible", "nmap"]}, default=["terraform"])


def feed(source: str, *ops: Any, **extra: Any) -> ChangeSet:
    return ChangeSet(actor="discovery", source=source, ci_upserts=list(ops), **extra)


def server(**attrs: Any) -> Any:
    return up("Server", "web", attributes=attrs)


def test_an_owner_keeps_its_field_against_a_lower_source(store: GraphStore) -> None:
    ci_id = store.apply(feed("ansible", server(os="rocky 9.3"), precedence=POLICY)).ci_ids[0]
    res = store.apply(feed("nmap", server(os="linux 5.x", ports=2), precedence=POLICY))
    assert res.skipped_fields == 1
    ci = store.get_ci(ci_id)
    assert ci.attributes == {"os": "rocky 9.3", "ports": 2}
    assert ci.provenance["attributes.os"].source == "ansible"
    assert ci.provenance["attributes.ports"].source == "nmap"
    # The owner overwrites a lower source whatever the order.
    other = store.apply(feed("nmap", up("Server", "db", attributes={"os": "guess"}))).ci_ids[0]
    store.apply(feed("ansible", up("Server", "db", attributes={"os": "rhel"}), precedence=POLICY))
    assert store.get_ci(other).attributes["os"] == "rhel"


def test_a_lower_source_writes_once_the_owner_is_stale(store: GraphStore) -> None:
    ci_id = store.apply(feed("ansible", server(os="rocky 9.3"), precedence=POLICY)).ci_ids[0]
    miss = Miss(ref=CIRef(id=ci_id), stale_after=1)
    assert store.apply(ChangeSet(actor="d", source="ansible", misses=[miss])).marked_stale == 1
    res = store.apply(feed("nmap", server(os="linux 5.x"), precedence=POLICY))
    assert res.skipped_fields == 0
    ci = store.get_ci(ci_id)
    assert ci.attributes["os"] == "linux 5.x"
    assert ci.provenance["attributes.os"].source == "nmap"


def test_an_older_observation_never_overwrites_a_newer_one(
    store: GraphStore, clock: FakeClock
) -> None:
    t = clock()
    ci_id = store.apply(feed("ansible", server(os="9.3"), observed_at=t)).ci_ids[0]
    late = store.apply(feed("ansible", server(os="9.1"), observed_at=t - timedelta(hours=1)))
    assert late.skipped_fields >= 1 and late.history_rows == 0
    assert store.get_ci(ci_id).attributes["os"] == "9.3"
    # Another source, no policy: still by observation time.
    store.apply(feed("nmap", server(os="8.0"), observed_at=t - timedelta(minutes=1)))
    assert store.get_ci(ci_id).attributes["os"] == "9.3"
    store.apply(feed("nmap", server(os="9.4"), observed_at=t + timedelta(minutes=1)))
    assert store.get_ci(ci_id).attributes["os"] == "9.4"


def test_upsert_keeps_scope_and_digest_in_the_sighting(store: GraphStore) -> None:
    upsert = server(os="x").model_copy(update={"content_hash": "abc"})
    ci_id = store.apply(feed("nmap", upsert, scope="10.0.0.0/24", run_id="r1")).ci_ids[0]
    s = store.get_ci(ci_id).sources["nmap"]
    assert (s.scope, s.content_hash, s.run_id, s.missed_runs, s.stale) == (
        "10.0.0.0/24",
        "abc",
        "r1",
        0,
        False,
    )


def test_touch_moves_the_sighting_only(store: GraphStore, clock: FakeClock) -> None:
    upsert = server(os="x").model_copy(update={"content_hash": "abc"})
    ci_id = store.apply(feed("nmap", upsert, scope="lan", run_id="r1")).ci_ids[0]
    before = store.get_ci(ci_id)
    rows = len(store.history(ci_id))
    clock.advance(60)
    res = store.apply(touch("web", source="nmap", run_id="r2", scope="lan"))
    assert (res.touched, res.history_rows, res.updated) == (1, 0, 0)
    after = store.get_ci(ci_id)
    s = after.sources["nmap"]
    assert (s.last_seen, s.run_id, s.content_hash) == (clock(), "r2", "abc")
    assert after.field_values() == before.field_values()
    assert after.updated_at == before.updated_at
    assert after.provenance == before.provenance  # a touch writes the sighting only...
    assert len(store.history(ci_id)) == rows
    # ...yet the source's fields count as observed again at the touch: an observation
    # between the upsert and the touch is older than what the CI says.
    store.apply(feed("ansible", server(os="y"), observed_at=clock() - timedelta(seconds=30)))
    assert store.get_ci(ci_id).attributes["os"] == "x"
    with pytest.raises(NotFound):
        store.apply(ChangeSet(actor="d", source="nmap", touches=[Touch(ref=CIRef(id="ci_x"))]))


def test_misses_make_a_ci_stale_once_and_seeing_it_clears_that(
    store: GraphStore, clock: FakeClock
) -> None:
    ci_id = store.apply(feed("nmap", server(os="x"), run_id="r1")).ci_ids[0]
    miss = [Miss(ref=CIRef(id=ci_id), stale_after=2)]
    created = clock()
    for n, run_id in enumerate(("r2", "r3", "r4"), start=1):
        clock.advance(60)
        res = store.apply(ChangeSet(actor="d", source="nmap", run_id=run_id, misses=miss))
        s = store.get_ci(ci_id).sources["nmap"]
        assert (s.missed_runs, s.stale) == (n, n >= 2)
        assert res.marked_stale == (1 if n == 2 else 0)
    # A miss from a source that never saw the CI, from a run of another scope, or in the
    # run that saw it, does nothing.
    assert store.apply(ChangeSet(actor="d", source="ansible", misses=miss)).marked_stale == 0
    other_scope = ChangeSet(actor="d", source="nmap", scope="dmz", run_id="r9", misses=miss)
    store.apply(other_scope)
    assert store.get_ci(ci_id).sources["nmap"].missed_runs == 3
    stale_rows = [h for h in store.history(ci_id) if h.field == "stale.nmap"]
    assert [(h.op, h.before, h.after) for h in stale_rows] == [(HistoryOp.UPDATE, False, True)]
    # As-of replay ignores the row: the CI as of now is its fields.
    assert store.get_ci(ci_id, as_of=clock()).field_values() == store.get_ci(ci_id).field_values()
    assert store.get_ci(ci_id, as_of=created).field_values() == store.get_ci(ci_id).field_values()
    clock.advance(60)
    store.apply(feed("nmap", server(os="x"), run_id="r5"))
    s = store.get_ci(ci_id).sources["nmap"]
    assert (s.missed_runs, s.stale) == (0, False)
    assert [h.after for h in store.history(ci_id) if h.field == "stale.nmap"] == [True, False]
    # Never deleted, whatever happens.
    assert store.get_ci(ci_id).name == "web"


def _run(run_id: str, source: str, scope: str | None, at: Any, **kw: Any) -> DiscoveryRun:
    return DiscoveryRun(id=run_id, source=source, scope=scope, started_at=at, **kw)


def test_runs_are_stored_and_listed_newest_first(store: GraphStore, clock: FakeClock) -> None:
    t0 = clock()
    runs = [
        _run("r1", "nmap", "lan", t0),
        _run("r2", "nmap", "dmz", t0 + timedelta(seconds=1, microseconds=5)),
        _run("r3", "ansible", None, t0 + timedelta(seconds=2)),
        _run("r4", "nmap", "lan", t0 + timedelta(seconds=3)),
    ]
    res = store.apply(ChangeSet(actor="d", source="nmap", runs=runs))
    assert res.history_rows == 0  # bookkeeping, not configuration
    done = runs[0].model_copy(
        update={"status": RunStatus.SUCCEEDED, "ended_at": t0, "counts": {"items": 3}}
    )
    store.apply(ChangeSet(actor="d", source="nmap", runs=[done]))
    assert store.get_run("r1") == done
    assert [r.id for r in store.list_runs()] == ["r4", "r3", "r2", "r1"]
    assert [r.id for r in store.list_runs(source="nmap")] == ["r4", "r2", "r1"]
    assert [r.id for r in store.list_runs(source="nmap", scope="lan")] == ["r4", "r1"]
    assert [r.id for r in store.list_runs(limit=1)] == ["r4"]
    assert store.list_runs(source="nobody") == []
    with pytest.raises(NotFound):
        store.get_run("r9")
    with pytest.raises(InvalidInput):
        store.list_runs(limit=0)


def test_sightings_of_a_source_in_one_scan(store: GraphStore) -> None:
    upsert = server(os="x").model_copy(update={"content_hash": "h1"})
    ci_id = store.apply(feed("nmap", upsert, scope="lan", run_id="r1")).ci_ids[0]
    store.apply(feed("manual", up("Server", "db")))
    [(found_id, hit)] = store.list_sightings("nmap").items()
    assert found_id == hit.ci_id == ci_id and hit.ci_class == "Server"
    assert hit.sighting == store.get_ci(ci_id).sources["nmap"]
    assert (hit.sighting.content_hash, hit.sighting.scope, hit.sighting.run_id) == (
        "h1",
        "lan",
        "r1",
    )
    assert len(store.list_sightings("manual")) == 1
    assert store.list_sightings("nobody") == {}


def test_find_by_identifiers_answers_many_at_once(store: GraphStore) -> None:
    ids = store.apply(
        feed(
            "d",
            up("Server", "a", identifiers=[ident("ip", "10.0.0.1"), ident("hostname", "web")]),
            up("Server", "b", identifiers=[ident("ip", "10.0.0.1")]),
        )
    ).ci_ids
    found = store.find_by_identifiers(
        [ident("key", "a"), ident("ip", "10.0.0.1"), ident("hostname", "web"), ident("key", "z")]
    )
    assert [c.id for c in found[ident("key", "a")]] == [ids[0]]
    assert [c.id for c in found[ident("ip", "10.0.0.1")]] == sorted(ids)
    assert [c.name for c in found[ident("hostname", "web")]] == ["a"]
    assert ident("key", "z") not in found
    assert store.find_by_identifiers([]) == {}
