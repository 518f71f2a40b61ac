"""The impact map (/ui/map) in headless Chromium: find a service, fail a host, see the services
it takes down coloured by severity with their explaining paths, and a screenshot kept in
tests/e2e/artifacts/. Every request the page makes stays on 127.0.0.1."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.e2e.conftest import ARTIFACTS, Server, viewer_token

BOOKING = "Online Ferry Booking"
APP_API = "Boarding Pass App API"
IDENTITY = "Identity & Sign-in"


def open_page(browser: Any, server: Server) -> tuple[Any, Any, list[str], list[str]]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.goto(f"{server.url}/ui/map")
    page.wait_for_selector("body[data-ready=yes]")
    return context, page, requests, problems


def search_and_pick(page: Any, text: str, name: str) -> Any:
    page.fill("#search", text)
    page.click("#search-form button[type=submit]")
    item = page.locator(f"#search-results li.result[data-name='{name}']")
    item.wait_for()
    return item


def node_ids_with(page: Any, cls: str) -> set[str]:
    return set(page.evaluate(f"() => impactMap.cy.nodes('.{cls}').map(n => n.data('name'))"))


def assert_local_only(requests: list[str]) -> None:
    assert requests, "the page made no requests"
    outside = [u for u in requests if urlsplit(u).hostname != "127.0.0.1"]
    assert not outside, outside


def test_impact_map_in_local_development_mode(browser: Any, local_dev_server: Server) -> None:
    context, page, requests, problems = open_page(browser, local_dev_server)
    try:
        page.wait_for_function(
            "() => document.querySelector('#mode-note').textContent.includes('LOCAL DEVELOPMENT')"
        )
        # Find the booking service and draw its neighbourhood.
        search_and_pick(page, "Online Ferry", BOOKING).click()
        page.wait_for_function("() => impactMap.cy.nodes().length > 5")
        drawn = set(page.evaluate("() => impactMap.cy.nodes().map(n => n.data('name'))"))
        assert {BOOKING, "Booking Web", "Booking Engine", IDENTITY} <= drawn

        # Pick srv-01 to fail (from the search), and click a drawn node to pick and unpick it.
        search_and_pick(page, "srv-0", "srv-01").locator("button.fail").click()
        page.wait_for_selector("#failing li")
        box = page.locator("#cy").bounding_box()
        pos = page.evaluate(
            "() => impactMap.cy.nodes().filter(n => n.data('name') === 'Booking Web')"
            "[0].renderedPosition()"
        )
        page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
        page.wait_for_function("() => document.querySelectorAll('#failing li').length === 2")
        page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
        page.wait_for_function("() => document.querySelectorAll('#failing li').length === 1")
        assert page.locator("#failing li").all_inner_texts() == ["srv-01"]

        # A planned change in a known window: the CLI's answer on the sample estate.
        page.fill("#start", "2030-03-12T10:00")
        page.fill("#end", "2030-03-12T10:45")
        page.click("#run")
        page.wait_for_selector("body[data-impact=done]")
        services = page.locator("#impacted li.service")
        got = {
            services.nth(i).get_attribute("data-name"): services.nth(i).get_attribute(
                "data-severity"
            )
            for i in range(services.count())
        }
        assert got == {BOOKING: "down", APP_API: "down", IDENTITY: "down"}
        for name in got:
            classes = page.locator(f"#impacted li[data-name='{name}']").get_attribute("class")
            assert "sev-down" in (classes or "")
        booking = page.locator(f"#impacted li[data-name='{BOOKING}']")
        assert "45 min of service hours" in booking.inner_text()
        assert "scheduled interruption" in booking.inner_text()

        # The map: the services (pulled in along their paths) are red, srv-01 is the failing
        # one, and the selected service's explaining path is highlighted from srv-01 to it.
        assert {BOOKING, APP_API, IDENTITY} <= node_ids_with(page, "sev-down")
        assert "srv-01" in node_ids_with(page, "failing")
        booking.click()
        on_path = node_ids_with(page, "on-path")
        assert {"srv-01", "harbour-app-cluster", BOOKING} <= on_path
        assert page.evaluate("() => impactMap.cy.edges('.on-path').length") >= 3

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "impact-map.png"), full_page=True)
        assert not problems, problems
        assert_local_only(requests)
        assert any(u.endswith("/static/vendor/cytoscape.min.js") for u in requests)
    finally:
        context.close()


def test_impact_map_with_a_token(browser: Any, token_server: Server) -> None:
    context, page, requests, problems = open_page(browser, token_server)
    try:
        page.wait_for_function(
            "() => document.querySelector('#mode-note').textContent.includes('token is needed')"
        )
        problems.clear()  # the page's first look, without a token, was a 401: expected
        page.fill("#token", viewer_token(token_server))
        page.click("#token-form button[type=submit]")
        page.wait_for_function(
            "() => document.querySelector('#mode-note').textContent.includes('using the token')"
        )
        assert page.evaluate("() => sessionStorage.getItem('cmdb.token')").startswith("cmdb_")
        # An incident on the bookings database: both customer-facing services go down.
        search_and_pick(page, "bookings", "bookings-db").locator("button.fail").click()
        page.check("input[name=question][value=incident]")
        page.click("#run")
        page.wait_for_selector("body[data-impact=done]")
        down = page.locator("#impacted li.sev-down")
        assert set(down.evaluate_all("ls => ls.map(l => l.dataset.name)")) == {BOOKING, APP_API}
        sla = page.locator(f"#impacted li[data-name='{BOOKING}'] .sla").inner_text()
        assert "budget" in sla or "breach" in sla.lower(), sla
        page.screenshot(path=str(ARTIFACTS / "impact-map-incident.png"), full_page=True)
        assert not problems, problems
        assert_local_only(requests)
    finally:
        context.close()
