"""The change page numbers a proposal's edits as the API does (issue 17): where a token
scoped to services is shown only some edits, each keeps its index in the whole proposal
(the number remove-edit takes), instead of being numbered 0..n on the page."""

from __future__ import annotations

import json
from typing import Any

from cmdb.auth.roles import Role
from tests.e2e.conftest import Server
from tests.e2e.test_change_proposal import REPOINT, STANDBY_FILE, client, created
from tests.e2e.test_pages import Page

RFC = "RFC-E2E-INDEX"


def test_a_scoped_token_sees_edits_numbered_as_in_the_whole_proposal(
    browser: Any, token_server: Server
) -> None:
    admin, _ = token_server.tokens.create("e2e-index-admin", Role.ADMIN)
    with client(token_server, admin) as api:
        # The RFC names srv-01 too: Identity & Sign-in (on srv-01's cluster) reads it.
        rfc = {"id": RFC, "title": "Standby pair", "cis": ["bookings-db", "srv-01"]}
        created(api.post("/changes", json=rfc))
        edits = [*json.loads(STANDBY_FILE.read_text()), *REPOINT]
        created(api.post(f"/changes/{RFC}/proposal", json={"edits": edits}))
        identity = created(api.get("/cis/Identity & Sign-in"), 200)["id"]
    scoped, _ = token_server.tokens.create("e2e-index-identity", Role.VIEWER, services=[identity])
    with client(token_server, scoped) as api:
        shown = created(api.get(f"/changes/{RFC}/proposal"), 200)["edits"]
    want = [e["index"] for e in shown]
    assert 0 < len(want) < len(edits) and want != list(range(len(want)))

    tab = Page(browser, token_server)
    try:
        page = tab.open(f"/ui/changes/{RFC}")
        page.fill("#token", scoped)
        page.click("#token-form button[type=submit]")
        page.wait_for_selector("#proposal[data-state=shown]")
        items = page.locator("#proposal-edits li.edit")
        assert items.evaluate_all("ls => ls.map(l => Number(l.dataset.index))") == want
        assert f"{len(want)} in this token's view, of {len(edits)}" in (
            page.locator("#proposal-facts").inner_text()
        )
        # The refusals before the token was given (401) are the API's answers.
        tab.allow_refused(f"/changes/{RFC}")
        tab.allow_refused("/auth/whoami")
        tab.finish("change-proposal-indexes.png")
    finally:
        tab.context.close()


def test_the_recorded_risk_names_the_proposal_version_it_judged(
    browser: Any, token_server: Server
) -> None:
    admin, _ = token_server.tokens.create("e2e-risk-admin", Role.ADMIN)
    rfc = "RFC-E2E-RISKV"
    with client(token_server, admin) as api:
        created(api.post("/changes", json={"id": rfc, "title": "Owner", "cis": ["srv-03"]}))
        edit = {"op": "update_ci", "ci_id": "srv-03", "fields": {"owner": "Harbour Ops"}}
        created(api.post(f"/changes/{rfc}/proposal", json={"edits": [edit]}))
        created(api.post(f"/changes/{rfc}/proposal/edits", json={"edits": [edit]}), 200)
        risk = created(api.post(f"/changes/{rfc}/assess"), 200)["change"]["risk"]
    assert risk["proposal_version"] == 2
    tab = Page(browser, token_server)
    try:
        page = tab.open(f"/ui/changes/{rfc}")
        page.fill("#token", admin)
        page.click("#token-form button[type=submit]")
        page.wait_for_selector("#risk-recorded")
        assert "on what-if proposal v2" in page.locator("#risk-recorded").inner_text()
        tab.allow_refused(f"/changes/{rfc}")
        tab.allow_refused("/auth/whoami")
        tab.finish("change-risk-proposal-version.png")
    finally:
        tab.context.close()
