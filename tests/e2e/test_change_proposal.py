"""The change page's what-if proposal (issue 17, item 4) in headless Chromium, against a
real server with the sample estate: RFC-E2E-17 moves bookings-db to a standby pair
(docs/examples/standby-pair.json, then the booking engine's instances re-pointed at the
pair, as the guide does), and the page shows its versions, the graph diff (added, retired
and changed elements each in their own style, with a legend) and the per-service table
with the numbers tests/api/test_proposals_api.py checks; then the empty state (an RFC with
no proposal), an edit the live graph no longer allows, and the API refusing a token out
of scope. One page load per test where the test allows it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from cmdb.auth.roles import Role
from tests.e2e.conftest import Server
from tests.e2e.test_pages import Page, iso

ROOT = Path(__file__).resolve().parents[2]
STANDBY_FILE = ROOT / "docs" / "examples" / "standby-pair.json"
RFC = "RFC-E2E-17"
BOOKING = "Online Ferry Booking"
# The booking engine's two instances depend on the pair instead of on bookings-db.
REPOINT = [
    {"op": op, "type": "DEPENDS_ON", "source_id": f"booking-engine-{n}", "target_id": target}
    for n in (1, 2)
    for op, target in (("add_rel", "bookings-db-pair"), ("retire_rel", "bookings-db"))
]


def client(server: Server, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=f"{server.url}/api/v1", headers=headers, timeout=60)


def created(r: httpx.Response, status: int = 201) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def stage_standby(api: httpx.Client, cis: tuple[str, ...] = ("bookings-db",)) -> None:
    created(api.post("/changes", json={"id": RFC, "title": "Standby pair", "cis": list(cis)}))
    edits = json.loads(STANDBY_FILE.read_text())
    created(api.post(f"/changes/{RFC}/proposal", json={"edits": edits, "note": "the pair"}))
    created(api.post(f"/changes/{RFC}/proposal/edits", json={"edits": REPOINT}), 200)


@pytest.fixture(scope="module")
def estate(local_dev_server: Server) -> Server:
    with client(local_dev_server) as api:
        stage_standby(api)
        created(api.post("/changes", json={"id": "RFC-E2E-NONE", "title": "No plan", "cis": []}))
        # Another open proposal on bookings-db: a collision of RFC-E2E-17's.
        created(api.post("/changes", json={"id": "RFC-E2E-17B", "title": "Tune", "cis": []}))
        tune = {"op": "update_ci", "ci_id": "bookings-db", "fields": {"description": "tuned"}}
        created(api.post("/changes/RFC-E2E-17B/proposal", json={"edits": [tune]}))
    return local_dev_server


@pytest.fixture
def tab(browser: Any, estate: Server) -> Iterator[Page]:
    p = Page(browser, estate)
    try:
        yield p
    finally:
        p.context.close()


def graph(page: Any, selector: str) -> list[dict[str, Any]]:
    """The drawn elements a Cytoscape selector matches, with the style they were given."""
    return list(
        page.evaluate(
            """sel => window.cmdbProposal.graph().$(sel).map(x => ({
                name: x.data('name'), type: x.data('type'), kind: x.data('kind'),
                label: x.style('label'), line: x.isEdge() ? x.style('line-style') : null,
                border: x.isNode() ? x.style('border-style') : null,
                width: x.isEdge() ? parseFloat(x.style('width')) : null,
                source: x.isEdge() ? x.source().data('name') : null,
                target: x.isEdge() ? x.target().data('name') : null,
            }))""",
            selector,
        )
    )


def test_the_standby_pair_proposal_as_a_graph_diff_and_a_service_table(tab: Page) -> None:
    page = tab.open(f"/ui/changes/{RFC}")
    assert page.locator("#proposal").get_attribute("data-state") == "shown"
    # The latest of two versions is shown, and says so.
    assert page.locator("#proposal-version option").count() == 2
    assert page.locator("#proposal-which").get_attribute("data-version") == "2"
    assert "version 2 of 2 (the latest)" in page.locator("#proposal-which").inner_text()
    edits = page.locator("#proposal-edits li.edit")
    assert edits.count() == 11
    assert "add Cluster bookings-db-pair" in edits.nth(4).inner_text()
    assert "retire booking-engine-1 -[DEPENDS_ON]-> bookings-db" in edits.nth(8).inner_text()
    # A live CI an edit names links to its page (the keyboard's way into the graph).
    assert edits.nth(8).locator("a").all_inner_texts() == ["booking-engine-1", "bookings-db"]
    assert edits.nth(4).locator("a").count() == 0  # an added CI has no page yet

    # The table: booking's availability with its delta and evidence; the SPOFs.
    row = page.locator(f"#diff-table tr.service-diff[data-name='{BOOKING}']")
    avail = row.locator("td.avail")
    assert (avail.get_attribute("data-before"), avail.get_attribute("data-after")) == (
        "0.991727",
        "0.993760",
    )
    assert "0.991727 → 0.993760" in avail.inner_text()
    assert "+0.002033" in avail.locator(".delta").inner_text()
    assert "bookings-db" in row.locator("td.removed li").evaluate_all(
        "ls => ls.map(l => l.dataset.name)"
    )
    assert row.locator("td.introduced li").evaluate_all("ls => ls.map(l => l.dataset.name)") == [
        "bookings-db-pair"
    ]
    assert "27 → 24 SPOFs in all" in row.locator("td.removed .spof-count").inner_text()
    evidence = avail.locator("details.evidence")
    assert not evidence.locator("dl").is_visible()
    evidence.locator("summary").click()
    shown = evidence.inner_text()
    assert "class defaults" in shown and "bookings-db-standby" in shown
    assert "Freight Hauliers" in row.locator("td.who").inner_text()
    assert "Online Ferry Booking SLA (99.9%)" in row.locator("td.who").inner_text()
    assert "appearing" in row.locator("td.paths").inner_text()
    # Identity & Sign-in is reached but its cone is left as it is: listed, not a row.
    assert "Identity & Sign-in" in page.locator("#diff-unchanged").inner_text()
    assert page.locator("#diff-table tr[data-name='Identity & Sign-in']").count() == 0
    collision = page.locator("#proposal-collisions li[data-change=RFC-E2E-17B]")
    assert "bookings-db" in collision.inner_text()

    # The graph: the three added CIs and six added relationships, double borders and
    # solid thick lines marked "+"; the two retired relationships dashed, marked with a minus.
    added = graph(page, "node.added")
    assert {n["name"] for n in added} == {"vm-db-03", "bookings-db-standby", "bookings-db-pair"}
    assert all(n["border"] == "double" and "(added)" in n["label"] for n in added)
    new_edges = graph(page, "edge.added")
    assert sorted(e["type"] for e in new_edges) == sorted(
        ["HOSTED_ON", "RUNS_ON", "MEMBER_OF", "MEMBER_OF", "DEPENDS_ON", "DEPENDS_ON"]
    )
    assert all(
        e["line"] == "solid" and e["width"] > 3 and e["label"].startswith("+ ") for e in new_edges
    )
    retired = graph(page, "edge.retired")
    assert {(e["source"], e["target"], e["type"]) for e in retired} == {
        ("booking-engine-1", "bookings-db", "DEPENDS_ON"),
        ("booking-engine-2", "bookings-db", "DEPENDS_ON"),
    }
    assert all(e["line"] == "dashed" and "(retired)" in e["label"] for e in retired)
    assert graph(page, "node.changed") == []
    # The live neighbours are drawn plain: srv-01 (vm-db-03's host) and what it carries.
    plain = {n["name"] for n in graph(page, "node[kind = 'live']")}
    assert {"srv-01", "bookings-db", "vm-app-01"} <= plain
    legend = page.locator("#proposal-legend li[data-kind]")
    assert legend.evaluate_all("ls => ls.map(l => l.dataset.kind)") == [
        "added",
        "retired",
        "changed",
        "live",
    ]
    assert "dashed" in page.locator("#proposal-legend li[data-kind=retired]").inner_text()
    tab.finish("change-proposal.png")

    # An earlier version: the file alone (seven edits), the picker says which.
    page.select_option("#proposal-version", "1")
    page.wait_for_function(
        "() => document.querySelector('#proposal-which').dataset.version === '1'"
        " && document.body.dataset.proposal === 'shown'"
    )
    assert "an earlier one" in page.locator("#proposal-which").inner_text()
    assert page.locator("#proposal-edits li.edit").count() == 7
    assert graph(page, "edge.retired") == []

    # Clicking a live CI of the graph opens its page.
    at = page.evaluate(
        """() => {
            const cy = window.cmdbProposal.graph();
            const n = cy.nodes().filter(x => x.data('name') === 'srv-01')[0];
            const box = document.querySelector('#proposal-graph').getBoundingClientRect();
            const p = n.renderedPosition();
            return [box.left + p.x, box.top + p.y];
        }"""
    )
    page.mouse.click(at[0], at[1])
    page.wait_for_url(re.compile(r"/ui/ci/ci_"))
    page.wait_for_selector("body[data-ready=yes]")
    assert page.locator("#ci-name").inner_text() == "srv-01"


def test_an_rfc_without_a_proposal_says_so(tab: Page) -> None:
    page = tab.open("/ui/changes/RFC-E2E-NONE")
    section = page.locator("#proposal")
    assert section.get_attribute("data-state") == "none"
    text = page.locator("#proposal-status").inner_text()
    assert "RFC-E2E-NONE has no proposal" in text and "cmdb proposal create" in text
    assert page.locator("#proposal-body").is_hidden()
    # The API's 404 for the missing proposal is the answer, not a fault of the page.
    tab.allow_refused("/changes/RFC-E2E-NONE/proposal")
    tab.finish("change-no-proposal.png")


def test_edits_the_live_graph_moved_under_are_named(tab: Page) -> None:
    with client(tab.server) as api:
        ci = created(api.post("/cis", json={"class": "Server", "name": "srv-e2e-17"}))["ci"]
        created(api.post("/changes", json={"id": "RFC-E2E-STALE", "title": "Owner", "cis": []}))
        first = {"op": "update_ci", "ci_id": ci["id"], "fields": {"owner": "Night Ops"}}
        then = {"op": "update_ci", "ci_id": "srv-03", "fields": {"description": "rack 4"}}
        created(api.post("/changes/RFC-E2E-STALE/proposal", json={"edits": [first]}))
        created(api.post("/changes/RFC-E2E-STALE/proposal/edits", json={"edits": [then]}), 200)
        # Meanwhile the CI of edit 0 is retired, and srv-03's owner set, in the live graph.
        created(api.delete(f"/cis/{ci['id']}"), 200)
        created(api.patch("/cis/srv-03", json={"owner": "Harbour Ops"}), 200)
    # The address names a version that does not exist: the latest is shown, saying so.
    page = tab.open("/ui/changes/RFC-E2E-STALE?version=9")
    assert page.locator("#proposal").get_attribute("data-state") == "invalid"
    status = page.locator("#proposal-status").inner_text()
    assert "There is no version 9" in status and "the latest is shown" in status
    assert "2 of 2 edits conflict with the live graph" in status
    assert page.locator("#proposal-which").get_attribute("data-version") == "2"
    # The latest version: the API's conflicts (what would stop a merge), each with the
    # value then and now and who changed it, and both edits marked.
    conflicts = page.locator("#proposal-conflicts li.conflict")
    retired = conflicts.filter(has_text="srv-e2e-17")
    assert "retired since the edit was staged" in retired.inner_text()
    owner = page.locator("#proposal-conflicts li.conflict[data-field=owner]")
    assert owner.get_attribute("data-edit") == "1"
    said = owner.inner_text()
    assert "now Harbour Ops" in said and "by local-development via api" in said
    bad = page.locator("#proposal-edits li.invalid")
    assert bad.evaluate_all("ls => ls.map(l => l.dataset.index)") == ["0", "1"]
    # A changed field can be accepted by a rebase; a retired CI's edit only removed.
    assert "proposal rebase RFC-E2E-STALE" in bad.nth(1).inner_text()
    assert "proposal rebase" not in bad.nth(0).inner_text()
    assert "remove-edit RFC-E2E-STALE 0" in bad.nth(0).inner_text()
    # The changed CIs are drawn as changed (dotted).
    changed = graph(page, "node.changed")
    assert {n["name"] for n in changed} == {"srv-e2e-17", "srv-03"}
    assert all(n["border"] == "dotted" and "(changed)" in n["label"] for n in changed)
    tab.allow_refused("/changes/RFC-E2E-STALE/proposal?version=9")  # the API's answer
    tab.finish("change-proposal-conflicts.png")

    # An earlier version has no conflicts to ask for: what the live graph shows is said.
    page.select_option("#proposal-version", "1")
    page.wait_for_function("() => document.body.dataset.proposal === 'invalid'")
    assert page.locator("#proposal-which").get_attribute("data-version") == "1"
    assert page.locator("#proposal-conflicts").count() == 0
    bad = page.locator("#proposal-edits li.invalid")
    assert bad.count() == 1 and bad.get_attribute("data-index") == "0"
    assert "srv-e2e-17 has been retired since" in bad.inner_text()
    assert "remove-edit RFC-E2E-STALE 0" in bad.inner_text()
    assert "1 of 1 edits no longer hold" in page.locator("#proposal-status").inner_text()


def test_the_api_refusing_a_token_and_a_scoped_view_are_said(
    browser: Any, token_server: Server
) -> None:
    admin, _ = token_server.tokens.create("e2e-admin", Role.ADMIN)
    with client(token_server, admin) as api:
        # The RFC names srv-01 too: Identity & Sign-in (on srv-01's cluster) reads it.
        stage_standby(api, ("bookings-db", "srv-01"))
        card = created(api.get("/cis/Card Payments"), 200)["id"]
        identity = created(api.get("/cis/Identity & Sign-in"), 200)["id"]
    outside, _ = token_server.tokens.create("e2e-card", Role.VIEWER, services=[card])
    partial, _ = token_server.tokens.create("e2e-identity", Role.VIEWER, services=[identity])
    tab = Page(browser, token_server)

    def use(token: str) -> None:
        page.fill("#token", token)
        page.click("#token-form button[type=submit]")

    try:
        page = tab.open(f"/ui/changes/{RFC}")
        # No token: the API asks for one.
        assert page.locator("#proposal").get_attribute("data-state") == "refused"
        assert "needs a token" in page.locator("#proposal-status").inner_text()
        # A token scoped to a service this change does not touch: refused, and why.
        use(outside)
        page.wait_for_function(
            "() => document.querySelector('#proposal-status').textContent"
            ".includes('scope does not reach')"
        )
        text = page.locator("#proposal-status").inner_text()
        assert f"no change '{RFC}'" in text and "scoped to services" in text
        assert page.locator("#proposal-body").is_hidden()
        # A token whose scope reaches part of it: the edits in its view, and how many not.
        use(partial)
        page.wait_for_selector("#proposal[data-state=shown]")
        assert page.locator("#proposal-edits li.edit").count() == 6
        facts = page.locator("#proposal-facts").inner_text()
        assert "6 in this token's view, of 11" in facts
        assert "no answer for any service" in page.locator("#diff-status").inner_text()
        assert "Identity & Sign-in" in page.locator("#diff-unchanged").inner_text()
        # The refusals (401 with no token, then 404) are the API's answers.
        tab.allow_refused(f"/changes/{RFC}")
        tab.allow_refused("/auth/whoami")
        tab.finish("change-proposal-scoped.png")
    finally:
        tab.context.close()


def test_a_merged_proposal_says_so(tab: Page) -> None:
    start = (datetime.now(UTC) + timedelta(days=3)).replace(hour=10, minute=0, second=0)
    with client(tab.server) as api:
        ci = created(api.post("/cis", json={"class": "Server", "name": "srv-e2e-merge"}))["ci"]
        rfc = {"id": "RFC-E2E-MERGE", "title": "Rack", "cis": [ci["id"]]}
        created(api.post("/changes", json={**rfc, "reason": "move", "backout_plan": "move back"}))
        edit = {"op": "update_ci", "ci_id": ci["id"], "fields": {"description": "rack 9"}}
        created(api.post("/changes/RFC-E2E-MERGE/proposal", json={"edits": [edit]}))
        # Through the lifecycle to implemented, then merged.
        created(api.post("/changes/RFC-E2E-MERGE/assess"), 200)
        for step in ("authorised", "scheduled", "implemented"):
            body: dict[str, Any] = {"to": step}
            if step == "scheduled":
                end = start + timedelta(hours=1)
                body |= {"planned_start": iso(start), "planned_end": iso(end)}
            created(api.post("/changes/RFC-E2E-MERGE/transition", json=body), 200)
        created(api.post("/changes/RFC-E2E-MERGE/proposal/merge"), 200)
    page = tab.open("/ui/changes/RFC-E2E-MERGE")
    assert page.locator("#proposal").get_attribute("data-state") == "shown"
    assert page.locator("#proposal-state").inner_text() == "merged"
    assert "version 2 of 2" in page.locator("#proposal-which").inner_text()
    assert "into the live graph" in page.locator("#proposal-merged").inner_text()
    what = page.locator("#proposal-facts").inner_text()
    assert "merged (RFC-E2E-MERGE proposal v1)" in what and "1 updated" in what
    assert page.evaluate("() => window.cmdbProposal.graph().zoom()") <= 1.5
    # A merged proposal has nothing left to conflict with: none is asked.
    assert page.locator("#proposal-conflicts").count() == 0
    assert not any("/proposal/conflicts" in u for u in tab.requests)
    tab.finish("change-proposal-merged.png")
