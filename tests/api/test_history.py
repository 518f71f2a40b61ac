"""``/history/{entity_id}`` and ``/counts`` on both stores."""

from __future__ import annotations

from cmdb.auth.roles import Role
from tests.api.conftest import Api
from tests.api.test_cis import V1, ci_id, clock_of


def test_history_of_a_ci_with_as_of(api: Api) -> None:
    srv = ci_id(api, "srv-01")
    h = api.as_role("viewer")
    rows = api.client.get(f"{V1}/history/{srv}", headers=h).json()
    assert rows["entity_id"] == srv
    first = rows["history"][0]
    assert first["op"] == "create" and first["actor"] == "test-setup"
    assert first["source"] == "sample" and first["entity_kind"] == "ci"
    loaded = clock_of(api).now
    clock_of(api).advance(hours=2)
    api.client.patch(
        f"{V1}/cis/{srv}", json={"version": "BIOS 2.1"}, headers=api.as_role("change-manager")
    )
    after = api.client.get(f"{V1}/history/{srv}", headers=h).json()["history"]
    assert after[-1]["field"] == "version" and after[-1]["after"] == "BIOS 2.1"
    assert after[-1]["actor"] == "test-change-manager" and after[-1]["source"] == "api"
    then = api.client.get(
        f"{V1}/history/{srv}", params={"as_of": loaded.isoformat()}, headers=h
    ).json()
    assert then["history"] == rows["history"]
    r = api.client.get(f"{V1}/history/{srv}", params={"as_of": "last tuesday"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["where"] == "query.as_of"


def test_history_of_nothing_is_404(api: Api) -> None:
    r = api.client.get(f"{V1}/history/ci_nope", headers=api.as_role("viewer"))
    assert r.status_code == 404 and r.json()["error"]["where"] == "entity_id"


def test_scoped_history_hides_what_is_outside(api: Api) -> None:
    h = api.token_for(Role.VIEWER, services=(ci_id(api, "Card Payments"),))
    assert api.client.get(f"{V1}/history/{ci_id(api, 'srv-03')}", headers=h).status_code == 200
    hidden = ci_id(api, "srv-01")
    assert api.client.get(f"{V1}/history/{hidden}", headers=h).status_code == 404


def test_counts(api: Api) -> None:
    c = api.client.get(f"{V1}/counts", headers=api.as_role("viewer")).json()
    assert sum(c["by_class"].values()) == 47 and c["by_class"]["VirtualMachine"] == 6
    assert c["by_status"] == {"live": 47}
    assert sum(c["relationships_by_type"].values()) == 93
    assert c["relationships_by_type"]["OWNED_BY"] == 19
    scoped = api.token_for(Role.VIEWER, services=(ci_id(api, "Card Payments"),))
    c = api.client.get(f"{V1}/counts", headers=scoped).json()
    assert sum(c["by_class"].values()) == 10 and c["by_class"]["Server"] == 1
