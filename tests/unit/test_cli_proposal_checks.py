"""``cmdb proposal show`` says which edits the live graph no longer allows, with why, and
numbers each edit as remove-edit takes it (issue 17); the same check REST and GraphQL
answer (cmdb/app/proposal_check.py)."""

from __future__ import annotations

from tests.unit.test_cli import Run, js
from tests.unit.test_cli_proposal import run  # noqa: F401 (the fixture)

RFC = "RFC-2026-0101"


def test_show_says_which_edits_no_longer_hold(run: Run) -> None:  # noqa: F811
    run("sample", "load", "--no-history")
    run("ci", "add", "--class", "Server", "--name", "srv-chk")
    run("change", "create", RFC, "--title", "owner", "--ci", "srv-chk")
    run("proposal", "create", RFC)
    run("proposal", "add-edit", RFC, "update-ci", "--ci", "srv-chk", "--set", "owner=Ops")
    run("proposal", "add-edit", RFC, "update-ci", "--ci", "srv-03", "--set", "owner=Ops")
    assert "no longer holds" not in run("proposal", "show", RFC).stdout
    run("ci", "retire", "srv-chk")
    shown = run("proposal", "show", RFC).stdout
    lines = [x.strip() for x in shown.splitlines()]
    at = next(i for i, x in enumerate(lines) if x.startswith("[0] update srv-chk"))
    assert lines[at + 1] == "no longer holds: srv-chk has been retired since (withdrawn)"
    assert lines[at + 2].startswith("[1] update srv-03")
    assert shown.count("no longer holds") == 1
    # The JSON carries the same, and each edit's index.
    got = js(run("proposal", "show", RFC, "--json"))
    assert [(e["index"], e["validity"]["holds"]) for e in got["edits"]] == [(0, False), (1, True)]
