"""``/problems`` on both stores: a problem's life through REST (log, move, amend into a known
error, link incidents and fixing changes, resolve, close), the known error database,
similar past problems with their evidence, bad input, permissions and scope. Known
answers as in tests/integration/test_problems_stores.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cmdb.auth.roles import Role
from cmdb.server.app import API_PREFIX
from cmdb.store.refs import resolve_ci
from tests.api.conftest import Api

BOOKING, APP_API, IDENTITY = "Online Ferry Booking", "Boarding Pass App API", "Identity & Sign-in"
CM = Role.CHANGE_MANAGER


def url(path: str) -> str:
    return f"{API_PREFIX}/problems{path}"


def cid(api: Api, ref: str) -> str:
    return resolve_ci(api.store, ref).id


def call(
    api: Api, method: str, path: str, body: Any = None, *, role: Role = CM, **kw: Any
) -> httpx.Response:
    return api.client.request(method, url(path), json=body, headers=api.as_role(role), **kw)


def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def log(api: Api, problem_id: str, *cis: str, **kw: Any) -> dict[str, Any]:
    body = {"id": problem_id, "title": kw.pop("title", "a problem"), "cis": list(cis), **kw}
    got: dict[str, Any] = ok(call(api, "POST", "", body), 201)
    return got


def ids(r: httpx.Response) -> list[str]:
    return [p["id"] for p in ok(r)["items"]]


def history(api: Api, entity_id: str) -> Any:
    r = api.client.get(f"{API_PREFIX}/history/{entity_id}", headers=api.as_role(Role.VIEWER))
    return ok(r)["history"]


def test_a_problem_through_its_life(api: Api) -> None:
    made = log(
        api,
        "PRB-1",
        "bookings-db",
        title="bookings-db runs out of connections",
        symptoms=["FATAL: too many connections"],
        category="database",
    )
    assert (made["state"], made["known_error"]) == ("logged", False)
    assert made["allowed_next"] == ["investigating", "known_error", "closed"]
    assert made["ci_ids"] == [cid(api, "bookings-db")]
    # Potentially affected: what a failure of the database takes down.
    assert cid(api, BOOKING) in made["service_ids"]
    assert cid(api, IDENTITY) not in made["service_ids"]
    assert ok(call(api, "GET", "/PRB-1", role=Role.VIEWER)) == made

    # A refused step names the allowed next states and writes nothing.
    before = (ok(call(api, "GET", "/PRB-1")), history(api, "PRB-1"))
    r = call(api, "POST", "/PRB-1/transition", {"to": "resolved"})
    err = r.json()["error"]
    assert r.status_code == 422 and err["where"] == "state", r.text
    assert "allowed next: investigating, known_error, closed" in err["message"]
    r = call(api, "POST", "/PRB-1/transition", {"to": "known_error"})
    assert r.status_code == 422 and r.json()["error"]["where"] == "root_cause", r.text
    assert (ok(call(api, "GET", "/PRB-1")), history(api, "PRB-1")) == before

    moved = ok(call(api, "POST", "/PRB-1/transition", {"to": "investigating"}))
    assert moved["allowed_next"] == ["known_error", "resolved", "closed"]
    assert ids(call(api, "GET", "", params={"known_error": True})) == []

    # Recording a workaround makes it a known error in the same write.
    known = ok(call(api, "PATCH", "/PRB-1", {"workaround": "restart pgbouncer"}))
    assert (known["state"], known["known_error"]) == ("known_error", True)
    assert known["known_error_at"] is not None and known["workaround"] == "restart pgbouncer"
    assert ids(call(api, "GET", "", params={"known_error": True}, role=Role.VIEWER)) == ["PRB-1"]
    assert ids(call(api, "GET", "", params={"known_error": False})) == []
    assert ids(call(api, "GET", "", params={"ci": "bookings-db"})) == ["PRB-1"]
    assert ids(call(api, "GET", "", params={"ci": "core-sw-01"})) == []

    # Its incidents (their services join the affected ones) and the change that fixes it.
    inc = api.client.post(
        f"{API_PREFIX}/incidents",
        json={"id": "INC-7", "title": "sign-in fails", "cis": ["identity-db"]},
        headers=api.as_role(CM),
    )
    assert cid(api, IDENTITY) in ok(inc, 201)["service_ids"]
    rfc = api.client.post(
        f"{API_PREFIX}/changes",
        json={"id": "RFC-1", "title": "raise max_connections", "cis": ["bookings-db"]},
        headers=api.as_role(CM),
    )
    ok(rfc, 201)
    linked = ok(
        call(api, "POST", "/PRB-1/links", {"incident_ids": ["INC-7"], "change_ids": ["RFC-1"]})
    )
    assert (linked["incident_ids"], linked["change_ids"]) == (["INC-7"], ["RFC-1"])
    assert cid(api, IDENTITY) in linked["service_ids"]  # currently affected, through INC-7
    assert ids(call(api, "GET", "", params={"incident": "INC-7"})) == ["PRB-1"]
    assert ids(call(api, "GET", "", params={"ci": IDENTITY})) == ["PRB-1"]

    done = ok(call(api, "POST", "/PRB-1/transition", {"to": "resolved"}))
    assert done["resolved_at"] is not None and done["allowed_next"] == ["closed"]
    # Resolved: its workaround is still known, but it left the known error database.
    assert done["known_error"] and ids(call(api, "GET", "", params={"known_error": True})) == []
    ok(call(api, "POST", "/PRB-1/transition", {"to": "closed"}))
    r = call(api, "PATCH", "/PRB-1", {"title": "again"})
    assert r.status_code == 422 and r.json()["error"]["where"] == "state"
    assert ids(call(api, "GET", "", params=[("state", "closed"), ("state", "logged")])) == ["PRB-1"]
    steps = [h["after"] for h in history(api, "PRB-1") if h["field"] == "state"]
    assert steps == ["investigating", "known_error", "resolved", "closed"]


def test_a_known_root_cause_at_logging_starts_a_known_error(api: Api) -> None:
    got = log(api, "PRB-3", "core-sw-01", title="switch flaps", root_cause="bad optic")
    assert got["state"] == "known_error" and got["known_error_at"] == got["opened_at"]
    assert got["allowed_next"] == ["resolved", "closed"]
    # Amending the CIs at fault recomputes the services affected.
    moved = ok(call(api, "PATCH", "/PRB-3", {"cis": ["booking-web-1"]}))
    assert moved["ci_ids"] == [cid(api, "booking-web-1")]
    assert moved["service_ids"] == [cid(api, BOOKING)]


def test_similar_problems_answer_with_their_evidence(api: Api) -> None:
    log(
        api,
        "PRB-10",
        "bookings-db",
        title="connection pool exhausted",
        symptoms=["FATAL: too many connections"],
        workaround="restart pgbouncer",
    )
    log(api, "PRB-11", "booking-engine-1", title="memory leak in the engine")
    log(api, "PRB-12", "core-sw-01", title="switch port flaps")

    # identity-db is another PostgreSQL 16.4: PRB-10 by kind and by words.
    got = ok(
        call(
            api,
            "GET",
            "/similar",
            role=Role.VIEWER,
            params={"ci": "identity-db", "text": "too many connections"},
        )
    )
    assert got["ci_id"] == cid(api, "identity-db")
    top = got["items"][0]
    assert top["problem"]["id"] == "PRB-10" and top["known_error"]
    assert top["problem"]["workaround"] == "restart pgbouncer"
    assert "bookings-db at fault: also Database 16.4" in top["reasons"]
    assert "shares words: connections, many, too" in top["reasons"]
    assert "PRB-11" not in [s["problem"]["id"] for s in got["items"]]
    scores = [s["score"] for s in got["items"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0

    own = ok(call(api, "GET", "/similar", params={"ci": "booking-engine-1", "limit": 1}))
    assert [s["problem"]["id"] for s in own["items"]] == ["PRB-11"]
    assert own["items"][0]["reasons"][0] == "booking-engine-1 was at fault"

    r = call(api, "GET", "/similar", params={"ci": "nope"})
    assert r.status_code == 404 and r.json()["error"]["where"] == "ci"
    for params in ({}, {"ci": "identity-db", "limit": 0}, {"ci": "x", "text": "x" * 2001}):
        assert call(api, "GET", "/similar", params=params).status_code == 422, params


def test_bad_input_names_the_field_and_changes_nothing(api: Api) -> None:
    log(api, "PRB-1", "bookings-db")
    before = (api.store.list_problems(), len(list(api.store.iter_history())))
    long_text = "x" * 10_001

    def new(**kw: Any) -> dict[str, Any]:
        return {"id": "PRB-2", "title": "x", "cis": ["srv-01"], **kw}

    for method, path, body, status, where in (
        ("POST", "", {"id": "PRB-2", "title": "x"}, 422, "cis"),
        ("POST", "", new(cis=["nope"]), 404, "cis.0"),
        ("POST", "", new(title=""), 422, "title"),
        ("POST", "", new(id="PRB 2"), 422, "id"),
        ("POST", "", new(id="PRB-1"), 422, "id"),
        ("POST", "", new(state="closed"), 422, "state"),
        ("POST", "", new(cis=[], incident_ids=["INC-404"]), 404, "incident_ids"),
        ("POST", "", new(symptoms=[long_text]), 422, "symptoms.0"),
        ("POST", "", new(cis=["srv-01"] * 201), 422, "cis"),
        ("PATCH", "/PRB-1", {}, 422, "body"),
        ("PATCH", "/PRB-1", {"state": "closed"}, 422, "state"),
        ("PATCH", "/PRB-1", {"service_ids": []}, 422, "service_ids"),
        ("PATCH", "/PRB-1", {"cis": []}, 422, "cis"),
        ("PATCH", "/PRB-1", {"cis": ["nope"]}, 404, "cis.0"),
        ("PATCH", "/PRB-1", {"root_cause": long_text}, 422, "root_cause"),
        ("POST", "/PRB-1/transition", {"to": "sideways"}, 422, "to"),
        ("POST", "/PRB-1/transition", {}, 422, "to"),
        ("POST", "/PRB-1/links", {}, 422, "body"),
        ("POST", "/PRB-1/links", {"change_ids": ["RFC-404"]}, 404, "change_ids"),
        ("POST", "/PRB-404/transition", {"to": "closed"}, 404, "problem_id"),
        ("PATCH", "/PRB-404", {"title": "x"}, 404, "problem_id"),
    ):  # fmt: skip
        r = call(api, method, path, body)
        assert r.status_code == status, (method, path, body, r.text)
        assert r.json()["error"]["where"].endswith(where), (method, path, body, r.text)
    assert (api.store.list_problems(), len(list(api.store.iter_history()))) == before
    for params, status in (
        ({"state": "bogus"}, 422),
        ({"known_error": "perhaps"}, 422),
        ({"ci": "nope"}, 404),
        ({"incident": "INC-404"}, 404),
    ):
        assert call(api, "GET", "", params=params).status_code == status, params
    assert call(api, "GET", "/PRB-404").status_code == 404


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DISCOVERY], ids=lambda r: r.value)
def test_a_reader_may_not_write(api: Api, role: Role) -> None:
    log(api, "PRB-1", "bookings-db")
    before = (api.store.list_problems(), len(list(api.store.iter_history())))
    for method, path, body in (
        ("POST", "", {"id": "PRB-2", "title": "x", "cis": ["srv-01"]}),
        ("PATCH", "/PRB-1", {"workaround": "restart it"}),
        ("POST", "/PRB-1/transition", {"to": "investigating"}),
        ("POST", "/PRB-1/links", {"change_ids": ["RFC-1"]}),
    ):
        assert call(api, method, path, body, role=role).status_code == 403, (method, path)
    assert (api.store.list_problems(), len(list(api.store.iter_history()))) == before
    assert ok(call(api, "GET", "/PRB-1", role=role))["state"] == "logged"


def test_a_scoped_token_sees_and_writes_only_inside_its_services(api: Api) -> None:
    scope = cid(api, APP_API)
    booking = cid(api, BOOKING)
    # vm-app-01 is in the view, but its failure takes Online Ferry Booking down too.
    log(api, "PRB-IN", "vm-app-01", title="vm stalls")
    log(api, "PRB-OUT", "booking-web-1", title="web tier stalls")
    log(api, "PRB-GW", "mobile-gateway-1", title="gateway drops sessions")
    ok(
        api.client.post(
            f"{API_PREFIX}/incidents",
            json={"id": "INC-OUT", "title": "x", "cis": ["booking-web-1"]},
            headers=api.as_role(CM),
        ),
        201,
    )
    ok(call(api, "POST", "/PRB-IN/links", {"incident_ids": ["INC-OUT"]}))
    viewer = api.token_for(Role.VIEWER, services=(scope,), name="scoped-viewer")
    editor = api.token_for(CM, services=(scope,), name="scoped-cm")

    def get(path: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
        return api.client.get(url(path), headers=headers, **kw)

    listed = get("", viewer)
    assert ids(listed) == ["PRB-GW", "PRB-IN"]
    # Out-of-scope ids are not even hinted at: the service, the CI, the incident.
    for hidden in (booking, cid(api, "booking-web-1"), "INC-OUT", "PRB-OUT"):
        assert hidden not in listed.text, hidden
    shown = ok(get("/PRB-IN", viewer))
    assert shown["incident_ids"] == [] and booking not in shown["service_ids"]
    assert ok(call(api, "GET", "/PRB-IN"))["incident_ids"] == ["INC-OUT"]  # unscoped: all
    for path, params in (
        ("/PRB-OUT", {}),
        ("", {"ci": "booking-web-1"}),
        ("", {"incident": "INC-OUT"}),
        ("/similar", {"ci": "booking-web-1"}),
    ):
        r = get(path, viewer, params=params)
        assert r.status_code == 404, (path, params, r.text)

    # Similar problems from what the token sees only: no evidence from outside.
    near = {"ci": "mobile-gateway-2"}
    unscoped = ok(call(api, "GET", "/similar", params=near))
    assert any("booking-web-1 at fault" in r for s in unscoped["items"] for r in s["reasons"])
    scoped = get("/similar", viewer, params=near)
    assert "booking-web-1" not in scoped.text and "PRB-OUT" not in scoped.text
    assert "PRB-GW" in [s["problem"]["id"] for s in ok(scoped)["items"]]

    before = (api.store.list_problems(), len(list(api.store.iter_history())))
    gateway = {"id": "PRB-X", "title": "x", "cis": ["mobile-gateway-1"]}
    for method, path, body, status in (
        ("POST", "", {**gateway, "cis": ["booking-web-1"]}, 404),
        ("POST", "", {**gateway, "cis": ["vm-app-01"]}, 403),
        ("POST", "", {**gateway, "incident_ids": ["INC-OUT"]}, 404),
        ("POST", "/PRB-OUT/transition", {"to": "closed"}, 404),
        ("POST", "/PRB-IN/transition", {"to": "closed"}, 403),
        ("PATCH", "/PRB-GW", {"cis": ["vm-app-01"]}, 403),
        ("POST", "/PRB-GW/links", {"incident_ids": ["INC-OUT"]}, 404),
    ):  # fmt: skip
        r = api.client.request(method, url(path), json=body, headers=editor)
        assert r.status_code == status, (method, path, r.text)
    assert (api.store.list_problems(), len(list(api.store.iter_history()))) == before
    r = api.client.post(url(""), json={**gateway, "id": "PRB-NEW"}, headers=editor)
    made = ok(r, 201)
    assert made["service_ids"] == [scope]
    r = api.client.post(url("/PRB-GW/transition"), json={"to": "investigating"}, headers=editor)
    assert ok(r)["state"] == "investigating"


def test_operation_ids_are_stable(api_embedded: Api) -> None:
    spec = api_embedded.client.get(f"{API_PREFIX}/openapi.json").json()
    ops = {
        (method.upper(), path.removeprefix(API_PREFIX), op["operationId"])
        for path, item in spec["paths"].items()
        if path.startswith(f"{API_PREFIX}/problems")
        for method, op in item.items()
    }
    assert ops == {
        ("GET", "/problems", "listProblems"),
        ("POST", "/problems", "logProblem"),
        ("GET", "/problems/similar", "similarProblems"),
        ("GET", "/problems/{problem_id}", "getProblem"),
        ("PATCH", "/problems/{problem_id}", "updateProblem"),
        ("POST", "/problems/{problem_id}/transition", "transitionProblem"),
        ("POST", "/problems/{problem_id}/links", "linkProblem"),
    }
