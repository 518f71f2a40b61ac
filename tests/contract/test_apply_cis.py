"""apply() for CIs: create, partial update, attribute merge, identification, retirement."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from cmdb.domain.changeset import CIRef, CIUpsert
from cmdb.domain.errors import IdentityConflict, InvalidInput, NotFound
from cmdb.domain.history import HistoryOp
from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.domain.model import Criticality, LifecycleStatus
from cmdb.store.contract import GraphStore
from tests.contract.builders import (
    by_id,
    ci_by_key,
    cs,
    history_len,
    ident,
    key,
    rel,
    retire,
    up,
)
from tests.fakes import FakeClock


def _with_id(ci_id: str, ci_class: str, name: str, **fields: object) -> CIUpsert:
    return CIUpsert.model_validate({"id": ci_id, "class": ci_class, "name": name, **fields})


def test_create_returns_ids_and_stores_every_given_field(
    store: GraphStore, clock: FakeClock
) -> None:
    res = store.apply(
        cs(
            up(
                "Server",
                "srv-1",
                name="web-01",
                description="front web server",
                owner="team-web",
                location="dc-1",
                version="2.1",
                environment="prod",
                criticality=Criticality.HIGH,
                status=LifecycleStatus.IN_TEST,
                identifiers=[ident("serial", "SN-1"), ident("hostname", "web-01")],
                attributes={"os": "linux", "cpus": 8, "tags": ["a", "b"]},
            ),
            up("Application", "app-1", name="shop"),
        )
    )
    assert res.created == 2 and res.updated == 0 and res.unchanged == 0
    assert len(res.ci_ids) == 2 and len(set(res.ci_ids)) == 2
    ci = store.get_ci(res.ci_ids[0])
    assert ci.id == res.ci_ids[0]
    assert (ci.ci_class, ci.name, ci.description) == ("Server", "web-01", "front web server")
    assert (ci.owner, ci.location) == ("team-web", "dc-1")
    assert (ci.version, ci.environment) == ("2.1", "prod")
    assert ci.criticality is Criticality.HIGH
    assert ci.status is LifecycleStatus.IN_TEST
    assert ci.attributes == {"os": "linux", "cpus": 8, "tags": ["a", "b"]}
    assert {str(i) for i in ci.identifiers} == {"key=srv-1", "serial=SN-1", "hostname=web-01"}
    assert ci.created_at == clock() and ci.updated_at == clock()
    assert "manual" in ci.sources and ci.sources["manual"].last_seen == clock()
    app = store.get_ci(res.ci_ids[1])
    assert app.ci_class == "Application" and app.status is LifecycleStatus.LIVE  # the default


def test_create_with_a_chosen_id(store: GraphStore) -> None:
    res = store.apply(cs(_with_id("ci_manual_1", "Server", "x")))
    assert res.ci_ids == ["ci_manual_1"]
    assert store.get_ci("ci_manual_1").name == "x"


def test_invalid_chosen_id_is_refused(store: GraphStore) -> None:
    with pytest.raises(InvalidInput):
        store.apply(cs(_with_id("bad id!", "Server", "x")))
    assert store.is_empty()


def test_update_writes_only_the_given_fields(store: GraphStore, clock: FakeClock) -> None:
    first = store.apply(
        cs(up("Server", "s", name="s", owner="ops", environment="prod", location="dc-1"))
    )
    clock.advance(60)
    res = store.apply(cs(up("Server", "s", name="s", version="9")))
    assert res.ci_ids == first.ci_ids
    assert (res.created, res.updated) == (0, 1)
    ci = store.get_ci(first.ci_ids[0])
    assert (ci.owner, ci.environment, ci.location, ci.version) == ("ops", "prod", "dc-1", "9")
    assert ci.created_at is not None and ci.updated_at == clock()
    assert ci.created_at < ci.updated_at


def test_a_field_given_as_null_is_cleared(store: GraphStore) -> None:
    store.apply(cs(up("Server", "s", owner="ops", environment="prod")))
    store.apply(cs(up("Server", "s", owner=None)))
    ci = ci_by_key(store, "s")
    assert ci.owner is None and ci.environment == "prod"


def test_attributes_merge_key_by_key_and_null_removes(store: GraphStore) -> None:
    store.apply(cs(up("Server", "s", attributes={"os": "linux", "cpus": 4, "ram": 16})))
    res = store.apply(cs(up("Server", "s", attributes={"cpus": 8, "ram": None, "disk": 100})))
    assert res.updated == 1
    assert ci_by_key(store, "s").attributes == {"os": "linux", "cpus": 8, "disk": 100}
    # Removing a key that is not there changes nothing.
    again = store.apply(cs(up("Server", "s", attributes={"ram": None})))
    assert (again.updated, again.unchanged, again.history_rows) == (0, 1, 0)


def test_identifiers_are_added_never_dropped(store: GraphStore) -> None:
    store.apply(cs(up("Server", "s", identifiers=[ident("serial", "SN-1")])))
    res = store.apply(cs(up("Server", "s", identifiers=[ident("mac", "AA-BB-CC-DD-EE-FF")])))
    assert res.updated == 1
    ci = ci_by_key(store, "s")
    assert {str(i) for i in ci.identifiers} == {"key=s", "serial=SN-1", "mac=aa:bb:cc:dd:ee:ff"}
    # The new identifier now identifies the CI, in any spelling of the MAC.
    assert [c.id for c in store.find_by_identifier(ident("mac", "AABBCCDDEEFF"))] == [ci.id]


def test_a_unique_identifier_identifies_the_existing_ci(store: GraphStore) -> None:
    first = store.apply(cs(up("Server", None, name="a", identifiers=[ident("serial", "SN-7")])))
    # Another source knows the same machine by serial and FQDN, but not by key.
    res = store.apply(
        cs(
            up(
                "Server",
                None,
                name="a",
                identifiers=[ident("serial", "SN-7"), ident("fqdn", "A.Example.COM.")],
            ),
            source="scanner",
        )
    )
    assert res.ci_ids == first.ci_ids and res.created == 0
    found = store.find_by_identifier(ident("fqdn", "a.example.com"))
    assert [c.id for c in found] == first.ci_ids
    assert set(found[0].sources) == {"manual", "scanner"}


def test_identifiers_of_two_different_cis_conflict(store: GraphStore) -> None:
    a, b = store.apply(
        cs(
            up("Server", "a", identifiers=[ident("serial", "SN-A")]),
            up("Server", "b", identifiers=[ident("serial", "SN-B")]),
        )
    ).ci_ids
    before = history_len(store)
    with pytest.raises(IdentityConflict) as err:
        store.apply(
            cs(up("Server", None, name="x", identifiers=[ident("serial", "SN-A"), key("b")]))
        )
    assert a in str(err.value) and b in str(err.value)
    # An explicit id plus another CI's identifier is a conflict too.
    with pytest.raises(IdentityConflict):
        store.apply(cs(_with_id(a, "Server", "a", identifiers=[ident("serial", "SN-B")])))
    assert history_len(store) == before
    assert [c.id for c in store.find_by_identifier(ident("serial", "SN-B"))] == [b]
    assert {str(i) for i in store.get_ci(a).identifiers} == {"key=a", "serial=SN-A"}


def test_class_change_is_refused(store: GraphStore) -> None:
    ci_id = store.apply(cs(up("Server", "s"))).ci_ids[0]
    with pytest.raises(InvalidInput) as err:
        store.apply(cs(up("VirtualMachine", "s")))
    assert "Server" in str(err.value) and "VirtualMachine" in str(err.value)
    assert store.get_ci(ci_id).ci_class == "Server"


def test_the_model_refuses_non_unique_identifier_refs() -> None:
    with pytest.raises(ValidationError, match="not unique"):
        CIRef(identifier=Identifier(kind=IdentifierKind.HOSTNAME, value="web-01"))
    with pytest.raises(ValidationError, match="not unique"):
        CIRef(identifier=Identifier(kind=IdentifierKind.IP, value="10.0.0.1"))
    # An upsert known only by hostname and IP cannot be identified.
    with pytest.raises(ValidationError, match="unique identifier"):
        CIUpsert.model_validate(
            {
                "class": "Server",
                "name": "web",
                "identifiers": [
                    {"kind": "hostname", "value": "web"},
                    {"kind": "ip", "value": "10.0.0.1"},
                ],
            }
        )
    with pytest.raises(ValidationError):
        CIRef()
    with pytest.raises(ValidationError):
        CIRef(id="x", identifier=key("x"))


def test_non_unique_identifiers_may_be_shared(store: GraphStore) -> None:
    shared = ident("hostname", "WEB")
    ids = store.apply(
        cs(up("Server", "a", identifiers=[shared]), up("VirtualMachine", "b", identifiers=[shared]))
    ).ci_ids
    assert sorted(c.id for c in store.find_by_identifier(ident("hostname", "web"))) == sorted(ids)
    assert store.find_by_identifier(ident("serial", "nope")) == []


def test_two_upserts_of_one_ci_in_a_batch_are_one_ci(store: GraphStore) -> None:
    res = store.apply(
        cs(
            up("Server", "s", owner="a", identifiers=[ident("serial", "SN-1")]),
            up("Server", None, name="s", environment="prod", identifiers=[ident("serial", "SN-1")]),
        )
    )
    assert res.ci_ids[0] == res.ci_ids[1] and res.created == 1
    ci = store.get_ci(res.ci_ids[0])
    assert (ci.owner, ci.environment) == ("a", "prod")


@pytest.mark.parametrize("status", [LifecycleStatus.WITHDRAWN, LifecycleStatus.DISPOSED])
def test_retire_sets_the_status_and_keeps_the_ci(
    store: GraphStore, clock: FakeClock, status: LifecycleStatus
) -> None:
    ci_id = store.apply(cs(up("Server", "s", owner="ops"))).ci_ids[0]
    clock.advance(5)
    res = store.apply(cs(retire("s", status)))
    assert res.retired == 1
    ci = store.get_ci(ci_id)
    assert ci.status is status and ci.owner == "ops"
    assert ci.updated_at == clock()
    assert [c.id for c in store.find_by_identifier(key("s"))] == [ci_id]
    last = store.history(ci_id)[-1]
    assert (last.op, last.field, last.before, last.after) == (
        HistoryOp.RETIRE,
        "status",
        "live",
        status.value,
    )
    assert store.counts().by_status.get(status.value) == 1


def test_retire_by_id_is_idempotent_and_never_walks_back(store: GraphStore) -> None:
    ci_id = store.apply(cs(up("Server", "s"))).ci_ids[0]
    assert store.apply(cs(retire(by_id(ci_id), LifecycleStatus.DISPOSED))).retired == 1
    n = history_len(store)
    again = store.apply(cs(retire(by_id(ci_id), LifecycleStatus.DISPOSED)))
    back = store.apply(cs(retire(by_id(ci_id), LifecycleStatus.WITHDRAWN)))
    assert again.retired == back.retired == 0
    assert store.get_ci(ci_id).status is LifecycleStatus.DISPOSED
    assert history_len(store) == n


def test_retire_of_an_unknown_ci_is_not_found(store: GraphStore) -> None:
    with pytest.raises(NotFound):
        store.apply(cs(retire("ghost")))
    with pytest.raises(NotFound):
        store.apply(cs(retire(by_id("ci_ghost"))))


def test_retire_refuses_a_live_status() -> None:
    with pytest.raises(ValidationError):
        retire("s", LifecycleStatus.LIVE)


def test_empty_changeset_changes_nothing(store: GraphStore) -> None:
    res = store.apply(cs())
    assert res.created == res.history_rows == 0
    assert store.is_empty()


def test_sightings_follow_observed_at_and_never_go_back(
    store: GraphStore, clock: FakeClock
) -> None:
    seen = clock() - timedelta(hours=2)
    res = store.apply(
        cs(
            up("Server", "s"),
            up("Server", "t"),
            rel("DEPENDS_ON", "s", "t"),
            source="feed",
            run_id="r1",
            observed_at=seen,
        )
    )
    ci_id, rel_id = res.ci_ids[0], res.rel_ids[0]
    for sources in (store.get_ci(ci_id).sources, store.get_relationship(rel_id).sources):
        s = sources["feed"]
        assert (s.first_seen, s.last_seen, s.run_id) == (seen, seen, "r1")
    assert store.history(ci_id)[0].at == clock()  # history is stamped by the store
    # An older observation arriving later widens first_seen but keeps the newest last_seen.
    clock.advance(60)
    older = seen - timedelta(hours=1)
    late = cs(
        up("Server", "s"),
        rel("DEPENDS_ON", "s", "t"),
        source="feed",
        run_id="r0",
        observed_at=older,
    )
    assert store.apply(late).history_rows == 0
    for sources in (store.get_ci(ci_id).sources, store.get_relationship(rel_id).sources):
        s = sources["feed"]
        assert (s.first_seen, s.last_seen, s.run_id) == (older, seen, "r1")
    # Without observed_at, the store's clock is the sighting.
    store.apply(cs(up("Server", "s"), source="feed", run_id="r2"))
    s = store.get_ci(ci_id).sources["feed"]
    assert (s.last_seen, s.run_id) == (clock(), "r2")


def test_a_change_between_equal_comparing_json_values_is_recorded(
    store: GraphStore, clock: FakeClock
) -> None:
    """1, 1.0 and true are == in Python but different JSON: the change must reach history."""
    ci_id = store.apply(cs(up("Server", "s", attributes={"x": 1, "y": [0, 2], "z": 1}))).ci_ids[0]
    t0 = clock()
    clock.advance(5)
    res = store.apply(cs(up("Server", "s", attributes={"x": True, "y": [False, 2], "z": 1.0})))
    assert (res.updated, res.history_rows) == (1, 3)
    now = store.get_ci(ci_id).attributes
    assert now == {"x": True, "y": [False, 2], "z": 1.0}
    assert [type(v) for v in (now["x"], now["y"][0], now["z"])] == [bool, bool, float]
    assert store.get_ci(ci_id, as_of=clock()).attributes == now
    then = store.get_ci(ci_id, as_of=t0).attributes
    assert [type(v) for v in (then["x"], then["y"][0], then["z"])] == [int, int, int]
    # Same values again, keys in another order: nothing changes.
    again = store.apply(cs(up("Server", "s", attributes={"z": 1.0, "y": [False, 2], "x": True})))
    assert (again.unchanged, again.history_rows) == (1, 0)
