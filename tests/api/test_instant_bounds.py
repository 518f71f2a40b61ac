"""An instant Python cannot move through zones and service hours (years 1 and 9999) is bad
input naming its field, on every question that takes one, never an internal error; and a
record never stores one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cmdb.app.inputs import instant
from cmdb.auth.roles import Role
from cmdb.domain.errors import InvalidInput
from cmdb.domain.instant import EARLIEST, LATEST
from cmdb.server.app import API_PREFIX
from tests.api.conftest import Api

FAR = ("9999-12-31T00:00:00Z", "0001-01-01T00:00:00Z")
CM = Role.CHANGE_MANAGER


def _incident(api: Api) -> str:
    body = {"id": "INC-1", "title": "srv-01 down", "cis": ["srv-01"]}
    r = api.client.post(f"{API_PREFIX}/incidents", json=body, headers=api.as_role(CM))
    assert r.status_code == 201, r.text
    return "INC-1"


@pytest.mark.parametrize("at", FAR)
def test_far_instants_in_queries_name_their_parameter(api_embedded: Api, at: str) -> None:
    api = api_embedded
    inc = _incident(api)
    asks = [
        (f"/incidents/{inc}/clock", "at"),
        ("/reports/incidents", "at"),
        ("/reports/cab-agenda", "at"),
        ("/reports/cab-agenda", "from"),
        ("/reports/cab-agenda", "to"),
        ("/changes/schedule", "start"),
        ("/impact/availability/Online Ferry Booking", "as_of"),
        ("/impact/spof/Online Ferry Booking", "as_of"),
    ]
    for path, name in asks:
        r = api.client.get(f"{API_PREFIX}{path}", params={name: at}, headers=api.as_role(CM))
        assert r.status_code == 422, (path, name, r.text)
        err = r.json()["error"]
        assert err["where"] == name and "from 1900 to 9000" in err["message"], (path, err)


@pytest.mark.parametrize("at", FAR)
def test_far_instants_in_bodies_are_refused_and_write_nothing(api_embedded: Api, at: str) -> None:
    api = api_embedded
    late = at.startswith("9")
    window = {"start": at, "end": "9999-12-31T23:00:00Z" if late else "0001-01-01T05:00:00Z"}
    r = api.client.post(
        f"{API_PREFIX}/impact/change", json={"cis": ["srv-01"], **window}, headers=api.as_role(CM)
    )
    assert r.status_code == 422 and r.json()["error"]["where"] == "start", r.text

    rfc = {
        "id": "RFC-FAR",
        "title": "far",
        "cis": ["srv-01"],
        "planned_start": window["start"],
        "planned_end": window["end"],
    }
    r = api.client.post(f"{API_PREFIX}/changes", json=rfc, headers=api.as_role(CM))
    assert r.status_code == 422, r.text
    assert "planned_start" in r.json()["error"]["where"]
    assert api.store.list_changes() == []

    inc = {"id": "INC-FAR", "title": "far", "cis": ["srv-01"], "opened_at": at}
    r = api.client.post(f"{API_PREFIX}/incidents", json=inc, headers=api.as_role(CM))
    assert r.status_code == 422 and r.json()["error"]["where"] == "opened_at", r.text
    assert api.store.list_incidents() == []


def test_the_bounds_themselves() -> None:
    assert instant(EARLIEST) == EARLIEST
    assert instant(datetime(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=UTC)  # unzoned: UTC
    with pytest.raises(InvalidInput) as got:
        instant(LATEST, where="until")
    assert got.value.where == "until"
