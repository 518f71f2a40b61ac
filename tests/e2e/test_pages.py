"""The service desk's pages in headless Chromium, on the sample estate: the landing page
(/ui), a CI's page (/ui/ci/srv-01: provenance, relationships, the as-of slider, "what if
this fails" and its link to the map), a change's page (/ui/changes/{id}), and the API docs
(/docs, /redoc) on local assets. Screenshots are kept in tests/e2e/artifacts/; every
request a page makes stays on 127.0.0.1, and no page logs an error."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ARTIFACTS, Server
from tests.e2e.test_impact_map import assert_local_only

BOOKING = "Online Ferry Booking"
APP_API = "Boarding Pass App API"
IDENTITY = "Identity & Sign-in"


class Page:
    """A browser page with the requests it made and the errors it logged."""

    def __init__(self, browser: Any, server: Server) -> None:
        self.server = server
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.problems: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        # A failed load names its URL, so a test can allow the one refusal it expects.
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text} at {m.location.get('url')}")
                if m.type == "error"
                else None
            ),
        )

    def allow_refused(self, url_part: str) -> None:
        """Forget the console's note of a refused API read whose URL holds ``url_part``:
        the API's answer (e.g. 404 for an RFC without a proposal), not a page fault."""
        self.problems = [
            p
            for p in self.problems
            if not ("Failed to load resource" in p and url_part in p.rsplit(" at ", 1)[-1])
        ]

    def open(self, path: str) -> Any:
        self.page.goto(f"{self.server.url}{path}")
        self.page.wait_for_selector("body[data-ready=yes]")
        return self.page

    def finish(self, shot: str, *, full_page: bool = True) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        # Generous: a loaded CI machine renders a long page slowly.
        self.page.screenshot(path=str(ARTIFACTS / shot), full_page=full_page, timeout=90_000)
        assert not self.problems, self.problems
        # A blob: or data: URL is made in the page (ReDoc's worker), not fetched from anywhere.
        assert_local_only([u for u in self.requests if not u.startswith(("blob:", "data:"))])


@pytest.fixture
def tab(browser: Any, local_dev_server: Server) -> Iterator[Page]:
    p = Page(browser, local_dev_server)
    try:
        yield p
    finally:
        p.context.close()


def api(server: Server) -> httpx.Client:
    return httpx.Client(base_url=f"{server.url}/api/v1", timeout=30)


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_api_docs_load_only_local_assets(tab: Page) -> None:
    page = tab.page
    page.goto(f"{tab.server.url}/docs")
    # Swagger UI drew the operations from the OpenAPI document.
    page.wait_for_selector("#operations-services-servicesStatus", timeout=20_000)
    assert page.locator(".opblock").count() > 40
    # The API documents run to thousands of pixels: their first screen is the artifact.
    tab.finish("docs-swagger.png", full_page=False)
    assert any(u.endswith("/static/vendor/swagger-ui-bundle.js") for u in tab.requests)

    tab.requests.clear()
    page.goto(f"{tab.server.url}/redoc")
    page.wait_for_selector(".api-content h1", timeout=30_000)
    assert page.locator(".api-content h1").first.inner_text().startswith("graph-cmdb")
    # The menu lists every operation (collapsed tags hide the entries, so count, not see).
    page.get_by_text("Services Status").first.wait_for(state="attached")
    tab.finish("docs-redoc.png", full_page=False)
    assert any(u.endswith("/static/vendor/redoc.standalone.js") for u in tab.requests)


def test_a_ci_page_shows_provenance_relationships_history_and_what_if(tab: Page) -> None:
    server = tab.server
    with api(server) as client:
        r = client.patch("/cis/srv-01", json={"status": "under_change", "owner": "Night Ops"})
        assert r.status_code == 200, r.text
    page = tab.open("/ui/ci/srv-01")
    assert page.locator("#ci-name").inner_text() == "srv-01"
    assert page.locator("#ci-class").inner_text() == "Server"
    # Each attribute says which source set it: the edit through the API is "api".
    owner = page.locator("#attributes tr[data-field=owner]")
    assert "Night Ops" in owner.inner_text() and owner.get_attribute("data-source") == "api"
    assert page.locator("#attributes tr[data-source]:not([data-source=''])").count() >= 3
    # Relationships both ways: the two cluster VMs rest on it; it sits in a location.
    incoming = page.locator("#rel-in tr[data-type=HOSTED_ON]")
    assert set(incoming.evaluate_all("rs => rs.map(r => r.dataset.name)")) == {
        "vm-app-01",
        "vm-app-02",
    }
    assert page.locator("#rel-out tr[data-type=LOCATED_IN]").count() == 1

    # The slider's first stop: srv-01 as the sample loaded it, before the hand edit.
    assert page.locator("#history tbody tr").count() >= 2
    page.locator("#asof").fill("0")
    page.wait_for_function(
        "() => document.body.dataset.shown && document.body.dataset.shown !== 'now'"
    )
    page.wait_for_function("() => document.querySelector('#ci-status').textContent === 'live'")
    assert "Night Ops" not in page.locator("#attributes tr[data-field=owner]").inner_text()
    assert page.locator("#history tr.future").count() >= 1
    assert not page.locator("#asof-banner").is_hidden()
    page.click("#asof-now")
    page.wait_for_function("() => document.body.dataset.shown === 'now'")
    assert page.locator("#ci-status").inner_text() == "under change"

    # What if it fails: the three services the cluster carries go down; the map link asks it.
    page.click("#fail-it")
    page.wait_for_selector("body[data-whatif=done]")
    down = page.locator("#whatif-services li[data-severity=down]")
    assert set(down.evaluate_all("ls => ls.map(l => l.dataset.name)")) == {
        BOOKING,
        APP_API,
        IDENTITY,
    }
    tab.finish("ci-srv-01.png")

    page.click("#whatif-map")
    page.wait_for_selector("body[data-impact=done]", timeout=20_000)
    assert page.locator("#failing li").all_inner_texts() == ["srv-01"]
    services = page.locator("#impacted li.service")
    assert {BOOKING, APP_API, IDENTITY} <= set(
        services.evaluate_all("ls => ls.map(l => l.dataset.name)")
    )
    tab.finish("map-from-ci-page.png")
    with api(server) as client:
        client.patch("/cis/srv-01", json={"status": "live"}).raise_for_status()


def test_the_landing_page_and_a_change_page(tab: Page) -> None:
    server = tab.server
    start = (datetime.now(UTC) + timedelta(days=2)).replace(hour=10, minute=0, second=0)
    with api(server) as client:
        r = client.post(
            "/changes",
            json={
                "id": "RFC-E2E",
                "title": "Firmware on srv-01",
                "cis": ["srv-01"],
                "planned_start": iso(start),
                "planned_end": iso(start + timedelta(minutes=45)),
                "reason": "BMC security fix",
            },
        )
        assert r.status_code == 201, r.text
        client.post("/changes/RFC-E2E/assess").raise_for_status()
        r = client.post(
            "/incidents", json={"id": "INC-E2E", "title": "bookings fail", "cis": ["bookings-db"]}
        )
        assert r.status_code == 201, r.text
        recorded = client.get("/changes/RFC-E2E").json()["risk"]

    page = tab.open("/ui")
    booking = page.locator(f"#services tr[data-name='{BOOKING}']")
    assert booking.get_attribute("data-state") == "down"
    assert "INC-E2E" in booking.inner_text()
    assert "min" in booking.locator("td.budget").inner_text()
    states = page.locator("#services tr.service").evaluate_all("rs => rs.map(r => r.dataset.state)")
    assert states[0] == "down" and len(states) == 5
    assert states == sorted(states, key=["down", "degraded", "ok"].index)
    change = page.locator("#changes tr[data-id=RFC-E2E]")
    assert recorded["risk_class"].replace("_", " ") in change.inner_text()
    assert "%" in page.locator("#kpi-complete").inner_text()
    tab.finish("landing.png")

    change.locator("a").first.click()
    page.wait_for_selector("body[data-ready=yes]")
    assert page.url.endswith("/ui/changes/RFC-E2E")
    assert page.locator("#rfc-id").inner_text() == "RFC-E2E"
    assert recorded["why"] in page.locator("#risk-recorded").inner_text()
    assert page.locator("#risk-rules tbody tr").count() >= 3
    assert page.locator("#services li.service").count() >= 1
    # No what-if proposal on this RFC: the page says so (the API's 404 is that answer).
    assert page.locator("#proposal").get_attribute("data-state") == "none"
    tab.allow_refused("/changes/RFC-E2E/proposal")
    tab.finish("change.png")
