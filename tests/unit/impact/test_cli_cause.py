"""``cmdb impact cause`` on the demo ``cmdb sample load`` gives (its history and the planted
scenario placed relative to now): the planted release first, with the evidence that put
it there, and the ties among the rest told."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.unit.impact.test_cli_impact import Run, js, root, run  # noqa: F401 (the fixture)

ASKED = ("impact", "cause", "--ci", "Online Ferry Booking", "--ci", "Boarding Pass App API")


def test_the_table_says_why_each_candidate_is_where_it_is(run: Run) -> None:  # noqa: F811
    out = run(*ASKED, "--top", "12").stdout
    assert out.startswith("changes weighed against the first symptom, ")
    first = out.splitlines()[0]
    assert first.endswith(")") and "INC-" in first and "08871" in first and "08872" in first
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert (
        rows[0].split("│")[1].strip() == "1" and rows[0].split("│")[2].strip() == "Booking Engine"
    )
    assert "ended 15 min before the first symptom (weight 0.99)" in " ".join(
        r.split("│")[6].strip() for r in rows[:3]
    )
    assert (
        "tie: same evidence as" in out and "no change in the 24 h before the first symptom" in out
    )


def test_the_json_carries_the_evidence(run: Run) -> None:  # noqa: F811
    got = js(run(*ASKED, "--json"))
    assert len(got["symptom_incidents"]) == 2
    top, rest = got["candidates"][0], got["candidates"][1:]
    assert top["name"] == "Booking Engine" and top["recency"] == pytest.approx(0.99)
    assert top["changes"][0]["kind"] == "change" and top["changes"][0]["ref"].endswith("-0871")
    assert all(c["recency"] == 0 for c in rest)  # the load is no change
    assert [c["rank"] for c in got["candidates"]] == list(range(1, 11))


def test_without_the_planted_records_the_load_is_still_no_change(tmp_path: Path) -> None:
    db = tmp_path / "bare.db"
    env = {"CMDB_STORE": "embedded", "CMDB_ACTOR": "tester", "COLUMNS": "250"}
    runner = CliRunner()
    assert (
        runner.invoke(root, ["--db", str(db), "sample", "load", "--no-history"], env=env).exit_code
        == 0
    )
    got = js(runner.invoke(root, ["--db", str(db), *ASKED, "--json"], env=env))
    assert got["symptom_incidents"] == []
    out = runner.invoke(root, ["--db", str(db), *ASKED], env=env).stdout
    assert out.startswith("no open incident names them: changes weighed against now")
    # Every candidate equal on evidence: each says what broke its tie.
    assert all(c["score"] == 2 and c["tie_break"] for c in got["candidates"])
