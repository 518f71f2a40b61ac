"""``/api/v1/reports/...`` on both stores with the sample estate: JSON and CSV, the
Reader permission, and a service-scoped token's reports counting its scope only."""

from __future__ import annotations

import csv
import io

from cmdb.api.app import API_PREFIX
from cmdb.auth.roles import Role
from cmdb.store.refs import resolve_ci
from tests.api.conftest import Api

R = f"{API_PREFIX}/reports"
REPORTS = ("changes", "incidents", "cis", "health", "cab-agenda")


def test_every_report_answers_json_and_csv(api: Api) -> None:
    viewer = api.as_role(Role.VIEWER)
    for name in REPORTS:
        r = api.client.get(f"{R}/{name}", headers=viewer)
        assert r.status_code == 200, (name, r.text)
        assert r.headers["content-type"].startswith("application/json")
        as_csv = api.client.get(f"{R}/{name}", params={"format": "csv"}, headers=viewer)
        assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
        header = next(csv.reader(io.StringIO(as_csv.text)))
        assert header[0] == "section"
        accepted = api.client.get(f"{R}/{name}", headers={**viewer, "Accept": "text/csv"})
        assert accepted.text == as_csv.text or name == "cab-agenda"  # the agenda is made "now"
    cis = api.client.get(f"{R}/cis", headers=viewer).json()
    assert cis["total"] == 47
    health = api.client.get(f"{R}/health", headers=viewer).json()
    assert health["incomplete_total"] == 2 and health["orphans_total"] == 0


def test_operation_ids_and_bad_input(api: Api) -> None:
    spec = api.client.get(f"{API_PREFIX}/openapi.json").json()["paths"]
    ids = {spec[f"{R}/{n}"]["get"]["operationId"] for n in REPORTS}
    assert ids == {
        "reportChanges",
        "reportIncidents",
        "reportCis",
        "reportHealth",
        "reportCabAgenda",
    }
    admin = api.as_role(Role.ADMIN)
    bad = api.client.get(
        f"{R}/changes",
        params={"from": "2026-12-02T00:00Z", "to": "2026-12-01T00:00Z"},
        headers=admin,
    )
    assert bad.status_code == 422 and bad.json()["error"]["where"] == "to"
    assert api.client.get(f"{R}/cis", params={"top": 0}, headers=admin).status_code == 422
    assert api.client.get(f"{R}/cis").status_code == 401


def test_a_scoped_token_reports_on_its_scope(api: Api) -> None:
    service = resolve_ci(api.store, "Boarding Pass App API").id
    scoped = api.token_for(Role.VIEWER, services=(service,), name="scoped")
    full = api.client.get(f"{R}/cis", headers=api.as_role(Role.VIEWER)).json()
    mine = api.client.get(f"{R}/cis", headers=scoped).json()
    assert 2 < mine["total"] < full["total"]
    health = api.client.get(f"{R}/health", headers=scoped).json()
    assert health["total"] == mine["total"]
    booking = resolve_ci(api.store, "Online Ferry Booking").id
    assert (
        booking not in api.client.get(f"{R}/health", params={"format": "csv"}, headers=scoped).text
    )
