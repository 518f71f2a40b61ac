"""The credential endpoints: /auth/whoami and admin token management (/tokens)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cmdb.auth.roles import Role
from cmdb.server.app import API_PREFIX
from tests.api.conftest import Api
from tests.api.security import SCOPE_SERVICE, secure_api, stored_hashes

V1 = API_PREFIX


@pytest.fixture
def api_http(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    yield from secure_api("embedded", tmp_path, request)


def _service(api: Api, name: str = SCOPE_SERVICE) -> str:
    return next(c.id for c in api.store.list_cis(limit=1000).items if c.name == name)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_whoami_for_every_role(api_http: Api, role: Role) -> None:
    r = api_http.client.get(f"{V1}/auth/whoami", headers=api_http.as_role(role))
    assert r.status_code == 200
    me = r.json()
    assert me["role"] == role.value and me["name"] == f"test-{role.value}"
    assert me["scoped"] is False and me["services"] == [] and "read" in me["permissions"]
    assert "cmdb_" not in r.text


def test_whoami_shows_the_scope(api_http: Api) -> None:
    service = _service(api_http)
    headers = api_http.token_for(Role.VIEWER, services=(service,), name="desk")
    me = api_http.client.get(f"{V1}/auth/whoami", headers=headers).json()
    assert me["scoped"] is True and me["services"] == [service]


def test_admin_creates_lists_and_revokes_tokens(api_http: Api) -> None:
    admin = api_http.as_role(Role.ADMIN)
    r = api_http.client.post(
        f"{V1}/tokens",
        json={
            "name": "ci-bot",
            "role": "discovery",
            "services": [SCOPE_SERVICE],
            "expires_in": "30d",
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    made = r.json()
    clear, info = made["token"], made["info"]
    assert clear.startswith(f"cmdb_{info['key']}_") and info["status"] == "active"
    assert info["services"] == [_service(api_http)] and info["expires_at"]

    me = api_http.client.get(f"{V1}/auth/whoami", headers={"Authorization": f"Bearer {clear}"})
    assert me.status_code == 200 and me.json()["role"] == "discovery"

    listing = api_http.client.get(f"{V1}/tokens", headers=admin)
    assert listing.status_code == 200
    assert info["key"] in {t["key"] for t in listing.json()["items"]}
    one = api_http.client.get(f"{V1}/tokens/{info['key']}", headers=admin)
    assert one.status_code == 200 and one.json()["name"] == "ci-bot"
    secret = clear.split("_", 2)[2]
    for text in (listing.text, one.text):
        assert secret not in text and "sha256" not in text
        for digest in stored_hashes(api_http.tokens):
            assert digest not in text

    gone = api_http.client.delete(f"{V1}/tokens/{info['key']}", headers=admin)
    assert gone.status_code == 200 and gone.json()["status"] == "revoked"
    again = api_http.client.get(f"{V1}/auth/whoami", headers={"Authorization": f"Bearer {clear}"})
    assert again.status_code == 401
    assert api_http.client.delete(f"{V1}/tokens/{info['key']}", headers=admin).status_code == 200
    assert api_http.client.delete(f"{V1}/tokens/abcdef", headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"name": "x", "role": "viewer", "services": ["srv-01"]}, "services[0]"),
        ({"name": "x", "role": "viewer", "services": ["no such service"]}, "services[0]"),
        ({"name": "x", "role": "viewer", "expires_in": "soon"}, "expires_in"),
        (
            {
                "name": "x",
                "role": "viewer",
                "expires_in": "1d",
                "expires_at": "2030-01-01T00:00:00Z",
            },
            "expires_in",
        ),
        ({"name": "x", "role": "viewer", "expires_at": "2001-01-01T00:00:00"}, "expires_at"),
        ({"name": "x", "role": "root"}, "body.role"),
        ({"name": "", "role": "viewer"}, "body.name"),
        ({"name": "x", "role": "viewer", "secret_sha256": "00"}, "body.secret_sha256"),
        ({"name": "x", "role": "viewer", "key": "feedface"}, "body.key"),
    ],
)
def test_bad_token_requests_are_refused_and_create_nothing(
    api_http: Api, body: dict[str, object], where: str
) -> None:
    before = api_http.tokens.list()
    r = api_http.client.post(f"{V1}/tokens", json=body, headers=api_http.as_role(Role.ADMIN))
    assert r.status_code in (404, 422), r.text
    assert r.json()["error"]["where"] == where
    assert "cmdb_" not in r.text
    assert api_http.tokens.list() == before


def test_only_unscoped_admins_manage_tokens(api_http: Api) -> None:
    scoped_admin = api_http.token_for(Role.ADMIN, services=(_service(api_http),), name="sa")
    body = {"name": "escalate", "role": "admin"}
    before = api_http.tokens.list()
    for headers in (scoped_admin, *(api_http.as_role(r) for r in Role if r != Role.ADMIN)):
        assert api_http.client.post(f"{V1}/tokens", json=body, headers=headers).status_code == 403
        assert api_http.client.get(f"{V1}/tokens", headers=headers).status_code == 403
        key = before[0].key
        assert api_http.client.delete(f"{V1}/tokens/{key}", headers=headers).status_code == 403
    assert api_http.tokens.list() == before
