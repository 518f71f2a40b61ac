"""Finding a CI over HTTP: ``Class:name`` references and ambiguity errors, the same in
REST and GraphQL (one resolver, cmdb.store.refs), and the name search ranked best first.

On both stores, over the sample with a name made to repeat (as Kubernetes objects do: a
workload and the load balancer in front of it share a name).
"""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.auth.roles import Role
from tests.api.conftest import Api
from tests.api.test_graphql import data, error_of, gql

V1 = "/api/v1"
TWINS = {"KubernetesWorkload:booking-x", "LoadBalancer:booking-x"}


@pytest.fixture
def twins(api: Api) -> dict[str, str]:
    """Class -> id of two CIs named ``booking-x``, and a CI whose name holds a colon."""
    h = api.as_role(Role.CHANGE_MANAGER)
    made: dict[str, str] = {}
    for body in (
        {"class": "KubernetesWorkload", "name": "booking-x", "identifiers": ["k8s_uid=uid-bx"]},
        {"class": "LoadBalancer", "name": "booking-x", "identifiers": ["fqdn=bx.example"]},
        {"class": "Application", "name": "Server:legacy", "identifiers": ["key=legacy-app"]},
    ):
        r = api.client.post(f"{V1}/cis", json=body, headers=h)
        assert r.status_code == 201, r.text
        made[str(body["class"])] = r.json()["ci"]["id"]
    return made


def _get(api: Api, ref: str, role: Role = Role.VIEWER) -> Any:
    return api.client.get(f"{V1}/cis/{ref}", headers=api.as_role(role))


def test_rest_class_name_picks_one_and_ambiguity_lists_class_names(
    api: Api, twins: dict[str, str]
) -> None:
    r = _get(api, "booking-x")
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["type"] == "ambiguous_reference" and err["where"] == "ref"
    assert set(err["candidates"]) == TWINS
    assert err["message"] == f"booking-x is ambiguous: {', '.join(err['candidates'])}"
    # Each candidate, as listed, is a reference that picks its CI.
    for cand in err["candidates"]:
        assert _get(api, cand).json()["id"] == twins[cand.split(":")[0]]
    # A class takes its subclasses, and its case is not worth an error.
    assert _get(api, "NetworkDevice:booking-x").json()["class"] == "LoadBalancer"
    assert _get(api, "kubernetesworkload:booking-x").json()["class"] == "KubernetesWorkload"
    missing = _get(api, "Pod:booking-x")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"].startswith("no Pod named 'booking-x' (found: ")
    # Ids, identifiers and plain unique names keep working; a name holding a colon too.
    assert _get(api, twins["LoadBalancer"]).json()["name"] == "booking-x"
    assert _get(api, "fqdn=bx.example").json()["class"] == "LoadBalancer"
    assert _get(api, "Server:srv-01").json()["name"] == "srv-01"
    assert _get(api, "Server:legacy").json()["id"] == twins["Application"]
    # Every route taking a CI reads it the same way: the impact engine's too.
    r = api.client.post(
        f"{V1}/impact/incident",
        json={"cis": ["KubernetesWorkload:booking-x"]},
        headers=api.as_role(Role.VIEWER),
    )
    assert r.status_code == 200, r.text
    r = api.client.post(
        f"{V1}/impact/incident", json={"cis": ["booking-x"]}, headers=api.as_role(Role.VIEWER)
    )
    assert r.status_code == 409 and set(r.json()["error"]["candidates"]) == TWINS


def test_graphql_reads_references_as_rest_does(api: Api, twins: dict[str, str]) -> None:
    got = data(api, '{ ci(ref: "KubernetesWorkload:booking-x") { __typename id } }')["ci"]
    assert got == {"__typename": "KubernetesWorkload", "id": twins["KubernetesWorkload"]}
    err = error_of(gql(api, '{ ci(ref: "booking-x") { name } }'))
    assert set(err["extensions"]["candidates"]) == TWINS
    assert err["message"].startswith("booking-x is ambiguous: ")
    # The engine's questions take the same spellings (GraphQL's impact resolver included).
    hit = data(api, '{ impact(cis: ["LoadBalancer:booking-x"]) { cis { name } } }')
    assert "booking-x" in {c["name"] for c in hit["impact"]["cis"]}
    err = error_of(gql(api, '{ impact(cis: ["booking-x"]) { cis { name } } }'))
    assert set(err["extensions"]["candidates"]) == TWINS
    assert data(api, '{ ci(ref: "Server:legacy") { id } }')["ci"]["id"] == twins["Application"]


def test_a_scoped_caller_resolves_among_what_it_sees_in_every_shell(api: Api) -> None:
    # A second srv-01 outside the service's scope: invisible, so srv-01 is not ambiguous
    # for the scoped caller, in REST and GraphQL alike, and never listed to it.
    body = {"class": "VirtualMachine", "name": "srv-01", "identifiers": ["fqdn=srv-01.twin"]}
    h = api.as_role(Role.CHANGE_MANAGER)
    assert api.client.post(f"{V1}/cis", json=body, headers=h).status_code == 201
    assert _get(api, "srv-01").status_code == 409
    service = data(api, '{ ci(ref: "Card Payments") { id } }')["ci"]["id"]
    mobile = data(api, '{ ci(ref: "Boarding Pass App API") { id } }')["ci"]["id"]
    scoped = api.token_for(Role.VIEWER, services=(mobile,), name="mobile")
    server = api.client.get(f"{V1}/cis/srv-01", headers=scoped)
    assert server.status_code == 200 and server.json()["class"] == "Server"
    got = data(api, '{ ci(ref: "srv-01") { __typename } }', headers=scoped)["ci"]
    assert got["__typename"] == "Server"
    # Out of scope: "not found", the same answer as for a name nobody has.
    outside = api.token_for(Role.VIEWER, services=(service,), name="payments")
    for ref in ("srv-01", "Server:srv-01"):
        r = api.client.get(f"{V1}/cis/{ref}", headers=outside)
        assert r.status_code == 404 and not r.json()["error"].get("candidates"), r.text
        assert (
            error_of(gql(api, f'{{ ci(ref: "{ref}") {{ id }} }}', headers=outside))["extensions"][
                "code"
            ]
            == "NOT_FOUND"
        )


def test_the_search_lists_the_best_match_first(api: Api) -> None:
    # What the impact map's search asks: an nmap port named after the host no longer
    # comes before the host.
    h = api.as_role(Role.CHANGE_MANAGER)
    for name in ("https 443/tcp on srv-01.example", "ssh 22/tcp on srv-01.example"):
        body = {"class": "ApplicationInstance", "name": name, "identifiers": [f"key={name}"]}
        assert api.client.post(f"{V1}/cis", json=body, headers=h).status_code == 201
    r = api.client.get(f"{V1}/cis?name_contains=srv-01&limit=25", headers=h)
    assert [c["name"] for c in r.json()["items"]] == [
        "srv-01",
        "https 443/tcp on srv-01.example",
        "ssh 22/tcp on srv-01.example",
    ]
    # A page at a time, in the same order.
    seen: list[str] = []
    url = f"{V1}/cis?name_contains=SRV&limit=2"
    while url:
        page = api.client.get(url, headers=h).json()
        seen += [c["name"] for c in page["items"]]
        nxt = page["next_cursor"]
        url = f"{V1}/cis?name_contains=SRV&limit=2&cursor={nxt}" if nxt else ""
    assert seen[:3] == ["srv-01", "srv-02", "srv-03"] and len(seen) == len(set(seen)) == 5
    nodes = data(api, '{ cis(filter: {nameContains: "srv-01"}, first: 5) { nodes { name } } }')
    assert [n["name"] for n in nodes["cis"]["nodes"]] == ["srv-01", *seen[3:]]
