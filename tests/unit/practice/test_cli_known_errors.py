"""The service desk's view of an incident names the problems it is linked to and the known
errors (with their workarounds) on its CIs and services."""

from __future__ import annotations

from tests.unit.practice.conftest import Run


def test_an_incident_shows_the_known_errors_on_its_cis(run: Run) -> None:
    run(
        "problem", "log", "PRB-1", "--title", "pool exhausted", "--ci", "bookings-db",
        "--workaround", "restart pgbouncer",
    )  # fmt: skip
    run("problem", "log", "PRB-2", "--title", "switch flaps", "--ci", "core-sw-01")
    shown = run("incident", "open", "INC-1", "--title", "bookings fail", "--ci", "bookings-db")
    out = shown.stdout
    assert "known errors on these CIs" in out
    assert "PRB-1" in out and "restart pgbouncer" in out
    assert "PRB-2" not in out  # not a known error (no root cause or workaround yet)
    run("problem", "link", "PRB-2", "--incident", "INC-1")
    again = run("incident", "show", "INC-1").stdout
    assert "PRB-2 (logged)" in again
    # An incident on another CI gets none, though its outage reaches the same services.
    other = run("incident", "open", "INC-2", "--title", "sms late", "--ci", "notifier-1").stdout
    assert "known errors" not in other
