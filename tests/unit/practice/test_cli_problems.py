"""``cmdb problem ...`` against a temporary embedded store with the sample estate: a problem's
life, the known error list, links, similar problems as a table and as JSON, bad input."""

from __future__ import annotations

import pytest

from tests.unit.practice.conftest import Run
from tests.unit.practice.test_cli_practice import fails, js


def test_a_problem_from_logged_to_closed(run: Run) -> None:
    made = js(
        run(
            "problem", "log", "PRB-1", "--title", "bookings-db runs out of connections",
            "--ci", "bookings-db", "--symptom", "FATAL: too many connections",
            "--category", "database", "--at", "2026-11-26T10:00Z", "--json",
        )
    )  # fmt: skip
    assert (made["state"], made["known_error"]) == ("logged", False)
    assert made["allowed_next"] == ["investigating", "known_error", "closed"]
    assert made["opened_at"] == "2026-11-26T10:00:00Z" and made["service_ids"]
    # A refused step names the allowed next states and writes nothing.
    fails(
        run("problem", "transition", "PRB-1", "resolved", ok=False),
        "PRB-1 is logged", "allowed next: investigating, known_error, closed",
    )  # fmt: skip
    fails(run("problem", "transition", "PRB-1", "known_error", ok=False), "root cause")
    assert js(run("problem", "show", "PRB-1", "--json")) == made
    run("problem", "transition", "PRB-1", "investigating")
    assert js(run("problem", "list", "--known-errors", "--json")) == []
    known = js(run("problem", "update", "PRB-1", "--workaround", "restart pgbouncer", "--json"))
    assert (known["state"], known["known_error"]) == ("known_error", True)
    shown = run("problem", "show", "PRB-1").stdout
    assert "KNOWN ERROR" in shown and "restart pgbouncer" in shown and "bookings-db" in shown
    assert [p["id"] for p in js(run("problem", "list", "--known-errors", "--json"))] == ["PRB-1"]
    table = run("problem", "list", "--ci", "bookings-db").stdout
    assert "PRB-1" in table and "restart pgbouncer" in table

    run("incident", "open", "INC-1", "--title", "sign-in fails", "--ci", "identity-db")
    run("change", "create", "RFC-1", "--title", "raise max_connections", "--ci", "bookings-db")
    linked = js(
        run("problem", "link", "PRB-1", "--incident", "INC-1", "--change", "RFC-1", "--json")
    )
    assert (linked["incident_ids"], linked["change_ids"]) == (["INC-1"], ["RFC-1"])
    assert [p["id"] for p in js(run("problem", "list", "--incident", "INC-1", "--json"))] == [
        "PRB-1"
    ]
    run("problem", "transition", "PRB-1", "resolved")
    assert js(run("problem", "list", "--known-errors", "--json")) == []
    run("problem", "transition", "PRB-1", "closed")
    listed = js(run("problem", "list", "--state", "closed", "--state", "logged", "--json"))
    assert [p["id"] for p in listed] == ["PRB-1"]
    fails(run("problem", "update", "PRB-1", "--title", "again", ok=False), "PRB-1 is closed")


def test_update_adds_and_drops_cis_at_fault(run: Run) -> None:
    run("problem", "log", "PRB-2", "--title", "slow", "--ci", "bookings-db")
    moved = js(
        run(
            "problem", "update", "PRB-2", "--ci", "booking-web-1", "--drop-ci", "bookings-db",
            "--symptom", "timeouts", "--json",
        )
    )  # fmt: skip
    web = js(run("ci", "show", "booking-web-1", "--json"))["id"]
    assert moved["ci_ids"] == [web] and moved["symptoms"] == ["timeouts"]
    fails(
        run("problem", "update", "PRB-2", "--drop-ci", "booking-web-1", ok=False),
        "names a CI at fault or an incident",
    )


def test_similar_problems_with_scores_and_reasons(run: Run) -> None:
    run(
        "problem", "log", "PRB-10", "--title", "connection pool exhausted", "--ci", "bookings-db",
        "--symptom", "FATAL: too many connections", "--workaround", "restart pgbouncer",
    )  # fmt: skip
    run("problem", "log", "PRB-11", "--title", "memory leak", "--ci", "booking-engine-1")
    found = js(run("problem", "similar", "identity-db", "--text", "too many connections", "--json"))
    top = found[0]
    assert top["problem"]["id"] == "PRB-10" and top["known_error"] and top["score"] > 0
    assert "bookings-db at fault: also Database 16.4" in top["reasons"]
    assert "PRB-11" not in [s["problem"]["id"] for s in found]
    table = run("problem", "similar", "identity-db", "--text", "too many connections").stdout
    assert "PRB-10" in table and "shares words: connections, many, too" in table
    assert "restart pgbouncer" in table and f"{top['score']:g}" in table
    assert len(js(run("problem", "similar", "booking-engine-1", "--limit", "1", "--json"))) == 1
    assert "no similar problem" in run("problem", "similar", "lb-edge-01").stdout


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["problem", "show", "PRB-404"], ["PRB-404"]),
        (["problem", "log", "PRB-2", "--title", "x"], ["names a CI at fault or an incident"]),
        (["problem", "log", "PRB-2", "--title", "x", "--ci", "nope"], ["nope", "--ci"]),
        (["problem", "log", "PRB-2", "--title", "x", "--incident", "INC-404"], ["INC-404"]),
        (["problem", "log", "PRB-1", "--title", "again", "--ci", "srv-01"], ["exists already"]),
        (["problem", "update", "PRB-1"], ["nothing to change"]),
        (["problem", "link", "PRB-1"], ["--incident, --change"]),
        (["problem", "link", "PRB-1", "--change", "RFC-404"], ["RFC-404"]),
        (["problem", "list", "--incident", "INC-404"], ["INC-404"]),
        (["problem", "similar", "nope"], ["nope"]),
        (["problem", "transition", "PRB-1", "--at", "yesterday", "closed"], ["--at"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run: Run, args: list[str], needles: list[str]) -> None:
    run("problem", "log", "PRB-1", "--title", "x", "--ci", "srv-01")
    before = run("problem", "show", "PRB-1", "--json").stdout
    fails(run(*args, ok=False), *needles)
    assert run("problem", "show", "PRB-1", "--json").stdout == before
