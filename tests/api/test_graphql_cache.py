"""A query text found valid is not validated again (cmdb.gql.validated); one that failed is
refused every time, and the per-process memory of valid texts stays bounded."""

from __future__ import annotations

from cmdb.auth.roles import Role
from cmdb.gql.validated import KnownValid
from graphql import parse
from tests.api.conftest import Api
from tests.api.test_graphql import counting, data, error_of, gql
from tests.api.test_graphql_limits import _nested


def test_a_valid_query_answers_the_same_when_sent_again(api_embedded: Api) -> None:
    query = '{ ci(ref: "srv-01") { name hosts { name } } }'
    first = data(api_embedded, query)
    assert first["ci"]["name"] == "srv-01"
    assert data(api_embedded, query) == first


def test_a_refused_query_is_refused_every_time(api_embedded: Api) -> None:
    store = counting(api_embedded)
    for _ in range(3):
        r = api_embedded.client.post(
            "/graphql", json={"query": _nested(50)}, headers=api_embedded.as_role(Role.ADMIN)
        )
        assert "graphql_max_depth" in r.json()["errors"][0]["message"]
    assert store.total == 0, store.calls


def test_validity_is_remembered_per_text_not_per_shape(api_embedded: Api) -> None:
    """A valid text remembered does not let a different, invalid one through."""
    assert data(api_embedded, _nested(3))
    assert "graphql_max_depth" in error_of(gql(api_embedded, _nested(13)))["message"]
    assert (
        "Cannot query field"
        in error_of(gql(api_embedded, '{ ci(ref: "srv-01") { nope } }'))["message"]
    )


def test_known_valid_forgets_the_least_recently_used() -> None:
    known = KnownValid(size=2)
    docs = {t: parse(f"{{ {t} }}") for t in "abc"}
    known.add("a", docs["a"])
    known.add("b", docs["b"])
    assert known.get("a") is docs["a"]  # a is now the most recently used
    known.add("c", docs["c"])
    assert known.get("a") is docs["a"] and known.get("c") is docs["c"]
    assert known.get("b") is None and len(known) == 2
