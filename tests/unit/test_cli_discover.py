"""``cmdb discover`` and ``cmdb runs`` against a temporary embedded store."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner, Result

from cmdb.cli import app
from discovery.records import DiscoveredCI, Item
from discovery.registry import FORMATS

Run = Callable[..., Result]
MACHINE = Path(__file__).resolve().parents[1] / "integration" / "reconcile" / "fixtures"
NMAP = MACHINE / "one_machine" / "nmap.xml"


def read(paths: Sequence[Path]) -> Iterator[Item]:
    """A fake adapter (registered as format ``crash``) that dies part way through."""
    yield DiscoveredCI(key="a", ci_class="Server", name="a")
    raise RuntimeError("adapter crashed (test)")


@pytest.fixture
def run(tmp_path: Path) -> Run:
    runner = CliRunner()

    def invoke(*args: str, code: int = 0, env: dict[str, str] | None = None) -> Result:
        full_env = {"CMDB_STORE": "embedded", "CMDB_ACTOR": "tester", "COLUMNS": "200"}
        result = runner.invoke(
            app, ["--db", str(tmp_path / "cli.db"), *args], env={**full_env, **(env or {})}
        )
        assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
        return result

    return invoke


def js(result: Result) -> Any:
    return orjson.loads(result.stdout)


def test_discover_then_again_then_list_and_show_runs(run: Run) -> None:
    first = run("discover", "nmap", str(NMAP), "--scope", "lan")
    assert "succeeded" in first.stdout
    for name in ("created", "updated", "unchanged", "stale", "unresolved", "errors"):
        assert name in first.stdout
    again = js(run("discover", "nmap", str(NMAP), "--scope", "lan", "--json"))
    assert again["run"]["status"] == "succeeded"
    assert (len(again["created"]), again["unchanged"]) == (0, 3)
    runs = js(run("runs", "list", "--json"))
    assert [r["source"] for r in runs] == ["nmap", "nmap"]
    assert runs[1]["counts"]["created"] == 3
    shown = run("runs", "show", runs[1]["id"]).stdout
    assert "created" in shown and "lan" in shown
    assert runs[1]["id"] in run("runs", "list", "--source", "nmap", "--scope", "lan").stdout
    assert js(run("runs", "list", "--source", "other", "--json")) == []


def test_dry_run_writes_nothing(run: Run) -> None:
    plan = js(run("discover", "nmap", str(NMAP), "--dry-run", "--json"))
    assert plan["run"]["dry_run"] is True and len(plan["created"]) == 3
    assert js(run("runs", "list", "--json")) == []
    assert "dry run" in run("discover", "nmap", str(NMAP), "--dry-run").stdout


def test_bad_input_exits_2_and_writes_nothing(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "scan.xml"
    bad.write_text("<nmaprun><host>", encoding="utf-8")
    result = run("discover", "nmap", str(bad), code=2)
    err = result.stderr.strip()
    assert err.startswith("error: ") and "scan.xml" in err and "Traceback" not in result.output
    run("discover", "nope", str(bad), code=2)
    assert js(run("runs", "list", "--json")) == []
    run("runs", "show", "run_missing", code=2)


def test_a_crash_exits_1_and_is_recorded(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FORMATS, "crash", __name__)
    result = run("discover", "crash", "whatever", code=1)
    assert "adapter crashed" in result.stderr
    [failed] = js(run("runs", "list", "--json"))
    assert failed["status"] == "failed"


def test_precedence_file_and_stale_after_from_settings(run: Run, tmp_path: Path) -> None:
    policy = tmp_path / "precedence.yaml"
    policy.write_text("owners:\n  attributes.os_match: [nmap]\ndefault: []\n", encoding="utf-8")
    env = {"CMDB_DISCOVERY_PRECEDENCE_FILE": str(policy), "CMDB_DISCOVERY_STALE_AFTER_RUNS": "1"}
    run("discover", "nmap", str(NMAP), "--scope", "lan", env=env)
    empty = tmp_path / "empty.xml"
    empty.write_text('<nmaprun><runstats><hosts up="0" down="3"/></runstats></nmaprun>')
    flagged = run("discover", "nmap", str(empty), "--scope", "lan", env=env)
    assert "suspicious" in flagged.stdout
    forced = js(
        run("discover", "nmap", str(empty), "--scope", "lan", "--override", "--json", env=env)
    )
    assert forced["run"]["status"] == "succeeded" and len(forced["stale"]) == 3
    policy.write_text("owners:\n  os_version: [ansible]\n", encoding="utf-8")
    result = run("discover", "nmap", str(NMAP), env=env, code=2)
    assert "precedence.yaml" in result.stderr and "attributes.<key>" in result.stderr
