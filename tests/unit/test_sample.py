"""The shipped sample estate: one change set, loadable, idempotent, and shaped as promised."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.domain.model import CI
from cmdb.domain.service import AgreementKind, Priority, ServiceKind
from cmdb.sample.load import build_changeset, load_sample, natural_key, read_estate
from cmdb.store.contract import CIFilter, Direction
from cmdb.store.embedded.store import EmbeddedStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    s = EmbeddedStore(tmp_path / "sample.db")
    load_sample(s, actor="tester")
    yield s
    s.close()


def _all(store: EmbeddedStore, ci_class: str | None = None) -> list[CI]:
    return store.list_cis(CIFilter(ci_class=ci_class), limit=10_000).items


def _one(store: EmbeddedStore, ci_class: str, name: str) -> CI:
    found = store.find_by_identifier(natural_key(ci_class, name))
    assert len(found) == 1, (ci_class, name)
    return found[0]


def _targets(store: EmbeddedStore, ci: CI, type_name: str) -> list[CI]:
    return [n.ci for n in store.neighbours(ci.id, direction=Direction.OUT, types=[type_name])]


def test_one_changeset_of_40_to_60_cis() -> None:
    cs = build_changeset(read_estate(), actor="tester")
    assert 40 <= len(cs.ci_upserts) <= 60
    assert cs.rel_upserts and cs.source == "sample" and cs.request_id


def test_every_edge_is_allowed_and_loading_twice_changes_nothing(store: EmbeddedStore) -> None:
    counts = store.counts()
    assert sum(counts.by_class.values()) == len(read_estate()["cis"])
    assert sum(counts.relationships_by_type.values()) == len(read_estate()["relationships"])
    again = load_sample(store, actor="tester")
    assert (again.created, again.updated, again.history_rows) == (0, 0, 0)
    assert again.rels_created == again.rels_updated == 0


def test_customer_facing_services_with_slas(store: EmbeddedStore) -> None:
    facing = [
        s
        for s in _all(store, "Service")
        if s.service is not None and s.service.kind is ServiceKind.CUSTOMER_FACING
    ]
    assert len(facing) == 2
    for svc in facing:
        assert svc.service is not None
        sla = svc.service.sla
        assert sla is not None
        assert sla.service_hours.timezone == "Europe/London"
        assert any(not e.hours for e in sla.service_hours.exceptions), "a closed holiday"
        assert 99 < sla.availability_target < 100
        assert set(sla.response_minutes) == set(sla.resolution_minutes) == set(Priority)
        assert sla.scheduled_interruptions.per_month >= 1
        served = _targets(store, svc, "SERVES")
        assert served and all(c.ci_class == "Customer" for c in served)
        assert {c.name for c in served} == set(sla.customers)
    supporting = [s for s in _all(store, "Service") if s not in facing]
    assert len(supporting) >= 3


def test_cluster_of_three_vms_on_servers(store: EmbeddedStore) -> None:
    (cluster,) = _all(store, "Cluster")
    assert cluster.redundancy is not None and cluster.redundancy.required(3) == 2
    members = [
        n.ci for n in store.neighbours(cluster.id, direction=Direction.IN, types=["MEMBER_OF"])
    ]
    assert len(members) == 3 and all(m.ci_class == "VirtualMachine" for m in members)
    for vm in members:
        hosts = _targets(store, vm, "HOSTED_ON")
        assert [h.ci_class for h in hosts] == ["Server"]


def test_the_rest_of_the_estate(store: EmbeddedStore) -> None:
    by_class = store.counts().by_class
    for cls in ("Database", "LoadBalancer", "Location", "Team", "Supplier", "Application"):
        assert by_class.get(cls, 0) >= 1, cls
    assert by_class["ApplicationInstance"] >= 4
    kinds = {a.kind for ci in _all(store) for a in ci.agreements}
    assert kinds == {AgreementKind.OLA, AgreementKind.SUPPLIER_CONTRACT}
    owned = store.counts().relationships_by_type["OWNED_BY"]
    assert owned >= 5
    svc = _one(store, "Service", "Online Ferry Booking")
    down = store.subgraph([svc.id], direction=Direction.BOTH, max_depth=8)
    assert _one(store, "Server", "srv-01").id in down.nodes


def test_every_ci_carries_its_natural_key(store: EmbeddedStore) -> None:
    for ci in _all(store):
        assert ci.identifier("key") == f"{ci.ci_class}:{ci.name}".lower()


def test_a_broken_estate_names_the_entry() -> None:
    doc = read_estate()
    doc["relationships"] = [*doc["relationships"], ["svc-booking", "SERVES", "nobody"]]
    with pytest.raises(InvalidInput, match=r"relationships\[93\]: no CI with ref 'nobody'"):
        build_changeset(doc, actor="tester")
    doc = read_estate()
    doc["cis"][0]["colour"] = "blue"
    with pytest.raises(InvalidInput, match=r"cis\[0\]\.colour"):
        build_changeset(doc, actor="tester")
