"""GraphQL abuse (reliability 17), the production profile (18) and error masking (19).

Every over-limit request is refused with a message naming the limit before any resolver
runs: the counting store in front of the real one sees no call at all.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cmdb.auth.roles import Role
from cmdb.gql.errors import INTERNAL_MESSAGE
from cmdb.gql.schema import sdl
from cmdb.gql.types import camel
from tests.api.conftest import Api, make_api
from tests.api.test_graphql import CountingStore, counting, data, error_of, gql

ROOT = Path(__file__).resolve().parents[2]


def _nested(depth: int) -> str:
    """``{ ci(ref: "srv-01") { hosts { hosts { ... name } } } }`` with ``depth`` fields."""
    inner = "name"
    for _ in range(depth - 2):
        inner = f"hosts {{ {inner} }}"
    return f'{{ ci(ref: "srv-01") {{ {inner} }} }}'


def _refused(api: Api, store: CountingStore, body: Any, *, status: int = 200) -> str:
    r = api.client.post("/graphql", json=body, headers=api.as_role(Role.ADMIN))
    assert r.status_code == status, r.text
    assert store.total == 0, store.calls
    got = r.json()
    if status == 200:
        assert got.get("data") is None
        return " | ".join(e["message"] for e in got["errors"])
    return str(got["error"]["message"])


def test_depth_50_is_refused(api_embedded: Api) -> None:
    store = counting(api_embedded)
    msg = _refused(api_embedded, store, {"query": _nested(50)})
    assert "deeper than the limit of 12 levels (setting graphql_max_depth)" in msg


@pytest.fixture
def generous(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """Every limit but depth out of the way."""
    yield from make_api("embedded", tmp_path, request, graphql_max_cost=10**12)


def test_the_depth_limit_lets_a_query_at_the_limit_through(generous: Api) -> None:
    assert data(generous, _nested(12))["ci"]["hosts"] == [{"hosts": []}, {"hosts": []}]
    assert "graphql_max_depth" in error_of(gql(generous, _nested(13)))["message"]


def test_100_aliases_are_refused(api_embedded: Api) -> None:
    store = counting(api_embedded)
    query = "{ " + " ".join(f"a{i}: me {{ name }}" for i in range(100)) + " }"
    msg = _refused(api_embedded, store, {"query": query})
    assert "100 aliases in one request; the limit is 30 (setting graphql_max_aliases)" in msg


def test_aliases_hidden_in_a_fragment_spread_many_times_are_counted(api_embedded: Api) -> None:
    store = counting(api_embedded)
    query = (
        "{ " + " ".join(f"m{i}: me {{ ...F }}" for i in range(5)) + " }"
        " fragment F on Principal { a: name b: role c: services d: name e: role f: services }"
    )
    msg = _refused(api_embedded, store, {"query": query})
    assert "35 aliases" in msg


def test_5000_tokens_are_refused_while_parsing(api_embedded: Api) -> None:
    store = counting(api_embedded)
    query = "{ me { " + " ".join(["name"] * 5000) + " } }"
    msg = _refused(api_embedded, store, {"query": query})
    assert "more than 2000 tokens, the limit (setting graphql_max_tokens)" in msg
    padded = "{ me { name } }" + "\n#" * 5000  # comments count too
    assert "tokens" in _refused(api_embedded, store, {"query": padded})


def test_a_fragment_cycle_is_refused(api_embedded: Api) -> None:
    store = counting(api_embedded)
    query = """{ ci(ref: "srv-01") { ...A } }
        fragment A on CI { name hosts { ...B } }
        fragment B on CI { name hostedOn { ...A } }"""
    msg = _refused(api_embedded, store, {"query": query})
    assert "Cannot spread fragment 'A' within itself via 'B'" in msg


def test_a_100_operation_batch_is_refused(api_embedded: Api) -> None:
    store = counting(api_embedded)
    batch = [{"query": "{ cis(first: 1) { nodes { name } } }"}] * 100
    msg = _refused(api_embedded, store, batch, status=400)
    assert msg == "100 operations in one request; the limit is 1 (setting graphql_max_operations)"


def test_a_cost_over_budget_is_refused(api_embedded: Api) -> None:
    store = counting(api_embedded)
    query = """{ cis(first: 1000) { nodes { name
        dependsOn(depth: 3) { name usedBy(depth: 2) { name } } } } }"""
    msg = _refused(api_embedded, store, {"query": query})
    assert re.search(
        r"estimated cost of \d+; the limit is 100000 \(setting graphql_max_cost\)", msg
    )
    # A page size given as a variable is costed at the largest page allowed.
    wide = """query($n: Int!) { cis(first: $n) { nodes {
        dependsOn { usedBy { runsOn { name } } } } } }"""
    assert "estimated cost" in _refused(api_embedded, store, {"query": wide, "variables": {"n": 5}})


def test_a_wide_two_level_query_of_a_thousand_cis_fits_the_budget(api_embedded: Api) -> None:
    query = "{ cis(first: 1000) { nodes { name dependsOn { name runsOn { name } } } } }"
    assert len(data(api_embedded, query)["cis"]["nodes"]) == 47


def test_graphiql_introspection_query_passes_the_limits(api_embedded: Api) -> None:
    from graphql import get_introspection_query

    got = data(api_embedded, get_introspection_query(descriptions=True))
    assert any(t["name"] == "CI" for t in got["__schema"]["types"])


# -- production profile ---------------------------------------------------------------


@pytest.fixture
def production(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    yield from make_api("embedded", tmp_path, request, graphiql=False, graphql_introspection=False)


def test_production_profile_turns_off_graphiql_and_introspection(production: Api) -> None:
    page = production.client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 404
    err = error_of(gql(production, "{ __schema { types { name } } }"))
    assert "introspection" in err["message"].lower()
    typo = error_of(gql(production, "{ me { nam } }"))
    assert "Did you mean" not in typo["message"]
    assert data(production, "{ me { role } }") == {"me": {"role": "admin"}}


def test_mutations_over_get_are_refused(api_embedded: Api) -> None:
    store = counting(api_embedded)
    r = api_embedded.client.get(
        "/graphql",
        params={"query": 'mutation { retireCi(ref: "srv-01") { retired } }'},
        headers=api_embedded.as_role(Role.ADMIN),
    )
    assert r.status_code == 405
    assert "mutations are not allowed when using GET" in r.json()["error"]["message"]
    assert store.total == 0


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", "query=mutation+%7B+retireCi%28ref%3A%22srv-01%22"),
        ("text/plain", '{"query": "mutation { retireCi(ref: \\"srv-01\\") { retired } }"}'),
        ("multipart/form-data; boundary=x", "--x--"),
    ],
)
def test_form_and_text_posts_are_refused(api_embedded: Api, content_type: str, body: str) -> None:
    store = counting(api_embedded)
    headers = {**api_embedded.as_role(Role.ADMIN), "content-type": content_type}
    r = api_embedded.client.post("/graphql", content=body.encode(), headers=headers)
    assert r.status_code == 415
    assert "must be application/json" in r.json()["error"]["message"]
    assert store.total == 0


# -- error masking ----------------------------------------------------------------------


class BrokenStore(CountingStore):
    """The real store, except that listing CIs fails the way a driver bug would."""

    def list_cis(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("driver exploded at bolt://neo4j:s3cret-pw@db.internal:7687")


def test_an_internal_error_is_masked_with_a_request_id(
    api_embedded: Api, caplog: pytest.LogCaptureFixture
) -> None:
    api_embedded.app.state.store = BrokenStore(api_embedded.store)
    with caplog.at_level(logging.ERROR, logger="cmdb.api"):
        r = api_embedded.client.post(
            "/graphql",
            json={"query": "{ cis { nodes { name } } }"},
            headers=api_embedded.as_role(Role.VIEWER),
        )
    body = r.json()
    err = error_of(body)
    rid = r.headers["x-request-id"]
    assert err["message"] == INTERNAL_MESSAGE
    assert err["extensions"] == {"code": "INTERNAL", "requestId": rid}
    assert "s3cret" not in r.text and "RuntimeError" not in r.text
    assert body["data"] is None  # cis is non-null: its error nulls the whole answer
    assert any(rid in rec.getMessage() for rec in caplog.records)


def test_project_errors_and_validation_errors_keep_their_messages(api_embedded: Api) -> None:
    err = error_of(gql(api_embedded, '{ ci(ref: "name-nobody-has") { name } }'))
    assert err["message"] == "no CI with name 'name-nobody-has'"
    assert err["extensions"]["code"] == "NOT_FOUND" and err["extensions"]["where"] == "ref"
    amb = error_of(
        gql(
            api_embedded,
            'mutation { upsertCi(input: {class: "Nope", name: "x"}) { outcome } }',
        )
    )
    assert "unknown CI class 'Nope'" in amb["message"]
    assert amb["extensions"]["where"] == "input.class"
    invalid = error_of(gql(api_embedded, "{ ci { name } }"))
    assert "Argument 'Query.ci(ref:)' of type 'String!' is required" in invalid["message"]


# -- GraphiQL on local assets, and the exported SDL ------------------------------------


def test_graphiql_is_served_from_local_assets_only(api_embedded: Api) -> None:
    client = api_embedded.client
    page = client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "connect-src 'self'" in csp
    boot = client.get("/graphql/graphiql.js")
    assert boot.status_code == 200
    for text in (page.text, boot.text):
        assert not re.search(r"https?://", text), "nothing may load from outside this server"
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
    assert {a.rsplit("/", 1)[-1] for a in assets} == {
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphiql.min.js",
        "graphiql.js",
    }
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_exported_sdl_matches_the_live_schema() -> None:
    exported = (ROOT / "graphql" / "schema.graphql").read_text(encoding="utf-8")
    assert exported == sdl(), "schema drift: run `python -m cmdb.gql.export`"


def test_saved_operations_only_use_fields_the_schema_has() -> None:
    from graphql import build_schema, parse, validate

    schema = build_schema(sdl())
    files = sorted((ROOT / "graphql" / "operations").glob("*.graphql"))
    assert len(files) >= 6
    for path in files:
        assert not validate(schema, parse(path.read_text(encoding="utf-8"))), path.name
    assert camel("depends on") in sdl()
