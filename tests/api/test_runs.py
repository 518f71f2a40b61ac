"""``/discovery/runs``: push a small hand-written inventory (raw body or multipart), dry
run, apply, re-apply; bad input; roles and scope; unauthorised changes against the RFCs.
Both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cmdb.auth.roles import Role
from tests.api.conftest import Api
from tests.api.test_cis import V1, ci_id
from tests.api.test_graphql import data

INVENTORY = (
    b"key,class,name,serial,environment\n"
    b"web-a,Server,web-a,SN-A1,production\n"
    b"web-b,Server,web-b,SN-B1,production\n"
    b"srv-01,Server,srv-01,IBX7-40117,staging\n"
)
QUERY = {"format": "csv", "source": "rack-audit", "scope": "hall-2"}


def push(api: Api, *, role: str = "discovery", **params: Any) -> Any:
    return api.client.post(
        f"{V1}/discovery/runs",
        params={**QUERY, **params},
        content=INVENTORY,
        headers={**api.as_role(role), "Content-Type": "text/csv", "X-Request-ID": "req-run-1"},
    )


def test_dry_run_then_apply_then_reapply(api: Api) -> None:
    before = api.store.counts()
    r = push(api, dry_run="true")
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["run"]["dry_run"] and plan["run"]["status"] == "succeeded"
    assert plan["totals"]["created"] == 2 and plan["totals"]["updated"] == 1
    assert sorted(c["name"] for c in plan["created"]) == ["web-a", "web-b"]
    assert plan["discrepancies"][0]["field"] == "environment"
    assert api.store.counts() == before
    assert api.client.get(f"{V1}/discovery/runs", headers=api.as_role("viewer")).json() == {
        "items": []
    }

    r = push(api)
    assert r.status_code == 201, r.text
    run = r.json()["run"]
    assert run["status"] == "succeeded" and run["source"] == "rack-audit"
    assert r.json()["totals"] == {
        "created": 2,
        "updated": 1,
        "unchanged": 0,
        "stale": 0,
        "unresolved": 0,
        "errors": 0,
    }
    web_a = api.client.get(f"{V1}/cis/serial=SN-A1", headers=api.as_role("viewer")).json()
    assert web_a["name"] == "web-a" and "rack-audit" in web_a["sources"]
    srv = api.client.get(f"{V1}/cis/srv-01", headers=api.as_role("viewer")).json()
    assert srv["environment"] == "staging"
    rows = api.store.history(web_a["id"])
    assert rows[0].actor == "test-discovery" and rows[0].request_id == "req-run-1"
    assert rows[0].run_id == run["id"]

    again = push(api)
    assert again.status_code == 201
    assert again.json()["totals"]["unchanged"] == 3 and again.json()["totals"]["created"] == 0
    assert sum(api.store.counts().by_class.values()) == 49

    runs = api.client.get(
        f"{V1}/discovery/runs", params={"source": "rack-audit"}, headers=api.as_role("viewer")
    ).json()["items"]
    assert len(runs) == 2 and runs[1]["id"] == run["id"]
    one = api.client.get(f"{V1}/discovery/runs/{run['id']}", headers=api.as_role("viewer"))
    assert one.status_code == 200
    assert one.json()["counts"]["created"] == 2 and one.json()["status"] == "succeeded"


def test_multipart_upload_with_form_fields(api: Api) -> None:
    r = api.client.post(
        f"{V1}/discovery/runs",
        files={"file": ("racks.csv", INVENTORY, "text/csv")},
        data={"format": "csv", "source": "rack-audit", "dry_run": "true"},
        headers=api.as_role("discovery"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["run"]["dry_run"] and r.json()["totals"]["created"] == 2


def test_bad_input_names_file_and_line_and_writes_nothing(api: Api) -> None:
    before = api.store.counts()
    h = api.as_role("discovery")
    r = api.client.post(
        f"{V1}/discovery/runs",
        files={"file": ("racks.csv", b"class,name\nServer,x\n", "text/csv")},
        data={"format": "csv", "source": "rack-audit"},
        headers=h,
    )
    assert r.status_code == 422
    assert r.json()["error"]["where"] == "racks.csv:1"
    for params, where in (
        ({"format": "punchcards"}, "format"),
        ({"format": ""}, "format"),
        ({"format": "csv", "dry_run": "maybe"}, "query.dry_run"),
    ):
        r = api.client.post(f"{V1}/discovery/runs", params=params, content=INVENTORY, headers=h)
        assert r.status_code == 422 and r.json()["error"]["where"] == where, params
    r = api.client.post(f"{V1}/discovery/runs", params={"format": "csv"}, content=b"", headers=h)
    assert r.status_code == 422 and r.json()["error"]["where"] == "file"
    assert api.store.counts() == before
    assert api.store.list_runs() == []


def test_who_may_push_and_read_runs(api: Api) -> None:
    before = api.store.counts()
    for role in ("viewer", "change-manager"):
        assert push(api, role=role).status_code == 403, role
    scoped = api.token_for(Role.DISCOVERY, services=(ci_id(api, "Card Payments"),))
    r = api.client.post(f"{V1}/discovery/runs", params=QUERY, content=INVENTORY, headers=scoped)
    assert r.status_code == 403
    assert api.store.counts() == before and api.store.list_runs() == []
    run_id = push(api, role="admin").json()["run"]["id"]
    assert api.client.get(f"{V1}/discovery/runs/{run_id}", headers=scoped).status_code == 404
    assert api.client.get(f"{V1}/discovery/runs", headers=scoped).json() == {"items": []}
    r = api.client.get(f"{V1}/discovery/runs/run_nope", headers=api.as_role("viewer"))
    assert r.status_code == 404 and r.json()["error"]["where"] == "run_id"


def test_a_push_lists_unauthorised_changes_against_the_rfc(api: Api) -> None:
    """The push checks discovered differences against the approved changes, as ``cmdb
    discover`` does: the version an RFC brings is covered; another one is listed, with why."""

    def push_version(version: str, **params: Any) -> Any:
        body = f"key,class,name,serial,version\nweb-a,Server,web-a,SN-A1,{version}\n".encode()
        r = api.client.post(
            f"{V1}/discovery/runs",
            params={**QUERY, **params},
            content=body,
            headers={**api.as_role("discovery"), "Content-Type": "text/csv"},
        )
        assert r.status_code in (200, 201), r.text
        return r.json()

    push_version("1.4.0")
    now = datetime.now(UTC)
    cm = api.as_role(Role.CHANGE_MANAGER)
    rfc = {
        "id": "RFC-V",
        "title": "upgrade web-a",
        "type": "standard",
        "cis": ["serial=SN-A1"],
        "ci_versions": {"serial=SN-A1": "1.4.2"},
        "planned_start": (now - timedelta(hours=1)).isoformat(),
        "planned_end": (now + timedelta(hours=1)).isoformat(),
    }
    r = api.client.post(f"{V1}/changes", json=rfc, headers=cm)
    assert r.status_code == 201, r.text
    r = api.client.post(f"{V1}/changes/RFC-V/transition", json={"to": "authorised"}, headers=cm)
    assert r.status_code == 200, r.text

    assert push_version("1.4.2")["discrepancies"] == []
    web_a = ci_id(api, "serial=SN-A1")
    for params in ({"dry_run": "true"}, {}):
        [found] = push_version("1.5.0", **params)["discrepancies"]
        assert (found["field"], found["before"], found["after"]) == ("version", "1.4.2", "1.5.0")
        assert found["change_id"] == "RFC-V"
        assert found["why"] == f"RFC-V brings version 1.4.2 to web-a ({web_a}); found 1.5.0"
    # The GraphQL push goes through the same service, so it checks the same way.
    gql_push = """mutation($p: String!) { pushDiscovery(format: "csv", payload: $p,
                  source: "rack-audit", scope: "hall-2") { report } }"""
    body = "key,class,name,serial,version\nweb-a,Server,web-a,SN-A1,1.6.0\n"
    report = data(api, gql_push, {"p": body}, role=Role.DISCOVERY)["pushDiscovery"]["report"]
    [found] = report["discrepancies"]
    assert (found["after"], found["change_id"]) == ("1.6.0", "RFC-V")
    assert found["why"] == f"RFC-V brings version 1.4.2 to web-a ({web_a}); found 1.6.0"
