"""``POST /api/v1/alerts/alertmanager`` on both stores, over the demo estate: alerts on real
demo hosts grouped by their shared cause into one incident, later alerts joining it, the
incident resolved once all its alerts are, unmapped alerts reported, bad payloads refused
with nothing written, and who may send alerts."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cmdb.auth.roles import Role
from cmdb.store.contract import CIFilter
from tests.api.conftest import Api, make_api

URL = "/api/v1/alerts/alertmanager"
START = "2026-12-01T10:00:00Z"
ZERO = "0001-01-01T00:00:00Z"  # Alertmanager's "no end yet"


def alert(fp: str, *, status: str = "firing", ends: str = ZERO, **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": labels.pop("alertname", "NodeDown"), **labels},
        "annotations": {"summary": "down"},
        "startsAt": START,
        "endsAt": ends,
        "generatorURL": "http://prometheus.example/graph",
        "fingerprint": fp,
    }


def payload(*alerts: dict[str, Any]) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "version": "4",
        "groupKey": '{}:{alertname="NodeDown"}',
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": "cmdb",
        "groupLabels": {"alertname": "NodeDown"},
        "commonLabels": {"alertname": "NodeDown"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example",
        "alerts": list(alerts),
    }


def send(api: Api, body: dict[str, Any], role: Role = Role.MONITORING) -> dict[str, Any]:
    r = api.client.post(URL, json=body, headers=api.as_role(role))
    assert r.status_code == 200, r.text
    got: dict[str, Any] = r.json()
    return got


def ci_id(api: Api, name: str) -> str:
    return api.store.list_cis(CIFilter(name=name)).items[0].id


def incidents(api: Api) -> list[dict[str, Any]]:
    r = api.client.get("/api/v1/incidents", headers=api.as_role(Role.VIEWER))
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def by_fp(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["fingerprint"]: a for a in answer["alerts"]}


def test_alerts_sharing_a_host_are_one_incident_with_the_host_first(api: Api) -> None:
    got = send(
        api,
        payload(
            alert("fp-vm1", instance="vm-app-01:9100"),
            alert("fp-vm2", instance="10.20.1.12:9100", alertname="HighLoad"),
        ),
    )
    srv = ci_id(api, "srv-01")
    vm1, vm2 = ci_id(api, "vm-app-01"), ci_id(api, "vm-app-02")
    (inc,) = got["incidents"]
    assert {a["action"] for a in got["alerts"]} == {"opened"}
    assert {a["incident_id"] for a in got["alerts"]} == {inc["id"]}
    assert inc["cause_id"] == srv and inc["ci_ids"][0] == srv
    assert set(inc["ci_ids"][1:]) == {vm1, vm2}
    assert by_fp(got)["fp-vm1"]["matched"] == ["instance: hostname=vm-app-01 -> vm-app-01"]
    assert by_fp(got)["fp-vm2"]["matched"] == ["instance: ip=10.20.1.12 -> vm-app-02"]
    assert "srv-01" in inc["title"]
    # Services and priority are the impact engine's, as an incident opened by hand on the
    # alerting CIs gets them.
    by_hand = api.client.post(
        "/api/v1/incidents",
        json={"id": "BY-HAND", "title": "x", "cis": ["vm-app-01", "vm-app-02"]},
        headers=api.as_role(Role.ADMIN),
    ).json()
    assert inc["service_ids"] == by_hand["service_ids"] and inc["service_ids"]
    assert (inc["impact"], inc["priority"]) == (by_hand["impact"], by_hand["priority"])
    assert [a["fingerprint"] for a in inc["alerts"]] == ["fp-vm1", "fp-vm2"]
    stored = api.client.get(f"/api/v1/incidents/{inc['id']}", headers=api.as_role(Role.VIEWER))
    assert stored.json() == inc


def test_unrelated_alerts_open_separate_incidents(api: Api) -> None:
    got = send(
        api,
        payload(
            alert("fp-vm1", instance="vm-app-01:9100"),
            alert("fp-pay", ci="Harbourpay gateway endpoint"),
        ),
    )
    assert len(got["incidents"]) == 2
    causes = {i["cause_id"] for i in got["incidents"]}
    assert causes == {ci_id(api, "vm-app-01"), ci_id(api, "Harbourpay gateway endpoint")}


def test_a_later_alert_joins_the_open_incident_and_moves_the_cause_up(api: Api) -> None:
    first = send(api, payload(alert("fp-vm1", instance="vm-app-01")))
    (inc,) = first["incidents"]
    assert inc["cause_id"] == ci_id(api, "vm-app-01")
    later = send(api, payload(alert("fp-vm2", instance="vm-app-02.gullhaven.saltmarsh.example")))
    assert by_fp(later)["fp-vm2"]["action"] == "joined"
    (joined,) = later["incidents"]
    assert joined["id"] == inc["id"] and joined["cause_id"] == ci_id(api, "srv-01")
    assert [a["fingerprint"] for a in joined["alerts"]] == ["fp-vm1", "fp-vm2"]
    texts = [n["text"] for n in joined["notes"]]
    assert any("probable cause now srv-01" in t for t in texts)
    assert any("fp-vm2" in t and "joined" in t for t in texts)
    assert {n["actor"] for n in joined["notes"]} == {"test-monitoring"}
    assert len(incidents(api)) == 1
    # The same alert sent again (Alertmanager repeats) changes nothing and writes nothing.
    history = len(api.store.history(inc["id"]))
    again = send(api, payload(alert("fp-vm2", instance="vm-app-02")))
    assert by_fp(again)["fp-vm2"]["action"] == "updated" and again["incidents"] == []
    assert len(api.store.history(inc["id"])) == history


def test_the_incident_resolves_when_all_its_alerts_are_resolved(api: Api) -> None:
    send(api, payload(alert("fp-vm1", instance="vm-app-01"), alert("fp-vm2", instance="vm-app-02")))
    one = send(api, payload(alert("fp-vm1", instance="vm-app-01", status="resolved", ends=END_1)))
    assert by_fp(one)["fp-vm1"]["action"] == "resolved"
    (inc,) = one["incidents"]
    assert inc["state"] == "open" and inc["resolved_at"] is None
    both = send(api, payload(alert("fp-vm2", instance="vm-app-02", status="resolved", ends=END_2)))
    (inc,) = both["incidents"]
    assert inc["state"] == "resolved" and inc["resolved_at"] == END_2
    assert [a["status"] for a in inc["alerts"]] == ["resolved", "resolved"]
    assert inc["notes"][-1]["text"] == "every alert resolved: incident resolved"
    # A resolved alert no open incident holds is reported, not an error.
    late = send(api, payload(alert("fp-vm1", instance="vm-app-01", status="resolved", ends=END_2)))
    assert by_fp(late)["fp-vm1"]["action"] == "unknown" and late["incidents"] == []
    # The same fingerprint firing again opens a new incident.
    refire = send(api, payload(alert("fp-vm1", instance="vm-app-01")))
    assert by_fp(refire)["fp-vm1"]["action"] == "opened"
    assert refire["incidents"][0]["id"] != inc["id"]


END_1 = "2026-12-01T10:05:00Z"
END_2 = "2026-12-01T10:07:00Z"


def test_an_alert_naming_no_ci_is_reported_and_opens_nothing(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="cmdb.alerts"):
        got = send(
            api,
            payload(
                alert("fp-none", instance="nowhere.example:9100", job="node"),
                alert("fp-vm1", instance="vm-app-01:9100"),
            ),
        )
    assert got["unmapped"] == ["fp-none"]
    (logged,) = [r.getMessage() for r in caplog.records if r.name == "cmdb.alerts"]
    assert "fp-none" in logged and "nowhere.example:9100" in logged
    assert by_fp(got)["fp-none"] == {
        "fingerprint": "fp-none",
        "name": "NodeDown",
        "status": "firing",
        "action": "unmapped",
        "incident_id": None,
        "ci_ids": [],
        "matched": [],
    }
    assert len(got["incidents"]) == 1
    assert [a["fingerprint"] for a in got["incidents"][0]["alerts"]] == ["fp-vm1"]
    only = send(api, payload(alert("fp-none2", instance="nowhere.example:9100")))
    assert only["unmapped"] == ["fp-none2"] and only["incidents"] == []
    assert len(incidents(api)) == 1


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda p: p.update(version="3"), "version"),
        (lambda p: p.update(alerts=[]), "alerts"),
        (lambda p: p["alerts"][0].pop("fingerprint"), "alerts.0.fingerprint"),
        (lambda p: p["alerts"][0].update(status="burning"), "alerts.0.status"),
        (lambda p: p["alerts"][0].update(startsAt="yesterday"), "alerts.0.startsAt"),
        (lambda p: p["alerts"][0].update(labels={"instance": 5}), "alerts.0.labels.instance"),
        (lambda p: p.update(unexpected=1), "unexpected"),
    ],
)
def test_a_bad_payload_is_refused_naming_the_field_and_writes_nothing(
    api: Api, change: Any, where: str
) -> None:
    body = payload(alert("fp-vm1", instance="vm-app-01"))
    change(body)
    r = api.client.post(URL, json=body, headers=api.as_role(Role.MONITORING))
    assert r.status_code == 422, r.text
    assert where in r.text
    assert incidents(api) == []


def test_who_may_send_alerts(api: Api) -> None:
    body = payload(alert("fp-vm1", instance="vm-app-01"))
    for role in (Role.VIEWER, Role.DISCOVERY):
        assert api.client.post(URL, json=body, headers=api.as_role(role)).status_code == 403
    scoped = api.token_for(Role.MONITORING, services=("Online Ferry Booking",), name="scoped")
    assert api.client.post(URL, json=body, headers=scoped).status_code == 403
    assert api.client.post(URL, json=body).status_code == 401
    assert incidents(api) == []
    assert send(api, body, Role.CHANGE_MANAGER)["incidents"]


@pytest.fixture
def api_rules(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """The embedded store with mapping rules of its own: only a ``box`` label, by host
    name, and no reach above an alert's own CIs (``max_hops: 0``)."""
    rules = tmp_path / "alert-rules.yaml"
    rules.write_text("labels:\n  - {label: box, kinds: [hostname]}\nmax_hops: 0\n")
    yield from make_api("embedded", tmp_path, request, alert_rules_file=rules)


def test_the_mapping_rules_and_the_reach_are_configurable(api_rules: Api) -> None:
    got = send(
        api_rules,
        payload(
            alert("fp-vm1", box="vm-app-01"),
            alert("fp-vm2", box="vm-app-02"),
            alert("fp-inst", instance="vm-app-03:9100"),  # no rule reads instance here
        ),
    )
    assert got["unmapped"] == ["fp-inst"]
    # With no reach, the two VMs' shared host does not group them.
    causes = sorted(i["cause_id"] for i in got["incidents"])
    assert causes == sorted([ci_id(api_rules, "vm-app-01"), ci_id(api_rules, "vm-app-02")])
