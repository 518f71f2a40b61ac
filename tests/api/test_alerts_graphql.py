"""GraphQL shows an alert incident as REST does (issue 16): its probable cause, its alerts
(fingerprint, state, CIs, labels, times) and its notes, on both stores; a reader limited
to services gets neither labels nor notes there either."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cmdb.auth.roles import Role
from tests.api.conftest import Api
from tests.api.test_alerts_api import alert, payload, send

QUERY = """
query ($id: ID!) {
  incident(id: $id) {
    id causeId
    alerts { fingerprint name status ciIds startsAt endsAt labels { name value } }
    notes { at actor text }
  }
  incidents(openOnly: true) { id causeId alerts { fingerprint } }
}
"""


def _gql(api: Api, inc_id: str, headers: dict[str, str]) -> dict[str, Any]:
    r = api.client.post(
        "/graphql", json={"query": QUERY, "variables": {"id": inc_id}}, headers=headers
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def _at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def _same(gql: dict[str, Any], rest: dict[str, Any]) -> None:
    assert gql["causeId"] == rest["cause_id"]
    assert len(gql["alerts"]) == len(rest["alerts"])
    for g, r in zip(gql["alerts"], rest["alerts"], strict=True):
        assert (g["fingerprint"], g["name"], g["status"], g["ciIds"]) == (
            r["fingerprint"],
            r["name"],
            r["status"],
            r["ci_ids"],
        )
        assert {lb["name"]: lb["value"] for lb in g["labels"]} == r["labels"]
        assert _at(g["startsAt"]) == _at(r["starts_at"])
        assert _at(g["endsAt"]) == _at(r["ends_at"])
    assert [(n["actor"], n["text"]) for n in gql["notes"]] == [
        (n["actor"], n["text"]) for n in rest["notes"]
    ]
    assert [_at(n["at"]) for n in gql["notes"]] == [_at(n["at"]) for n in rest["notes"]]


def test_graphql_shows_an_alert_incident_as_rest_does(api: Api) -> None:
    send(api, payload(alert("fp-vm1", instance="vm-app-01:9100")))
    got = send(
        api,
        payload(
            alert("fp-vm1", instance="vm-app-01:9100", status="resolved",
                  ends="2026-12-01T10:05:00Z"),
            alert("fp-vm2", instance="10.20.1.12:9100", alertname="HighLoad"),
        ),
    )  # fmt: skip
    (inc,) = got["incidents"]
    viewer = api.as_role(Role.VIEWER)
    rest = api.client.get(f"/api/v1/incidents/{inc['id']}", headers=viewer).json()
    data = _gql(api, inc["id"], viewer)
    _same(data["incident"], rest)
    assert [a["status"] for a in data["incident"]["alerts"]] == ["resolved", "firing"]
    labels = {lb["name"]: lb["value"] for lb in data["incident"]["alerts"][1]["labels"]}
    assert labels == {"alertname": "HighLoad", "instance": "10.20.1.12:9100"}
    assert any("joined" in n["text"] for n in data["incident"]["notes"])
    (listed,) = [i for i in data["incidents"] if i["id"] == inc["id"]]
    assert listed["causeId"] == rest["cause_id"]
    assert [a["fingerprint"] for a in listed["alerts"]] == ["fp-vm1", "fp-vm2"]
    # A reader limited to one of the incident's services: what REST shows it, no more.
    scoped = api.token_for(Role.VIEWER, services=(rest["service_ids"][0],), name="scoped")
    rest_scoped = api.client.get(f"/api/v1/incidents/{inc['id']}", headers=scoped).json()
    scoped_data = _gql(api, inc["id"], scoped)["incident"]
    _same(scoped_data, rest_scoped)
    assert rest_scoped["id"] == inc["id"] and scoped_data["notes"] == []
    assert all(a["labels"] == [] for a in scoped_data["alerts"])
