"""``cmdb proposal`` against a temporary embedded store holding the sample estate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from cmdb.cli import app
from tests.unit.test_cli import Run, fails, js


@pytest.fixture
def run(tmp_path: Path) -> Run:
    env = {"CMDB_STORE": "embedded", "CMDB_ACTOR": "tester", "COLUMNS": "200"}

    def invoke(*args: str, ok: bool = True) -> Result:
        got = CliRunner().invoke(app, ["--db", str(tmp_path / "cli.db"), *args], env=env)
        if ok:
            assert got.exit_code == 0, (got.stdout, got.stderr, got.exception)
        return got

    return invoke


RFC = "RFC-2026-0100"


def _edits() -> list[dict[str, Any]]:
    pair = "bookings-db-pair"
    return [
        {"op": "add_ci", "ci": {"class": "Database", "name": "bookings-db-standby"}},
        {"op": "add_ci", "ci": {"class": "Cluster", "name": pair, "redundancy": {"min_up": 1}}},
        {"op": "add_rel", "type": "MEMBER_OF", "source_id": "bookings-db", "target_id": pair},
        {"op": "add_rel", "type": "MEMBER_OF", "source_id": "bookings-db-standby",
         "target_id": pair},
        *[
            {"op": op, "type": "DEPENDS_ON", "source_id": f"booking-engine-{n}", "target_id": t}
            for n in (1, 2)
            for op, t in (("add_rel", pair), ("retire_rel", "bookings-db"))
        ],
    ]  # fmt: skip


def test_stage_show_diff_and_withdraw(run: Run, tmp_path: Path) -> None:
    run("sample", "load", "--no-history")
    run("change", "create", RFC, "--title", "standby for bookings-db", "--ci", "bookings-db")
    edits = tmp_path / "edits.json"
    edits.write_text(json.dumps(_edits()))
    made = js(run("proposal", "create", RFC, "--file", str(edits), "--json"))
    assert (made["version"], len(made["edits"])) == (1, 8)

    # Edit by edit; a bad one is refused on one line, saying which and why.
    one = run("proposal", "add-edit", RFC, "update-ci", "--ci", "bookings-db", "--set", "owner=DBA")
    assert "[8] update " in one.stdout and "owner" in one.stdout
    bad = run(
        "proposal", "add-edit", RFC, "add-rel", "--type", "SERVES", "--source", "bookings-db",
        "--target", "srv-01", ok=False,
    )  # fmt: skip
    fails(bad, "edits[9]", "SERVES", "is not allowed from a Database", "nothing saved")
    assert len(js(run("proposal", "show", RFC, "--json"))["edits"]) == 9
    assert len(js(run("proposal", "show", RFC, "--version", "1", "--json"))["edits"]) == 8

    table = run("proposal", "diff", RFC).stdout
    assert "Online Ferry Booking" in table and "vol-bookings-data" in table
    got = js(run("proposal", "diff", RFC, "--json"))
    booking = next(s for s in got["services"] if s["name"] == "Online Ferry Booking")
    assert "bookings-db" in {x["name"] for x in booking["spofs_removed"]}
    assert booking["availability_after"]["value"] > booking["availability_before"]["value"]

    removed = run("proposal", "remove-edit", RFC, "8").stdout
    assert "version 3" in removed
    fails(run("proposal", "remove-edit", RFC, "0", ok=False), "without edit 0", "no longer hold")
    assert "withdrew proposal" in run("proposal", "withdraw", RFC).stdout
    listed = run("proposal", "list").stdout
    assert RFC in listed and "withdrawn" in listed
    fails(run("proposal", "show", "RFC-NONE", ok=False), "no change")
