"""Webhook rules through GraphQL: made (the secret in that answer only), listed, disabled,
replayed and deleted, with the delivery log; refused to roles without admin, to scoped
tokens and for private URLs the server does not allow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cmdb.auth.roles import Role
from tests.api.conftest import Api, make_api
from tests.api.test_graphql import data, error_of, gql

OPS = """
mutation Make($input: WebhookRuleInput!) {
  createWebhookRule(input: $input) { secret rule { id url events enabled createdBy } }
}
mutation Enable($id: ID!, $on: Boolean!) {
  setWebhookRuleEnabled(id: $id, enabled: $on) { enabled }
}
mutation Replay($rule: ID!, $event: String!) {
  replayWebhook(rule: $rule, event: $event) { id state attempts eventType }
}
mutation Drop($id: ID!) { deleteWebhookRule(id: $id) }
query Rules { webhookRules { id url events enabled } }
query Log($rule: ID!) { webhookDeliveries(rule: $rule) { id state attempts log { statusCode } } }
mutation Add { upsertCi(input: {class: "Server", name: "gql-hooked"}) { outcome } }
"""


@pytest.fixture
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    yield from make_api("embedded", tmp_path, request, sample=False)


@pytest.fixture
def api_private(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    yield from make_api("embedded", tmp_path, request, sample=False, webhooks_allow_private=True)


def test_webhook_rules_through_graphql(api_private: Api) -> None:
    api = api_private
    made = data(
        api,
        OPS,
        {"input": {"url": "http://127.0.0.1:9/x", "events": ["CI_CREATED"]}},
        op="Make",
    )["createWebhookRule"]
    rule = made["rule"]
    assert made["secret"].startswith("whsec_") and rule["events"] == ["CI_CREATED"]
    assert rule["enabled"] is True and rule["createdBy"] == "test-admin"
    listed = gql(api, OPS, op="Rules")
    assert listed["data"]["webhookRules"] == [
        {"id": rule["id"], "url": "http://127.0.0.1:9/x", "events": ["CI_CREATED"], "enabled": True}
    ]
    assert made["secret"] not in str(listed)
    off = data(api, OPS, {"id": rule["id"], "on": False}, op="Enable")
    assert off["setWebhookRuleEnabled"]["enabled"] is False
    data(api, OPS, op="Add")
    (event,) = api.store.read_events()
    replayed = data(api, OPS, {"rule": rule["id"], "event": event.id}, op="Replay")
    assert replayed["replayWebhook"] == {
        "id": f"{event.id}.{rule['id']}",
        "state": "PENDING",
        "attempts": 0,
        "eventType": "CI_CREATED",
    }
    log = data(api, OPS, {"rule": rule["id"]}, op="Log")["webhookDeliveries"]
    assert [d["state"] for d in log] == ["PENDING"]
    assert data(api, OPS, {"id": rule["id"]}, op="Drop")["deleteWebhookRule"] is True
    assert data(api, OPS, op="Rules")["webhookRules"] == []
    gone = error_of(gql(api, OPS, {"rule": rule["id"]}, op="Log"))
    assert gone["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN], ids=str)
def test_only_admins_manage_webhooks(api: Api, role: Role) -> None:
    made = gql(api, OPS, {"input": {"url": "https://93.184.215.14/x"}}, op="Make", role=role)
    assert error_of(made)["extensions"]["code"] == "FORBIDDEN"
    assert error_of(gql(api, OPS, op="Rules", role=role))["extensions"]["code"] == "FORBIDDEN"
    assert api.store.list_webhook_rules() == []


def test_scoped_admins_and_private_urls_are_refused(api: Api) -> None:
    scoped = api.token_for(Role.ADMIN, services=("svc_any",), name="scoped-admin")
    got = gql(api, OPS, op="Rules", headers=scoped)
    assert error_of(got)["extensions"]["code"] == "FORBIDDEN"
    private = gql(api, OPS, {"input": {"url": "http://10.0.0.9/hook"}}, op="Make")
    err = error_of(private)
    assert "private" in err["message"] and api.store.list_webhook_rules() == []
