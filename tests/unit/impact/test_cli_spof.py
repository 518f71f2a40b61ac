"""``cmdb impact spof``: the ranked report on the sample, the top 10 by default, --all,
--limit, and the errors naming the option."""

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
BOOKING = "Online Ferry Booking"

root = typer.Typer(cls=CliGroup)
root.callback()(main)
root.add_typer(impact_app, name="impact")
root.add_typer(data.sample_app, name="sample")


@pytest.fixture
def run(tmp_path: Path) -> Run:
    runner = CliRunner()
    env = {"CMDB_STORE": "embedded", "CMDB_ACTOR": "tester", "COLUMNS": "200"}
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


def test_the_ten_costliest_by_default_grouped_by_kind(run: Run) -> None:
    out = run("impact", "spof", BOOKING).stdout
    assert "27 of 36 CIs, the 10 costliest (17 left out: --all lists them)" in out
    assert "infrastructure (10 of 21, 11 more left out)" in out
    assert "supplier: 5 left out, the costliest Ironbridge Systems" in out
    assert "location: 1 left out, the costliest Gullhaven DC Hall 2" in out
    first = next(line for line in out.splitlines() if "srv-03" in line)
    assert "│ 1 " in first and "5 services, 3 customers" in first
    assert "a second host to fail over to" in first
    assert "Ironbridge Systems (Supplier)" not in out


def test_all_lists_every_kind(run: Run) -> None:
    out = run("impact", "spof", BOOKING, "--all").stdout
    assert "27 of 36 CIs" in out and "left out" not in out
    assert "supplier (5 of 5)" in out and "location (1 of 1)" in out
    hall = next(line for line in out.splitlines() if "Gullhaven DC Hall 2" in line)
    assert "a second site" in hall
    every = js(run("impact", "spof", BOOKING, "--all", "--json"))
    assert every["total"] == len(every["spofs"]) == 27 and every["left_out"] == 0


def test_limit_and_json(run: Run) -> None:
    got = js(run("impact", "spof", BOOKING, "--limit", "3", "--json"))
    assert [s["name"] for s in got["spofs"]] == ["srv-03", "payments-adapter-1", "srv-01"]
    assert got["total"] == 27 and got["left_out"] == 24
    first = got["spofs"][0]
    assert first["kind"] == "infrastructure" and first["cost"]["value"] > 0
    assert len(first["services_lost"]) == 5 and first["failure_rate_basis"]
    assert first["failure_rate_source"] in ("observed", "declared", "default")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--limit", "0"), "--limit: expected 1 to"),
        (("--limit", "3", "--all"), "--all: give --limit or --all, not both"),
    ],
)
def test_bad_limits_name_the_option(run: Run, args: tuple[str, ...], needle: str) -> None:
    result = run("impact", "spof", BOOKING, *args, ok=False)
    assert result.exit_code == 2 and needle in result.stderr, result.stderr
