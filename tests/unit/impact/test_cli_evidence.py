"""``cmdb sample load`` brings a year of history, and ``cmdb impact availability`` /
``recovery`` say what each figure rests on (issue 14 items 1, 2 and 4)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from typer.testing import CliRunner, Result

from cmdb.cli import data, main
from cmdb.cli._common import CliGroup
from cmdb.cli.impact import impact_app

Run = Callable[..., Result]

root = typer.Typer(cls=CliGroup)
root.callback()(main)
root.add_typer(impact_app, name="impact")
root.add_typer(data.sample_app, name="sample")
BOOKING = "Online Ferry Booking"


@pytest.fixture
def run(tmp_path: Path) -> Run:
    runner = CliRunner()
    env = {"CMDB_STORE": "embedded", "CMDB_ACTOR": "tester", "COLUMNS": "250"}

    def invoke(*args: str, db: str = "cli.db") -> Result:
        result = runner.invoke(root, ["--db", str(tmp_path / db), *args], env=env)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result

    return invoke


def js(result: Result) -> Any:
    return orjson.loads(result.stdout)


def test_the_sample_loads_with_a_year_of_history_once(run: Run) -> None:
    first = run("sample", "load").stdout
    assert "a year of history: 37 incidents, 58 changes, 2 known errors (97 written now)" in first
    again = js(run("sample", "load", "--json"))
    assert again["created"] == 0 and again["history"]["written"] == 0
    bare = js(run("sample", "load", "--no-history", "--json", db="bare.db"))
    assert "history" not in bare and bare["created"] > 0


def test_availability_and_recovery_show_their_evidence(run: Run) -> None:
    run("sample", "load")
    shown = run("impact", "availability", BOOKING).stdout.splitlines()
    assert shown[0].startswith(f"{BOOKING}: expected availability ")
    assert (
        shown[1] == "from its components: 17 observed over 12 months, 0 declared, 9 class defaults"
    )
    assert shown[2].startswith("its own record: ") and "(32 outages, 2376 min over 12" in shown[2]
    assert "(observed)" in shown[3] and "mean outage: mean of the service's recorded" in shown[4]
    srv = next(line for line in shown if "srv-01" in line)
    assert "observed" in srv and "2 outages, 522 min down over 12 months" in srv
    doc = js(run("impact", "availability", BOOKING, "--json"))
    assert doc["evidence"]["observed"] == 17 and doc["warning"] is None

    plan = run("impact", "recovery", BOOKING).stdout
    assert "services back: Card Payments +" in plan and "Online Ferry Booking +" in plan
    assert "repair times: 16 from records or declared values, 6 class defaults" in plan
    assert " ? " not in plan and "unknown" not in plan
    row = next(line for line in plan.splitlines() if "│ srv-01" in line)
    assert "261 min" in row and "observed: mean of 2 recorded repairs over 12 months" in row


def test_without_history_the_warning_comes_first(run: Run) -> None:
    run("sample", "load", "--no-history")
    shown = run("impact", "availability", BOOKING).stdout.splitlines()
    assert shown[0].startswith("warning: this availability rests mostly on class defaults")
    plan = run("impact", "recovery", BOOKING).stdout.splitlines()
    assert plan[0].startswith("warning: this plan rests mostly on class defaults")
    assert "default for Server" in next(line for line in plan if "│ srv-01" in line)
