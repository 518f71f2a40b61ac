"""``cmdb impact ...`` against a temporary embedded store holding the sample estate.

The commands are mounted on a root app built from the main CLI's own callback, so the test
does not depend on where the main CLI registers the sub-app.
"""

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


@pytest.fixture
def run(tmp_path: Path) -> Run:
    runner = CliRunner()
    env = {"CMDB_STORE": "embedded", "CMDB_ACTOR": "tester", "COLUMNS": "250"}
    db = tmp_path / "cli.db"

    def invoke(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(root, ["--db", str(db), *args], env=env)
        if ok:
            assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result

    invoke("sample", "load")
    return invoke


def js(result: Result) -> Any:
    return orjson.loads(result.stdout)


WINDOW = ("--start", "2030-03-12T10:00:00Z", "--end", "2030-03-12T10:45:00Z")


def test_change_json_and_table(run: Run) -> None:
    out = js(run("impact", "change", "--ci", "srv-01", *WINDOW, "--json"))
    sev = {s["name"]: s["severity"] for s in out["services"]}
    assert sev == {
        "Online Ferry Booking": "down",
        "Boarding Pass App API": "down",
        "Identity & Sign-in": "down",
    }
    booking = next(s for s in out["services"] if s["name"] == "Online Ferry Booking")
    assert (
        booking["window"]["minutes_in_hours"] == 45 and booking["window"]["scheduled_interruption"]
    )
    assert booking["paths"][0]["ci_ids"][0] == out["failed"][0]["id"]
    assert out["score"] == max(s["score"]["value"] for s in out["services"])
    table = run("impact", "change", "--ci", "serial=IBX7-40117", *WINDOW).stdout
    for text in (
        "impacted services",
        "Online Ferry Booking",
        "down",
        "srv-01 ->",
        "1 store call(s), walk",
    ):
        assert text in table
    everything = run(
        "impact", "change", "--ci", "vm-app-03", *WINDOW, "--all", "--fetch", "one-call"
    ).stdout
    assert "redundancy reduced" in everything and "1 store call(s), one-call" in everything


def test_the_table_lists_each_quorum_on_the_paths_once(run: Run) -> None:
    out = js(run("impact", "change", "--ci", "srv-01", *WINDOW, "--json"))
    quorum = (
        "harbour-app-cluster: 2 of 3 members needed, 1 left (vm-app-01, vm-app-02 down):"
        " below quorum"
    )
    for s in out["services"]:
        path = s["paths"][0]
        assert path["text"].endswith(
            "; " + "; ".join(n["text"] for n in path["groups"])
        ) and quorum in [n["text"] for n in path["groups"]]
    # Booking Web's replicas are on the paths the answer gives (which path a service's
    # table row shows first ties on length, and ties go by CI id: random per load).
    notes = {n["text"] for s in out["services"] for p in s["paths"] for n in p["groups"]}
    assert any(t.startswith("Booking Web: 1 of 2 replicas needed, 0 left") for t in notes)
    table = run("impact", "change", "--ci", "srv-01", *WINDOW).stdout
    below = table.split("on these paths:\n", 1)[1]
    assert below.count(quorum) == 1 and quorum not in table.split("on these paths:")[0]


def test_incident_spof_availability_cause_recovery(run: Run) -> None:
    inc = js(run("impact", "incident", "--ci", "bookings-db", "--json"))
    assert {s["name"] for s in inc["services"]} == {"Online Ferry Booking", "Boarding Pass App API"}
    assert all(s["incident"] is not None for s in inc["services"])
    spof = js(run("impact", "spof", "Online Ferry Booking", "--json"))
    assert "bookings-db" in {s["name"] for s in spof["spofs"]}
    assert "harbour-app-cluster" in run("impact", "spof", "Online Ferry Booking").stdout
    avail = js(run("impact", "availability", "Online Ferry Booking", "--json"))
    assert avail["exact"] and 0.99 < avail["availability"] < 1
    assert "P(breach)" in run("impact", "availability", "Online Ferry Booking").stdout
    cause = js(
        run(
            "impact",
            "cause",
            "--ci",
            "Online Ferry Booking",
            "--ci",
            "Boarding Pass App API",
            "--json",
        )
    )
    assert cause["candidates"][0]["explained"] == 2
    assert "likely common causes" in run("impact", "cause", "--ci", "Online Ferry Booking").stdout
    plan = js(run("impact", "recovery", "Online Ferry Booking", "--json"))
    assert plan["steps"][-1]["name"] == "Online Ferry Booking"
    assert "recovery order" in run("impact", "recovery", "Online Ferry Booking").stdout


def test_as_of_is_passed_to_the_store(run: Run) -> None:
    bad = run("impact", "spof", "Online Ferry Booking", "--as-of", "2001-01-01T00:00:00Z", ok=False)
    assert bad.exit_code == 2 and "no CI" in bad.stderr
    now = js(
        run("impact", "spof", "Online Ferry Booking", "--as-of", "2100-01-01T00:00:00Z", "--json")
    )
    assert now["spofs"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("impact", "spof", "srv-01"), "is not a Service"),
        (("impact", "change", "--ci", "nope", *WINDOW), "no CI with name 'nope'"),
        (("impact", "change", "--ci", "srv-01", "--start", "soon", "--end", "later"), "--start"),
        (
            ("impact", "change", "--ci", "srv-01", "--start", WINDOW[3], "--end", WINDOW[1]),
            "must end after",
        ),
        (("impact", "change", "--ci", "srv-01", *WINDOW, "--fetch", "two"), "--fetch"),
    ],
)
def test_errors_are_one_line(run: Run, args: tuple[str, ...], needle: str) -> None:
    result = run(*args, ok=False)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    err = result.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and needle in err, err
