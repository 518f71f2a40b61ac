"""The ``cmdb`` command line against a temporary embedded store."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner, Result

from cmdb.cli import app

Run = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    runner = CliRunner()
    env = {"CMDB_STORE": "embedded", "CMDB_ACTOR": "tester", "COLUMNS": "200"}

    def invoke(*args: str, db: Path | None = None, ok: bool = True, **kw: Any) -> Result:
        result = runner.invoke(app, ["--db", str(db or tmp_path / "cli.db"), *args], env=env, **kw)
        if ok:
            assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result

    return invoke


def js(result: Result) -> Any:
    return orjson.loads(result.stdout)


def fails(result: Result, *needles: str) -> str:
    """Exit 2, one line on stderr that mentions every needle, and no stack trace."""
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    err = result.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def test_add_show_list_and_idempotent_add(run: Run) -> None:
    added = js(
        run(
            "ci", "add", "--class", "Server", "--name", "web-01",
            "--identifier", "serial=SN-1", "--identifier", "hostname=web-01",
            "--attr", "cores=8", "--attr", "note=rack 4", "--owner", "Ops",
            "--environment", "production", "--criticality", "high", "--json",
        )
    )  # fmt: skip
    assert added["outcome"] == "created"
    ci = added["ci"]
    assert ci["class"] == "Server" and ci["attributes"] == {"cores": 8, "note": "rack 4"}
    assert {"kind": "serial", "value": "SN-1"} in ci["identifiers"]
    again = js(run("ci", "add", "-c", "Server", "-n", "web-01", "-i", "serial=SN-1", "--json"))
    assert again["outcome"] == "unchanged" and again["ci"]["id"] == ci["id"]

    for ref in (ci["id"], "serial=SN-1", "web-01"):
        assert js(run("ci", "show", ref, "--json"))["id"] == ci["id"]
    shown = run("ci", "show", "web-01").stdout
    assert "web-01" in shown and "serial=SN-1" in shown

    page = js(run("ci", "list", "--class", "Compute", "--environment", "production", "--json"))
    assert [c["id"] for c in page["items"]] == [ci["id"]]
    assert js(run("ci", "list", "--name-contains", "nope", "--json"))["items"] == []
    assert js(run("ci", "list", "--source", "manual", "--owner", "Ops", "--json"))["items"]


def test_add_without_identifier_uses_the_natural_key(run: Run) -> None:
    first = js(run("ci", "add", "--class", "Team", "--name", "Night Shift", "--json"))
    assert {"kind": "key", "value": "team:night shift"} in first["ci"]["identifiers"]
    second = js(
        run("ci", "add", "--class", "Team", "--name", "Night Shift", "--description", "x", "--json")
    )
    assert second["outcome"] == "updated" and second["ci"]["id"] == first["ci"]["id"]
    assert len(js(run("ci", "list", "--json"))["items"]) == 1


def test_list_pages_with_a_cursor(run: Run) -> None:
    for n in range(3):
        run("ci", "add", "--class", "Location", "--name", f"room {n}")
    page = js(run("ci", "list", "--limit", "2", "--json"))
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = js(run("ci", "list", "--limit", "2", "--cursor", page["next_cursor"], "--json"))
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert "--cursor" in run("ci", "list", "--limit", "2").stdout


def test_rel_add_accepts_names_types_and_reverse_phrases(run: Run) -> None:
    run("ci", "add", "--class", "Application", "--name", "shop")
    run("ci", "add", "--class", "Database", "--name", "shop-db")
    run("ci", "add", "--class", "VirtualMachine", "--name", "vm-1", "-i", "fqdn=vm-1.example")
    rel = js(run("rel", "add", "shop", "DEPENDS_ON", "shop-db", "--confidence", "0.5", "--json"))
    assert rel["outcome"] == "created" and rel["relationship"]["confidence"] == 0.5
    same = js(run("rel", "add", "shop", "depends_on", "shop-db", "--json"))
    assert same["relationship"]["id"] == rel["relationship"]["id"]
    # "hosts" is the reverse of HOSTED_ON: the ends swap.
    hosted = js(run("rel", "add", "fqdn=vm-1.example", "runs", "shop-db", "--json"))
    db_id = js(run("ci", "show", "shop-db", "--json"))["id"]
    assert hosted["relationship"]["type"] == "RUNS_ON"
    assert hosted["relationship"]["source_id"] == db_id
    rels = js(run("rel", "list", "--json"))["items"]
    assert {r["type"] for r in rels} == {"DEPENDS_ON", "RUNS_ON"}
    assert len(js(run("rel", "list", "--type", "runs on", "--json"))["items"]) == 1
    assert "depends on" in run("rel", "list").stdout

    run("rel", "retire", "shop", "depends on", "shop-db")
    assert len(js(run("rel", "list", "--json"))["items"]) == 1
    assert len(js(run("rel", "list", "--include-retired", "--json"))["items"]) == 2


def test_neighbours_and_subgraph(run: Run) -> None:
    run("sample", "load")
    near = js(run("neighbours", "Online Ferry Booking", "--direction", "out", "--json"))
    names = {n["ci"]["name"] for n in near}
    assert {"Booking Web", "Leisure Travellers", "lb-edge-01"} <= names
    only = js(run("neighbours", "Online Ferry Booking", "--type", "SERVES", "--json"))
    assert {n["ci"]["class"] for n in only} == {"Customer"}
    assert "serves" in run("neighbours", "Online Ferry Booking").stdout

    sub = js(
        run(
            "subgraph", "Online Ferry Booking", "Boarding Pass App API",
            "--type", "contains", "--type", "runs on", "--depth", "3", "--json",
        )
    )  # fmt: skip
    names = {c["name"] for c in sub["nodes"].values()}
    assert {"Booking Engine", "booking-engine-1", "harbour-app-cluster"} <= names
    assert len(sub["roots"]) == 2 and not sub["truncated_by_nodes"]
    capped = js(
        run("subgraph", "harbour-app-cluster", "--direction", "both", "--max-nodes", "3", "--json")
    )
    assert capped["truncated_by_nodes"] and len(capped["nodes"]) == 3
    assert "relationships" in run("subgraph", "Online Ferry Booking", "--depth", "1").stdout


def test_history_and_as_of(run: Run) -> None:
    created = js(run("ci", "add", "--class", "Server", "--name", "db-host", "--json"))["ci"]
    time.sleep(0.01)
    between = datetime.now(UTC)
    time.sleep(0.01)
    run("ci", "add", "--class", "Server", "--name", "db-host", "--status", "under_change")
    run("ci", "retire", "db-host", "--status", "disposed")

    now = js(run("history", "db-host", "--json"))
    assert now["ci"]["status"] == "disposed"
    assert [h["op"] for h in now["history"]] == ["create", "update", "retire"]
    assert now["history"][1]["before"] == "live" and now["history"][1]["actor"] == "tester"

    for stamp in (between.isoformat(), between.replace(tzinfo=None).isoformat()):
        then = js(run("history", created["id"], "--as-of", stamp, "--json"))
        assert then["ci"]["status"] == "live"
        assert [h["op"] for h in then["history"]] == ["create"]
    table = run("history", "db-host", "--as-of", between.isoformat()).stdout
    assert "as of" in table and "under_change" not in table
    assert (
        js(run("ci", "show", "db-host", "--as-of", between.isoformat(), "--json"))["status"]
        == "live"
    )
    fails(run("history", "db-host", "--as-of", "2001-01-01", ok=False), "no CI")
    fails(run("history", "db-host", "--as-of", "last tuesday", ok=False), "--as-of", "ISO 8601")


def test_retire(run: Run) -> None:
    run("ci", "add", "--class", "Server", "--name", "old")
    out = js(run("ci", "retire", "old", "--json"))
    assert out["retired"] == 1 and out["ci"]["status"] == "withdrawn"
    assert "already retired" in run("ci", "retire", "old").stdout
    assert js(run("ci", "list", "--status", "withdrawn", "--json"))["items"]


def test_sample_load_counts_export_import(run: Run, tmp_path: Path) -> None:
    loaded = js(run("sample", "load", "--json"))
    assert loaded["created"] >= 40 and loaded["rels_created"] > 0
    assert js(run("sample", "load", "--json"))["created"] == 0
    counts = js(run("counts", "--json"))
    assert counts["by_class"]["Service"] == 5 and counts["by_status"] == {"live": 47}
    assert "VirtualMachine" in run("counts").stdout

    snap = tmp_path / "snap.jsonl"
    assert js(run("export", str(snap), "--json"))["counts"]["cis"] == 47
    copy = tmp_path / "copy.db"
    assert js(run("import", str(snap), "--json", db=copy))["counts"]["relationships"] == 93
    assert js(run("counts", "--json", db=copy)) == counts
    streamed = run("export", "-", db=copy).stdout.splitlines()
    assert streamed[1:] == snap.read_text().splitlines()[1:]
    piped = tmp_path / "piped.db"
    run("import", "-", db=piped, input=snap.read_bytes())
    assert js(run("counts", "--json", db=piped)) == counts
    fails(run("import", str(snap), db=copy, ok=False), "already holds data")


def test_import_names_the_bad_line_and_writes_nothing(run: Run, tmp_path: Path) -> None:
    run("sample", "load")
    snap = tmp_path / "snap.jsonl"
    run("export", str(snap))
    lines = snap.read_bytes().splitlines()
    lines[6] = lines[6].replace(b'"status":"live"', b'"status":"sunk"')
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\n".join(lines))
    copy = tmp_path / "copy.db"
    fails(run("import", str(bad), db=copy, ok=False), "bad.jsonl", "line 7", "data.status")
    assert js(run("counts", "--json", db=copy))["by_class"] == {}
    fails(run("import", str(tmp_path / "missing.jsonl"), db=copy, ok=False), "missing.jsonl")


def test_bad_input_exits_2_with_one_line(run: Run) -> None:
    fails(run("ci", "add", "--class", "Spaceship", "--name", "x", ok=False), "unknown CI class")
    fails(run("ci", "add", "--class", "Compute", "--name", "x", ok=False), "abstract")
    fails(
        run("ci", "add", "--class", "Server", "--name", "x", "-i", "colour=red", ok=False),
        "unknown identifier kind 'colour'",
    )
    fails(run("ci", "add", "--class", "Server", "--name", "x", "--attr", "=1", ok=False), "--attr")

    run("ci", "add", "--class", "Customer", "--name", "Acme")
    run("ci", "add", "--class", "Server", "--name", "box", "-i", "serial=B1")
    err = fails(run("rel", "add", "Acme", "depends on", "box", ok=False), "Customer", "Server")
    assert "DEPENDS_ON allows only" in err
    fails(run("rel", "add", "Acme", "likes", "box", ok=False), "unknown relationship type")
    fails(run("rel", "add", "Acme", "serves", "ghost", ok=False), "TARGET", "no CI")

    run("ci", "add", "--class", "VirtualMachine", "--name", "box", "-i", "fqdn=box.example")
    # An ambiguous name lists each candidate as a reference that picks it (Class:name).
    err = fails(run("ci", "show", "box", ok=False), "box is ambiguous: ")
    assert "Server:box" in err and "VirtualMachine:box" in err and "candidates" not in err
    assert "(VirtualMachine" in run("ci", "show", "VirtualMachine:box").stdout
    fails(run("ci", "show", "Pod:box", ok=False), "no Pod named 'box' (found: ")
    fails(run("impact", "incident", "--ci", "box", ok=False), "--ci: box is ambiguous: ")
    assert "Server:box" in run("impact", "incident", "--ci", "Compute:box", ok=False).stderr
    run("impact", "incident", "--ci", "Server:box")
    fails(run("neighbours", "nobody", ok=False), "no CI with name 'nobody'")
    fails(run("ci", "list", "--class", "Nope", ok=False), "unknown CI class")
    fails(run("ci", "list", "--cursor", "_w", ok=False), "cursor")
    fails(run("neighbours", "box", ok=False), "Server:box")


def test_a_refused_add_creates_no_database_file(run: Run, tmp_path: Path) -> None:
    # Bad input changes nothing: not even an empty store file appears.
    db = tmp_path / "never.db"
    fails(run("ci", "add", "-c", "Spaceship", "-n", "x", db=db, ok=False), "unknown CI class")
    fails(run("ci", "add", "-c", "Server", "-n", "x", "-i", "colour=red", db=db, ok=False))
    assert not list(tmp_path.glob("never.db*"))


def test_a_malformed_identifier_value_is_named(run: Run) -> None:
    fails(run("ci", "add", "--class", "Server", "--name", "x", "-i", "mac=zz", ok=False), "MAC")


def test_settings_errors_are_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["--db", str(tmp_path / "x.db"), "counts"], env={"CMDB_STORE": "mongodb"}
    )
    fails(result, "CMDB_STORE")


def test_every_command_has_parseable_json(run: Run, tmp_path: Path) -> None:
    run("sample", "load")
    for args in (
        ["counts"],
        ["ci", "list", "--limit", "3"],
        ["ci", "show", "srv-02"],
        ["rel", "list", "--limit", "3"],
        ["neighbours", "srv-02"],
        ["subgraph", "srv-02", "--depth", "1"],
        ["history", "srv-02"],
        ["ci", "add", "--class", "Server", "--name", "srv-02"],
        ["rel", "add", "vm-db-02", "member of", "harbour-app-cluster"],
        ["rel", "retire", "vm-db-02", "member of", "harbour-app-cluster"],
        ["ci", "retire", "srv-02"],
        ["export", str(tmp_path / "s.jsonl")],
        ["sample", "load"],
    ):
        assert isinstance(js(run(*args, "--json")), dict | list), args
