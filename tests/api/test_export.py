"""``/export``: the same JSON Lines snapshot as ``cmdb export``, for admins only."""

from __future__ import annotations

import io

import orjson

from cmdb.auth.roles import Role
from cmdb.store import snapshot
from tests.api.conftest import Api
from tests.api.test_cis import V1, ci_id


def test_admin_exports_a_snapshot_that_validates(api: Api) -> None:
    r = api.client.get(f"{V1}/export", headers=api.as_role("admin"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-ndjson")
    lines = r.content.splitlines()
    header = orjson.loads(lines[0])
    assert header["format"] == "graph-cmdb-snapshot" and header["store"] == api.kind
    assert header["counts"]["cis"] == 47 and header["counts"]["relationships"] == 93
    assert len(lines) == 1 + sum(header["counts"].values())
    assert orjson.loads(lines[1])["kind"] == "ci"
    checked = snapshot.validate(io.BytesIO(r.content))
    assert all(checked[k] == header["counts"][k] for k in ("cis", "relationships", "history"))


def test_only_an_unscoped_admin_exports(api: Api) -> None:
    for role in ("viewer", "discovery", "change-manager"):
        r = api.client.get(f"{V1}/export", headers=api.as_role(role))
        assert r.status_code == 403, role
    scoped = api.token_for(Role.ADMIN, services=(ci_id(api, "Card Payments"),))
    assert api.client.get(f"{V1}/export", headers=scoped).status_code == 403
    assert api.client.get(f"{V1}/export").status_code == 401
