"""Problems and known errors in GraphQL on both stores: a problem's life through the
mutations, the lists and a CI's problems, similar past problems with their evidence,
refusals naming the field and writing nothing, and a service-scoped token's view."""

from __future__ import annotations

from typing import Any

from cmdb.auth.roles import Role
from cmdb.server.app import API_PREFIX
from cmdb.store.refs import resolve_ci
from tests.api.conftest import Api
from tests.api.test_changes_api import APP_API, BOOKING, rfc
from tests.api.test_graphql import data, error_of, gql

CM = Role.CHANGE_MANAGER
PROBLEM = """fragment P on Problem {
  id title state knownError allowedNext symptoms rootCause workaround
  knownErrorAt resolvedAt ciIds serviceIds incidentIds changeIds
  cis { name } services { name } incidents { id } changes { id }
}"""
OPS = (
    PROBLEM
    + """
mutation Log($input: ProblemInput!) { logProblem(input: $input) { ...P } }
mutation Update($id: ID!, $input: ProblemUpdateInput!) {
  updateProblem(id: $id, input: $input) { ...P }
}
mutation Move($id: ID!, $to: ProblemState!) { transitionProblem(id: $id, to: $to) { ...P } }
mutation Link($id: ID!, $incidents: [String!], $changes: [String!]) {
  linkProblem(id: $id, incidents: $incidents, changes: $changes) { ...P }
}
query One($id: ID!) { problem(id: $id) { ...P } }
query Some($ci: String, $state: [ProblemState!], $known: Boolean, $incident: String) {
  problems(ci: $ci, state: $state, knownError: $known, incident: $incident) { id }
}
query OfCI($ref: String!) { ci(ref: $ref) { problems { id } } }
query Similar($ci: String!, $text: String! = "") {
  similarProblems(ci: $ci, text: $text) { score reasons knownError problem { ...P } }
}
"""
)
DB_PROBLEM = {
    "id": "PRB-1",
    "title": "bookings-db runs out of connections",
    "cis": ["bookings-db"],
    "symptoms": ["FATAL: too many connections"],
}


def op(api: Api, name: str, variables: dict[str, Any], **kw: Any) -> Any:
    kw.setdefault("role", CM)
    return data(api, OPS, variables, op=name, **kw)


def refused(api: Api, name: str, variables: dict[str, Any], **kw: Any) -> dict[str, Any]:
    kw.setdefault("role", CM)
    return error_of(gql(api, OPS, variables, op=name, **kw))


def ids(api: Api, **variables: Any) -> list[str]:
    """The problems a viewer lists with these filters."""
    return [p["id"] for p in op(api, "Some", variables, role=Role.VIEWER)["problems"]]


def incident(api: Api, inc_id: str, ci: str) -> None:
    body = {"id": inc_id, "title": f"{ci} down", "cis": [ci]}
    r = api.client.post(f"{API_PREFIX}/incidents", json=body, headers=api.as_role(CM))
    assert r.status_code == 201, r.text


def test_a_problem_lives_through_the_mutations(api: Api) -> None:
    made = op(api, "Log", {"input": DB_PROBLEM})["logProblem"]
    assert (made["state"], made["knownError"]) == ("LOGGED", False)
    assert made["allowedNext"] == ["INVESTIGATING", "KNOWN_ERROR", "CLOSED"]
    assert made["cis"] == [{"name": "bookings-db"}]
    # Potentially affected: what a failure of the database takes down.
    assert {s["name"] for s in made["services"]} == {BOOKING, APP_API}
    stored = api.store.get_problem("PRB-1")

    err = refused(api, "Move", {"id": "PRB-1", "to": "RESOLVED"})
    assert "allowed next: investigating, known_error, closed" in err["message"]
    assert err["extensions"]["where"] == "to"
    err = refused(api, "Move", {"id": "PRB-1", "to": "KNOWN_ERROR"})
    assert "root cause or a workaround" in err["message"], err
    assert api.store.get_problem("PRB-1") == stored  # refused steps wrote nothing

    moved = op(api, "Move", {"id": "PRB-1", "to": "INVESTIGATING"})["transitionProblem"]
    assert moved["state"] == "INVESTIGATING"
    # Recording a workaround makes it a known error in the same write.
    amend = {"id": "PRB-1", "input": {"workaround": "restart pgbouncer"}}
    known = op(api, "Update", amend)["updateProblem"]
    assert (known["state"], known["knownError"], known["workaround"]) == (
        "KNOWN_ERROR",
        True,
        "restart pgbouncer",
    )
    assert known["knownErrorAt"] is not None
    assert ids(api, known=True) == ["PRB-1"]  # the known error database

    # The application, not one of its two instances: one instance down is covered by the
    # other and takes no service down.
    incident(api, "INC-1", "Auth Server")
    rfc(api, "RFC-1", "bookings-db")
    both = {"id": "PRB-1", "incidents": ["INC-1"], "changes": ["RFC-1"]}
    linked = op(api, "Link", both)["linkProblem"]
    assert (linked["incidentIds"], linked["changeIds"]) == (["INC-1"], ["RFC-1"])
    assert (linked["incidents"], linked["changes"]) == ([{"id": "INC-1"}], [{"id": "RFC-1"}])
    # INC-1's services join those affected: sign-in is down with its auth server.
    assert "Identity & Sign-in" in {s["name"] for s in linked["services"]}

    done = op(api, "Move", {"id": "PRB-1", "to": "RESOLVED"})["transitionProblem"]
    assert done["state"] == "RESOLVED" and done["resolvedAt"] is not None
    assert done["allowedNext"] == ["CLOSED"]
    rows = api.store.history("PRB-1")
    states = [h.after for h in rows if h.field == "state"]
    assert states == ["investigating", "known_error", "resolved"]
    assert {h.actor for h in rows} == {"test-change-manager"}
    assert all(h.request_id for h in rows)  # each write carries its request's id

    # The lists and a CI's problems.
    assert op(api, "One", {"id": "PRB-1"}, role=Role.VIEWER)["problem"]["id"] == "PRB-1"
    op(api, "Log", {"input": {"id": "PRB-2", "title": "flapping", "cis": ["core-sw-01"]}})

    assert ids(api) == ["PRB-1", "PRB-2"]
    assert ids(api, ci="bookings-db") == ["PRB-1"]
    assert ids(api, ci=BOOKING) == ["PRB-1", "PRB-2"]  # a service affected by both
    assert ids(api, state="LOGGED") == ["PRB-2"]
    assert ids(api, state=["LOGGED", "RESOLVED"]) == ["PRB-1", "PRB-2"]
    assert ids(api, incident="INC-1") == ["PRB-1"]
    # Resolved, it has left the known error database.
    assert ids(api, known=True) == [] and ids(api, known=False) == ["PRB-1", "PRB-2"]
    err = refused(api, "Some", {"incident": "INC-9"}, role=Role.VIEWER)
    assert (err["extensions"]["code"], err["extensions"]["where"]) == ("NOT_FOUND", "incident")
    got = op(api, "OfCI", {"ref": "bookings-db"}, role=Role.VIEWER)["ci"]["problems"]
    assert got == [{"id": "PRB-1"}]


def test_similar_problems_with_their_reasons(api: Api) -> None:
    op(
        api,
        "Log",
        {"input": {**DB_PROBLEM, "id": "PRB-10", "rootCause": "the pool is too small"}},
    )
    op(api, "Log", {"input": {"id": "PRB-11", "title": "slow failover", "cis": ["identity-db"]}})
    op(api, "Log", {"input": {"id": "PRB-12", "title": "502s", "cis": ["booking-web-1"]}})
    got = op(
        api,
        "Similar",
        {"ci": "bookings-db", "text": "too many connections in the pool"},
        role=Role.VIEWER,
    )["similarProblems"]
    assert [s["problem"]["id"] for s in got] == ["PRB-10", "PRB-11"]
    first, second = got
    assert first["reasons"][0] == "bookings-db was at fault"
    assert first["reasons"][1].startswith("shares words: ") and "pool" in first["reasons"][1]
    assert first["knownError"] and first["problem"]["rootCause"] == "the pool is too small"
    assert first["score"] > second["score"]
    assert second["reasons"][0] == "identity-db at fault: also Database 16.4"
    assert not second["knownError"]


def test_refusals_name_the_field_and_write_nothing(api: Api) -> None:
    op(api, "Log", {"input": DB_PROBLEM})
    incident(api, "INC-1", "srv-01")
    before = api.store.list_problems()
    new = {**DB_PROBLEM, "id": "PRB-2"}
    for name, variables, where in (
        ("Log", {"input": {**new, "id": "PRB 2"}}, "input.id"),
        ("Log", {"input": {**new, "title": ""}}, "input.title"),
        ("Log", {"input": {**new, "cis": ["no-such-ci"]}}, "input.cis.0"),
        ("Log", {"input": {**new, "incidents": ["INC-9"]}}, "input.incidents.0"),
        ("Log", {"input": {"id": "PRB-2", "title": "nothing named"}}, "input.cis"),
        ("Log", {"input": DB_PROBLEM}, "input.id"),  # exists already
        ("Update", {"id": "PRB-1", "input": {}}, "input"),
        ("Update", {"id": "PRB-1", "input": {"title": ""}}, "input.title"),
        ("Update", {"id": "PRB-1", "input": {"cis": ["nope"]}}, "input.cis.0"),
        ("Update", {"id": "PRB-9", "input": {"title": "t"}}, "id"),
        ("Move", {"id": "PRB-9", "to": "CLOSED"}, "id"),
        ("Link", {"id": "PRB-1", "incidents": ["INC-9"]}, "incidents.0"),
        ("Link", {"id": "PRB-1", "incidents": ["INC-1"], "changes": ["RFC-9"]}, "changes.0"),
        ("Link", {"id": "PRB-1"}, "incidents"),
        ("Similar", {"ci": "no-such-ci"}, "ci"),
    ):  # fmt: skip
        err = refused(api, name, variables)
        assert err["extensions"]["code"] in ("INVALID_INPUT", "NOT_FOUND"), (name, err)
        assert err["extensions"]["where"] == where, (name, variables, err)
    assert api.store.list_problems() == before
    err = error_of(gql(api, '{ similarProblems(ci: "srv-01", limit: 0) { score } }'))
    assert err["extensions"]["where"] == "limit"

    # A viewer may read but not write: FORBIDDEN, whatever the input, and nothing written.
    for name, variables in (
        ("Log", {"input": new}),
        ("Log", {"input": {"id": "bad id", "title": ""}}),
        ("Update", {"id": "PRB-1", "input": {"workaround": "w"}}),
        ("Move", {"id": "PRB-1", "to": "CLOSED"}),
        ("Link", {"id": "PRB-1", "incidents": ["INC-1"]}),
    ):
        err = refused(api, name, variables, role=Role.VIEWER)
        assert err["extensions"]["code"] == "FORBIDDEN" and "may not" in err["message"], err
    assert api.store.list_problems() == before


def test_a_scoped_token_sees_and_writes_problems_in_its_scope(api: Api) -> None:
    op(api, "Log", {"input": {**DB_PROBLEM, "rootCause": "the pool is too small"}})
    op(api, "Log", {"input": {"id": "PRB-OUT", "title": "502s", "cis": ["booking-web-1"]}})
    scope = resolve_ci(api.store, APP_API).id
    viewer = api.token_for(Role.VIEWER, services=(scope,), name="scoped-viewer")
    editor = api.token_for(CM, services=(scope,), name="scoped-cm")
    hidden = (BOOKING, resolve_ci(api.store, BOOKING).id, "booking-web-1", "PRB-OUT")

    seen = op(api, "Some", {}, headers=viewer)["problems"]
    assert seen == [{"id": "PRB-1"}]
    one = op(api, "One", {"id": "PRB-1"}, headers=viewer)["problem"]
    assert [s["name"] for s in one["services"]] == [APP_API]  # Online Ferry Booking hidden
    assert one["serviceIds"] == [scope]
    err = refused(api, "One", {"id": "PRB-OUT"}, headers=viewer)
    assert (err["message"], err["extensions"]["code"]) == ("no problem 'PRB-OUT'", "NOT_FOUND")

    # Similar problems are scored on what the token sees: a reason names no hidden CI.
    # The load balancer and the booking engine are two hops apart through the booking
    # service, outside the scope: near for the whole CMDB, not for the token.
    lb = {"id": "PRB-LB", "title": "load balancer drops connections", "cis": ["lb-edge-01"]}
    op(api, "Log", {"input": lb}, role=Role.ADMIN)
    asked = {"ci": "Booking Engine", "text": "drops connections"}
    mine = op(api, "Similar", asked, role=CM)["similarProblems"]
    near = [r for s in mine if s["problem"]["id"] == "PRB-LB" for r in s["reasons"]]
    assert any(r.startswith("lb-edge-01 at fault is near: ") and BOOKING in r for r in near)
    theirs = op(api, "Similar", asked, headers=viewer)["similarProblems"]
    lb_seen = next(s for s in theirs if s["problem"]["id"] == "PRB-LB")
    assert lb_seen["reasons"] == ["shares words: connections, drops"]
    assert lb_seen["problem"]["serviceIds"] == [scope]
    assert not any(h in str(theirs) for h in hidden), theirs

    # Writes: only problems naming nothing outside the scope.
    before = api.store.list_problems()
    err = refused(api, "Move", {"id": "PRB-OUT", "to": "CLOSED"}, headers=editor)
    assert err["extensions"]["code"] == "NOT_FOUND"
    err = refused(api, "Move", {"id": "PRB-1", "to": "CLOSED"}, headers=editor)
    assert err["extensions"]["code"] == "FORBIDDEN"  # Online Ferry Booking is affected
    err = refused(api, "Log", {"input": {**DB_PROBLEM, "id": "PRB-2"}}, headers=editor)
    assert err["extensions"]["code"] == "FORBIDDEN" and "PRB-2" in err["message"]
    bad = {"id": "PRB-2", "title": "502s", "cis": ["booking-web-1"]}
    err = refused(api, "Log", {"input": bad}, headers=editor)
    assert (err["extensions"]["code"], err["extensions"]["where"]) == ("NOT_FOUND", "input.cis.0")
    assert api.store.list_problems() == before
    # The mobile gateway serves the app API alone: a problem on it stays in scope.
    mobile = {"id": "PRB-3", "title": "push tokens expire", "cis": ["mobile-gateway-1"]}
    made = op(api, "Log", {"input": mobile}, headers=editor)["logProblem"]
    assert [s["name"] for s in made["services"]] == [APP_API]
    moved = op(api, "Move", {"id": "PRB-3", "to": "CLOSED"}, headers=editor)
    assert moved["transitionProblem"]["state"] == "CLOSED"
