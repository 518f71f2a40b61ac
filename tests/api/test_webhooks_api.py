"""/api/v1/webhooks: rules made, listed (never their secret), disabled, deleted; delivery
logs, replay, the outbox; URLs checked; and `cmdb serve`'s delivery worker (a setting)
sending a REST write's event to a receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from cmdb.auth.roles import Role
from cmdb.server.app import API_PREFIX
from tests.api.conftest import Api, make_api
from tests.webhook_receiver import Receiver

URL = f"{API_PREFIX}/webhooks"


@pytest.fixture
def api_private(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    yield from make_api("embedded", tmp_path, request, sample=False, webhooks_allow_private=True)


@pytest.fixture
def api_public(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    yield from make_api("embedded", tmp_path, request, sample=False)


def test_private_urls_are_refused_unless_allowed(api_public: Api) -> None:
    admin = api_public.as_role(Role.ADMIN)
    for url in ("http://127.0.0.1:8080/x", "http://169.254.169.254/", "file:///etc/passwd"):
        r = api_public.client.post(URL, json={"url": url}, headers=admin)
        assert r.status_code == 422, r.text
        assert "url" in r.text
    assert api_public.store.list_webhook_rules() == []


def test_rules_through_rest(api_private: Api) -> None:
    client, admin = api_private.client, api_private.as_role(Role.ADMIN)
    made = client.post(
        URL,
        json={"url": "http://127.0.0.1:9/x", "events": ["ci.created"], "description": "d"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    secret, rule = made.json()["secret"], made.json()["rule"]
    assert secret.startswith("whsec_") and rule["events"] == ["ci.created"]
    listed = client.get(URL, headers=admin)
    assert [r["id"] for r in listed.json()["items"]] == [rule["id"]]
    one = client.get(f"{URL}/{rule['id']}", headers=admin)
    assert secret not in listed.text + one.text and "secret" not in one.json()
    assert client.get(URL, headers=api_private.as_role(Role.VIEWER)).status_code == 403
    patched = client.patch(f"{URL}/{rule['id']}", json={"enabled": False}, headers=admin)
    assert patched.json()["enabled"] is False
    created = client.post(
        f"{API_PREFIX}/cis", json={"class": "Server", "name": "hooked"}, headers=admin
    )
    assert created.status_code in (200, 201), created.text
    events = client.get(f"{URL}/events", headers=admin).json()["items"]
    assert [e["type"] for e in events] == ["ci.created"]
    replayed = client.post(
        f"{URL}/{rule['id']}/replay", json={"event_id": events[0]["id"]}, headers=admin
    )
    assert replayed.status_code == 202, replayed.text
    assert replayed.json()["id"] == f"{events[0]['id']}.{rule['id']}"
    log = client.get(f"{URL}/{rule['id']}/deliveries", headers=admin).json()["items"]
    assert [(d["state"], d["attempts"]) for d in log] == [("pending", 0)]
    missing = client.post(f"{URL}/{rule['id']}/replay", json={"event_id": "evt_x"}, headers=admin)
    assert missing.status_code == 404
    assert client.delete(f"{URL}/{rule['id']}", headers=admin).status_code == 204
    assert client.get(f"{URL}/{rule['id']}", headers=admin).status_code == 404


def test_serve_runs_the_delivery_worker(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    with Receiver().running() as rx:
        for api in make_api(
            "embedded",
            tmp_path,
            request,
            sample=False,
            webhooks_allow_private=True,
            webhooks_worker=True,
            webhooks_interval_s=0.05,
        ):
            admin = api.as_role(Role.ADMIN)
            made = api.client.post(URL, json={"url": rx.url}, headers=admin).json()
            api.client.post(
                f"{API_PREFIX}/cis", json={"class": "Server", "name": "pushed"}, headers=admin
            )
            (got,) = rx.wait_for(1)
    body = Webhook(made["secret"]).verify(got.body, got.headers)
    assert body["type"] == "ci.created" and body["data"]["ci"]["name"] == "pushed"


def test_an_outbox_cursor_past_the_largest_seq_is_refused_not_a_500(api_private: Api) -> None:
    """Seqs are 64-bit on both stores; SQLite cannot bind a larger int (schemathesis found
    ``after=2**63`` answered 500)."""
    client, admin = api_private.client, api_private.as_role(Role.ADMIN)
    huge = 2**63
    r = client.get(f"{URL}/events", params={"after": huge}, headers=admin)
    assert r.status_code == 422 and "after" in r.text, r.text
    last = client.get(f"{URL}/events", params={"after": huge - 1}, headers=admin)
    assert last.status_code == 200 and last.json()["items"] == [], last.text
    made = client.post(URL, json={"url": "http://127.0.0.1:9/x"}, headers=admin)
    rule_id = made.json()["rule"]["id"]
    for ref in (str(huge), "9" * 40):
        replay = client.post(f"{URL}/{rule_id}/replay", json={"event_id": ref}, headers=admin)
        assert replay.status_code == 404, replay.text
