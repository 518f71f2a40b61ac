"""GraphQL at /graphql: the schema from the model, DataLoaders, scope, mutations, auth.

Runs on both stores (``api``) where data matters; HTTP-only behaviour on the embedded one.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cmdb.auth.roles import Role
from cmdb.domain.relationships import REGISTRY
from cmdb.gql.schema import sdl
from cmdb.gql.types import TYPES, camel
from cmdb.store.contract import GraphStore
from tests.api.conftest import Api


class CountingStore:
    """A fake around the real store: forwards every call and counts it (no mocks)."""

    def __init__(self, inner: GraphStore) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.kind = inner.kind

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] += 1
            return attr(*args, **kwargs)

        return counted

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def counting(api: Api) -> CountingStore:
    proxy = CountingStore(api.store)
    api.app.state.store = proxy
    return proxy


def gql(
    api: Api,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    role: Role | str = Role.ADMIN,
    headers: dict[str, str] | None = None,
    op: str | None = None,
) -> dict[str, Any]:
    r = api.client.post(
        "/graphql",
        json={"query": query, "variables": variables, "operationName": op},
        headers=headers if headers is not None else api.as_role(role),
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def data(api: Api, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
    body = gql(api, query, variables, **kw)
    assert "errors" not in body, body["errors"]
    return body["data"]


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    assert body.get("errors"), body
    err: dict[str, Any] = body["errors"][0]
    return err


# -- the schema comes from the model ---------------------------------------------------


def test_every_registry_phrase_is_a_ci_field_both_ways() -> None:
    text = sdl()
    for rtype in REGISTRY.values():
        for phrase in (rtype.forward, rtype.reverse):
            assert f"  {camel(phrase)}(" in text, phrase
    assert camel("depends on") == "dependsOn" and camel("used by") == "usedBy"
    assert camel("has team member") == "hasTeamMember"


def test_a_type_per_concrete_class_and_interfaces_for_abstract_ones() -> None:
    text = sdl()
    assert "interface CI {" in text
    assert "interface Compute implements CI {" in text
    assert "type Server implements Compute & CI {" in text
    for name in TYPES:
        assert f"type {name} implements" in text, name
        assert TYPES[name].__name__.endswith("Type")  # house rule 8


def test_relationship_fields_in_both_directions_and_depth(api: Api) -> None:
    got = data(
        api,
        """{ ci(ref: "harbour-app-cluster") {
              __typename name
              ... on Cluster { redundancy { minUp } }
              hasMember { name }
              memberOf: hasMember(depth: 2) { name }
            }
            vm: ci(ref: "vm-app-01") { memberOf { name } hostedOn { name } } }""",
    )
    ci = got["ci"]
    assert ci["__typename"] == "Cluster" and ci["redundancy"] == {"minUp": 2}
    assert [m["name"] for m in ci["hasMember"]] == ["vm-app-01", "vm-app-02", "vm-app-03"]
    assert got["vm"] == {
        "memberOf": [{"name": "harbour-app-cluster"}],
        "hostedOn": [{"name": "srv-01"}],
    }


def test_depth_is_bounded(api_embedded: Api) -> None:
    err = error_of(gql(api_embedded, '{ ci(ref: "srv-01") { hosts(depth: 7) { name } } }'))
    assert err["extensions"]["code"] == "INVALID_INPUT"
    assert err["extensions"]["where"] == "depth" and "between 1 and 6" in err["message"]


def test_cursor_pagination_walks_every_ci_once(api: Api) -> None:
    query = """query($after: String) { cis(first: 20, after: $after) {
                 nodes { id } pageInfo { endCursor hasNextPage } } }"""
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = data(api, query, {"after": after})["cis"]
        seen += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 47


def test_filter_by_class_includes_subclasses(api_embedded: Api) -> None:
    got = data(api_embedded, '{ cis(filter: {class: "Compute"}, first: 100) { nodes { class } } }')
    classes = Counter(n["class"] for n in got["cis"]["nodes"])
    assert classes == {"VirtualMachine": 6, "Server": 3}


def test_services_and_slas(api: Api) -> None:
    got = data(
        api,
        """{ services(kind: CUSTOMER_FACING) { name sla { availabilityTarget } }
             slas { service { name } sla { name responseMinutes } } }""",
    )
    assert got["services"] == [
        {"name": "Boarding Pass App API", "sla": {"availabilityTarget": 99.95}},
        {"name": "Online Ferry Booking", "sla": {"availabilityTarget": 99.9}},
    ]
    assert [s["service"]["name"] for s in got["slas"]] == [
        "Boarding Pass App API",
        "Online Ferry Booking",
    ]
    assert set(got["slas"][0]["sla"]["responseMinutes"]) == {"P1", "P2", "P3", "P4"}


def test_engine_queries(api: Api) -> None:
    got = data(
        api,
        """{ availability(service: "Online Ferry Booking") { availability targetPercent }
             recovery(service: "Online Ferry Booking") { coldStart steps { name wave } }
             cause(cis: ["Online Ferry Booking", "Boarding Pass App API"], top: 3) {
               candidates { name explained } } }""",
    )
    assert 0 < got["availability"]["availability"] < 1
    assert got["availability"]["targetPercent"] == 99.9
    assert got["recovery"]["coldStart"] is True
    names = [s["name"] for s in got["recovery"]["steps"]]
    assert names.index("srv-01") < names.index("Online Ferry Booking")
    assert got["cause"]["candidates"] and got["cause"]["candidates"][0]["explained"] == 2


# -- DataLoaders: store round trips grow with depth, not size ----------------------------

TWO_LEVELS = """query($n: Int!) { cis(first: $n) { nodes {
    name
    dependsOn { name runsOn { name } }
    usedBy { name }
} } }"""


def test_store_calls_grow_with_query_depth_not_result_size(api: Api) -> None:
    store = counting(api)
    small = data(api, TWO_LEVELS, {"n": 3})
    small_calls = dict(store.calls)
    store.calls.clear()
    everything = data(api, TWO_LEVELS, {"n": 1000})
    big_calls = dict(store.calls)
    assert len(everything["cis"]["nodes"]) == 47 > len(small["cis"]["nodes"])
    with_edges = sum(1 for n in everything["cis"]["nodes"] if n["dependsOn"] or n["usedBy"])
    assert with_edges > 10
    # One page read, then one batched traversal per relationship field of each level:
    # level 1 has dependsOn and usedBy, level 2 runsOn.
    assert big_calls == {"list_cis": 1, "subgraph": 3}, big_calls
    # Three CIs make as many calls or fewer (a level with no parents makes none).
    assert small_calls["list_cis"] == 1 and 2 <= small_calls["subgraph"] <= 3


# -- scope: a token limited to one service sees nothing outside it ------------------------


def _service_id(api: Api, name: str) -> str:
    got = data(api, "query($r: String!) { ci(ref: $r) { id } }", {"r": name})
    return str(got["ci"]["id"])


def test_scoped_token_sees_only_its_service_even_through_traversals(api: Api) -> None:
    mobile = _service_id(api, "Boarding Pass App API")
    scoped = api.token_for(Role.VIEWER, services=(mobile,), name="mobile-viewer")
    names = {
        n["name"]
        for n in data(api, "{ cis(first: 1000) { nodes { name } } }", headers=scoped)["cis"][
            "nodes"
        ]
    }
    # The mobile gateway depends on the booking engine, so that (and its database) is in
    # scope; the booking website and its service are not.
    assert {"Boarding Pass App API", "mobile-gateway-1", "Booking Engine", "bookings-db"} <= names
    assert not names & {"Online Ferry Booking", "Booking Web", "booking-web-1", "booking-web-2"}
    cluster = data(
        api,
        """{ ci(ref: "harbour-app-cluster") {
              runs { name }
              far: runs(depth: 3) { name }
              neighbours(depth: 2) { ci { name } relationship { source { name } } } } }""",
        headers=scoped,
    )["ci"]
    reached = {c["name"] for c in cluster["runs"] + cluster["far"]}
    reached |= {n["ci"]["name"] for n in cluster["neighbours"]}
    assert {"mobile-gateway-2", "booking-engine-1", "vm-app-03"} <= reached
    assert not reached & {"booking-web-1", "booking-web-2", "Online Ferry Booking"}
    hidden = error_of(gql(api, '{ ci(ref: "Online Ferry Booking") { name } }', headers=scoped))
    assert hidden["extensions"]["code"] == "NOT_FOUND"
    impact = data(
        api, '{ impact(cis: ["srv-01"]) { services { name } cis { name } } }', headers=scoped
    )["impact"]
    hit = [s["name"] for s in impact["services"]]
    assert "Boarding Pass App API" in hit and "Identity & Sign-in" in hit  # a dependency
    assert "Online Ferry Booking" not in hit
    assert not {c["name"] for c in impact["cis"]} & {"booking-web-1", "Online Ferry Booking"}


# -- mutations ------------------------------------------------------------------------

UPSERT = """mutation($input: CIInput!) { upsertCi(input: $input) {
    outcome ci { id name owner history { op actor source } } } }"""


def test_upsert_writes_history_as_the_caller_from_graphql(api: Api) -> None:
    web = {"class": "Server", "name": "web-07", "identifiers": ["serial=SN-77"]}
    first = data(api, UPSERT, {"input": web}, role=Role.CHANGE_MANAGER)["upsertCi"]
    again = data(api, UPSERT, {"input": web}, role=Role.CHANGE_MANAGER)["upsertCi"]
    assert (first["outcome"], again["outcome"]) == ("CREATED", "UNCHANGED")
    assert first["ci"]["id"] == again["ci"]["id"]
    changed = data(
        api, UPSERT, {"input": {**web, "owner": "Night Shift"}}, role=Role.CHANGE_MANAGER
    )["upsertCi"]
    assert changed["outcome"] == "UPDATED" and changed["ci"]["owner"] == "Night Shift"
    rows = changed["ci"]["history"]
    assert {(r["actor"], r["source"]) for r in rows} == {("test-change-manager", "graphql")}
    assert [r["op"] for r in rows] == ["CREATE", "UPDATE"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DISCOVERY])
def test_a_role_without_edit_gets_forbidden_and_nothing_changes(api: Api, role: Role) -> None:
    before = api.store.counts()
    mutations = [
        (UPSERT, {"input": {"class": "Server", "name": "x", "identifiers": ["serial=X1"]}}),
        ('mutation { retireCi(ref: "srv-01") { retired } }', None),
        (
            'mutation { upsertRelationship(source: "srv-01", type: "hosts", '
            'target: "vm-db-01") { outcome } }',
            None,
        ),
        (
            'mutation { retireRelationship(source: "vm-app-01", type: "hosted on", '
            'target: "srv-01") { retired } }',
            None,
        ),
    ]
    for query, variables in mutations:
        err = error_of(gql(api, query, variables, role=role))
        assert err["extensions"]["code"] == "FORBIDDEN", err
    assert api.store.counts() == before
    assert api.store.get_ci(_service_id(api, "srv-01")).status.value == "live"


def test_viewer_cannot_push_discovery_and_a_discovery_job_can(api: Api) -> None:
    push = """mutation($p: String!) { pushDiscovery(format: "csv", payload: $p,
                source: "asset-sheet") { runId status dryRun summary } }"""
    payload = "key,class,name,serial\nweb-99,Server,web-99,SN-9999\n"
    err = error_of(gql(api, push, {"p": payload}, role=Role.VIEWER))
    assert err["extensions"]["code"] == "FORBIDDEN"
    assert not api.store.list_runs()
    run = data(api, push, {"p": payload}, role=Role.DISCOVERY)["pushDiscovery"]
    assert run["status"] == "succeeded" and run["summary"]["created"] == 1
    ci = data(api, '{ ci(ref: "serial=SN-9999") { name history { actor source } } }')["ci"]
    assert ci["name"] == "web-99"
    assert ci["history"][0] == {"actor": "test-discovery", "source": "asset-sheet"}
    bad = error_of(gql(api, push.replace('"csv"', '"nope"'), {"p": payload}, role=Role.ADMIN))
    assert bad["extensions"]["code"] == "INVALID_INPUT" and bad["extensions"]["where"] == "format"
    # As in REST, an empty inventory is refused (it would be a run that saw nothing).
    empty = error_of(gql(api, push, {"p": ""}, role=Role.DISCOVERY))
    assert (
        empty["extensions"]["code"] == "INVALID_INPUT" and empty["extensions"]["where"] == "payload"
    )
    assert len(api.store.list_runs()) == 1


def test_scoped_editor_cannot_touch_or_create_outside_its_scope(api: Api) -> None:
    mobile = _service_id(api, "Boarding Pass App API")
    scoped = api.token_for(Role.CHANGE_MANAGER, services=(mobile,), name="mobile-editor")
    before = api.store.counts()
    err = error_of(
        gql(api, 'mutation { retireCi(ref: "booking-web-1") { retired } }', headers=scoped)
    )
    assert err["extensions"]["code"] == "NOT_FOUND"
    err = error_of(gql(api, UPSERT, {"input": {"class": "Team", "name": "Ghosts"}}, headers=scoped))
    assert err["extensions"]["code"] == "FORBIDDEN"
    # A CI outside the view reads as a new one: the answer names no CI it cannot see.
    web = api.store.get_ci(_service_id(api, "booking-web-1"))
    key = next(str(i) for i in web.identifiers if i.unique)
    outside = {"class": web.ci_class, "name": web.name, "identifiers": [key], "owner": "x"}
    err = error_of(gql(api, UPSERT, {"input": outside}, headers=scoped))
    assert err["extensions"]["code"] == "FORBIDDEN" and web.id not in err["message"]
    assert api.store.counts() == before and api.store.get_ci(web.id) == web


# -- authentication: 401 on /graphql for GET and POST -----------------------------------


def _expired(api: Api) -> dict[str, str]:
    clock: Callable[[], datetime] = lambda: datetime.now(UTC) - timedelta(days=2)  # noqa: E731
    from cmdb.auth.tokens import TokenStore

    past = TokenStore(api.settings.tokens_path, clock=clock)
    clear, _ = past.create("old", Role.ADMIN, expires_at=datetime.now(UTC) - timedelta(days=1))
    return {"Authorization": f"Bearer {clear}"}


def test_missing_forged_and_expired_tokens_get_401_on_get_and_post(api_embedded: Api) -> None:
    api = api_embedded
    store = counting(api)
    forged = {"Authorization": "Bearer cmdb_0123456789ab_forgedsecret"}
    for headers in ({}, forged, _expired(api)):
        post = api.client.post("/graphql", json={"query": "{ me { name } }"}, headers=headers)
        get = api.client.get("/graphql", params={"query": "{ me { name } }"}, headers=headers)
        bare = api.client.get("/graphql", headers=headers)
        for r in (post, get, bare):
            assert r.status_code == 401, (headers, r.text)
            assert r.json()["error"]["type"] == "unauthenticated"
    assert store.total == 0
    ok = api.client.get(
        "/graphql", params={"query": "{ me { role } }"}, headers=api.as_role(Role.VIEWER)
    )
    assert ok.json() == {"data": {"me": {"role": "viewer"}}}
