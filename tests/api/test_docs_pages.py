"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) load only this server's files: the pages name
no outside URL, and every script and stylesheet they load is served here."""

from __future__ import annotations

import re

import pytest

from cmdb.server.app import API_PREFIX
from tests.api.conftest import Api

URL = re.compile(r"""(?:src|href|spec-url)=["']([^"']+)["']|url:\s*['"]([^'"]+)['"]""")


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_pages_name_nothing_outside(api_embedded: Api, path: str) -> None:
    r = api_embedded.client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    # No scheme at all: neither a CDN nor Google Fonts nor FastAPI's favicon.
    assert "http://" not in page and "https://" not in page and "//cdn" not in page
    loaded = [a or b for a, b in URL.findall(page)]
    assert f"{API_PREFIX}/openapi.json" in loaded
    assets = [u for u in loaded if u.startswith("/static/")]
    assert assets, loaded
    for asset in assets:
        got = api_embedded.client.get(asset)
        assert got.status_code == 200 and len(got.content) > 10_000, asset
    assert all(u.startswith(("/", "data:")) for u in loaded), loaded


def test_swagger_ui_asks_no_outside_validator(api_embedded: Api) -> None:
    assert '"validatorUrl": null' in api_embedded.client.get("/docs").text


def test_the_openapi_document_lists_no_docs_route(api_embedded: Api) -> None:
    paths = api_embedded.client.get(f"{API_PREFIX}/openapi.json").json()["paths"]
    assert not any(p in paths for p in ("/docs", "/redoc"))
