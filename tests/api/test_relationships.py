"""``/relationships`` and ``/subgraph`` on both stores."""

from __future__ import annotations

from cmdb.auth.roles import Role
from tests.api.conftest import Api
from tests.api.test_cis import V1, all_pages, ci_id, clock_of


def test_list_by_type_and_page_through(api: Api) -> None:
    h = api.as_role("viewer")
    r = api.client.get(f"{V1}/relationships", params={"type": "member of"}, headers=h)
    assert r.status_code == 200
    items = r.json()["items"]
    assert len(items) == 3 and {i["type"] for i in items} == {"MEMBER_OF"}
    cluster = ci_id(api, "harbour-app-cluster")
    assert {i["target_id"] for i in items} == {cluster}
    rels, pages = all_pages(api, f"{V1}/relationships?limit=25", h)
    assert len(rels) == 93 and len({r["id"] for r in rels}) == 93 and pages == 4


def test_create_with_a_phrase_either_way(api: Api) -> None:
    h = api.as_role("change-manager")
    body = {"class": "VirtualMachine", "name": "vm-app-04", "identifiers": ["fqdn=vm-app-04.x"]}
    vm = api.client.post(f"{V1}/cis", json=body, headers=h).json()["ci"]
    srv = ci_id(api, "serial=IBX7-40118")
    r = api.client.post(
        f"{V1}/relationships",
        json={"source": "vm-app-04", "type": "hosted on", "target": "serial=IBX7-40118"},
        headers={**h, "X-Request-ID": "req-rel-1"},
    )
    assert r.status_code == 201, r.text
    rel = r.json()["relationship"]
    assert r.json()["outcome"] == "created"
    assert (rel["type"], rel["source_id"], rel["target_id"]) == ("HOSTED_ON", vm["id"], srv)
    # "hosts" is the reverse phrase: the same edge, found again.
    r = api.client.post(
        f"{V1}/relationships",
        json={"source": "srv-02", "type": "hosts", "target": "vm-app-04", "confidence": 0.5},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["outcome"] == "updated"
    assert r.json()["relationship"]["id"] == rel["id"]
    assert r.json()["relationship"]["confidence"] == 0.5
    hist = api.store.history(rel["id"])
    assert hist[0].request_id == "req-rel-1" and hist[0].actor == "test-change-manager"
    assert hist[0].source == "api"


def test_a_refused_pair_says_why_and_writes_nothing(api: Api) -> None:
    h = api.as_role("change-manager")
    before = api.store.counts()
    r = api.client.post(
        f"{V1}/relationships",
        json={"source": "srv-01", "type": "serves", "target": "srv-02"},
        headers=h,
    )
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["type"] == "forbidden_relationship" and err["where"] == "type"
    assert "Service -> Customer" in err["message"]
    for body, where in (
        ({"source": "srv-01", "type": "teleports to", "target": "srv-02"}, "type"),
        ({"source": "nope", "type": "depends on", "target": "srv-02"}, "source"),
        ({"source": "srv-01", "type": "depends on", "target": "srv-01"}, "target"),
        ({"source": "srv-01", "type": "depends on", "target": "srv-02", "id": "r"}, "body.id"),
        ({"source": "srv-01", "type": "depends on"}, "body.target"),
    ):
        r = api.client.post(f"{V1}/relationships", json=body, headers=h)
        assert r.status_code in (404, 422) and r.json()["error"]["where"] == where, body
    assert api.store.counts() == before


def test_get_as_of_and_retire(api: Api) -> None:
    clock = clock_of(api)
    loaded = clock.now
    clock.advance(minutes=5)
    h = api.as_role("viewer")
    rel = api.client.get(
        f"{V1}/relationships", params={"type": "MEMBER_OF", "limit": 1}, headers=h
    ).json()["items"][0]
    r = api.client.delete(f"{V1}/relationships/{rel['id']}", headers=api.as_role("change-manager"))
    assert r.status_code == 200
    assert r.json()["outcome"] == "retired" and r.json()["relationship"]["status"] == "retired"
    now = api.client.get(f"{V1}/relationships/{rel['id']}", headers=h).json()
    assert now["status"] == "retired"
    then = api.client.get(
        f"{V1}/relationships/{rel['id']}", params={"as_of": loaded.isoformat()}, headers=h
    ).json()
    assert then["status"] == "active"
    active = api.client.get(f"{V1}/relationships", params={"type": "MEMBER_OF"}, headers=h)
    assert len(active.json()["items"]) == 2
    with_retired = api.client.get(
        f"{V1}/relationships", params={"type": "MEMBER_OF", "include_retired": True}, headers=h
    )
    assert len(with_retired.json()["items"]) == 3
    assert api.client.get(f"{V1}/relationships/rel_nope", headers=h).status_code == 404
    hist = api.client.get(f"{V1}/history/{rel['id']}", headers=h).json()["history"]
    assert [row["op"] for row in hist] == ["create", "retire"]


def test_roles_for_relationships(api: Api) -> None:
    before = api.store.counts()
    body = {"source": "srv-01", "type": "depends on", "target": "srv-02"}
    for role in ("viewer", "discovery"):
        r = api.client.post(f"{V1}/relationships", json=body, headers=api.as_role(role))
        assert r.status_code == 403, role
    rel = api.store.list_relationships(limit=1).items[0]
    r = api.client.delete(f"{V1}/relationships/{rel.id}", headers=api.as_role("viewer"))
    assert r.status_code == 403
    assert api.store.counts() == before


def test_subgraph_from_a_service(api: Api) -> None:
    h = api.as_role("viewer")
    r = api.client.get(
        f"{V1}/subgraph",
        params=[
            ("root", "Card Payments"),
            ("direction", "out"),
            ("type", "contains"),
            ("type", "runs_on"),
            ("type", "HOSTED_ON"),
        ],
        headers=h,
    )
    assert r.status_code == 200, r.text
    sub = r.json()
    assert sub["roots"] == [ci_id(api, "Card Payments")]
    got = sorted(n["name"] for n in sub["nodes"])
    assert got == ["Card Payments", "Payments Adapter", "payments-adapter-1", "srv-03", "vm-int-01"]
    assert len(sub["edges"]) == 4 and sub["depth_reached"] == 4
    assert not sub["truncated_by_depth"] and not sub["truncated_by_nodes"]
    capped = api.client.get(
        f"{V1}/subgraph", params={"root": "Card Payments", "depth": 1}, headers=h
    ).json()
    assert capped["truncated_by_depth"]
    assert api.client.get(f"{V1}/subgraph", headers=h).status_code == 422
    r = api.client.get(f"{V1}/subgraph", params={"root": "nope"}, headers=h)
    assert r.status_code == 404 and r.json()["error"]["where"] == "root"


def test_a_scoped_token_sees_its_part_of_the_graph(api: Api) -> None:
    service = ci_id(api, "Card Payments")
    h = api.token_for(Role.VIEWER, services=(service,))
    sub = api.client.get(
        f"{V1}/subgraph", params={"root": "Card Payments", "depth": 2}, headers=h
    ).json()
    # Digital Channels (the owning team) is outside the scope, and so is its edge.
    names = sorted(n["name"] for n in sub["nodes"])
    assert names == ["Card Payments", "Harbourpay Ltd", "Payments Adapter", "payments-adapter-1"]
    ids = {n["id"] for n in sub["nodes"]}
    assert all(e["source_id"] in ids and e["target_id"] in ids for e in sub["edges"])
    r = api.client.get(f"{V1}/subgraph", params={"root": "Online Ferry Booking"}, headers=h)
    assert r.status_code == 404
    rels, _ = all_pages(api, f"{V1}/relationships?limit=4", h)
    assert rels and all(r["source_id"] != ci_id(api, "Digital Channels") for r in rels)
    hidden = api.store.list_relationships(type_name="SERVES", limit=1).items[0]
    assert api.client.get(f"{V1}/relationships/{hidden.id}", headers=h).status_code == 404
    editor = api.token_for(Role.CHANGE_MANAGER, services=(service,))
    before = api.store.counts()
    r = api.client.delete(f"{V1}/relationships/{hidden.id}", headers=editor)
    assert r.status_code == 404
    body = {"source": "Payments Adapter", "type": "depends on", "target": "bookings-db"}
    assert api.client.post(f"{V1}/relationships", json=body, headers=editor).status_code == 404
    assert api.store.counts() == before
