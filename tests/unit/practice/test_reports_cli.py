"""``cmdb report ...`` against a temporary embedded store with the sample estate."""

from __future__ import annotations

import csv
import io

from tests.unit.practice.test_cli_practice import DOCS, NIGHT, Run, fails, js, run, sample_db

__all__ = ["run", "sample_db"]  # the fixtures, shared


def test_reports_print_tables_json_and_csv(run: Run) -> None:
    for ref, ci in (("RFC-1", "vm-app-01"), ("RFC-2", "vm-app-02")):
        run("change", "create", ref, "--title", f"patch {ci}", "--ci", ci, *NIGHT, *DOCS)
        run("change", "assess", ref, "--at", "2026-11-26T09:00Z")
    run("change", "transition", "RFC-2", "rejected", "--at", "2026-11-27T09:00Z")
    run("incident", "open", "INC-1", "--title", "srv down", "--ci", "srv-01", "--urgency", "high")

    got = js(run("report", "changes", "--json", "--at", "2026-11-30T09:00Z"))
    assert got["total"] == 2 and got["rejected"] == 1 and got["backlog"]["open"] == 1
    assert {c["name"] for c in got["by_ci"]} == {"vm-app-01", "vm-app-02"}

    table = run("report", "changes").stdout
    assert "backlog_open" in table and "vm-app-01" in table

    rows = list(csv.reader(io.StringIO(run("report", "incidents", "--csv").stdout)))
    assert rows[0] == ["section", "key", "name", "value", "detail"]
    assert ["total", "", "", "1", ""] in rows

    cis = js(run("report", "cis", "--json", "--top", "3"))
    assert cis["total"] == 47 and len(cis["most_incidents"]) == 1
    assert cis["most_incidents"][0]["name"] == "srv-01"

    health = js(run("report", "health", "--json"))
    assert health["total"] == 47 and health["incomplete_total"] == 2
    assert "CMDB health" in run("report", "health").stdout

    agenda = js(run("report", "cab-agenda", "--from", "2026-11-30T00:00Z", "--days", "3", "--json"))
    assert [i["id"] for i in agenda["decide"]] == ["RFC-1"]  # RFC-2 was rejected
    assert agenda["decide"][0]["services"]
    out = run("report", "cab-agenda", "--from", "2026-11-30T00:00Z").stdout
    assert "to decide (assessed): 1" in out and "RFC-1" in out
    agenda_csv = run("report", "cab-agenda", "--from", "2026-11-30T00:00Z", "--csv").stdout
    assert agenda_csv.splitlines()[1].startswith("decide,RFC-1,")


def test_agreement_gaps_in_their_report_the_health_report_and_the_agenda(run: Run) -> None:
    planted = "P1 resolution 480 min vs 240 min"
    found = js(run("report", "agreements", "--json"))
    (hit,) = [
        f
        for f in found
        if f["service"]["name"] == "Online Ferry Booking"
        and f["agreement"]["name"] == "Tidewire bulk messaging contract"
    ]
    assert planted in [g["text"] for g in hit["gaps"]]
    assert hit["path"]["text"] == "Online Ferry Booking -(depends on)-> Passenger Notifications"
    table = run("report", "agreements").stdout
    assert "agreements weaker than the SLA resting on them" in table
    assert "Tidewire" in table and "-(depends on)->" in table  # not eaten as markup
    one = js(run("report", "agreements", "Online Ferry Booking", "--json"))
    assert one["sla"] == "Online Ferry Booking SLA" and one["findings"] >= 1
    assert "do not hold it up" in run("report", "agreements", "Online Ferry Booking").stdout
    fails(run("report", "agreements", "nope", ok=False), "SERVICE")
    health = js(run("report", "health", "--json"))
    assert health["agreement_gaps_total"] == len(found)
    assert planted in run("report", "health", "--csv").stdout

    run("change", "create", "RFC-1", "--title", "patch", "--ci", "booking-web-1", *NIGHT, *DOCS)
    run("change", "assess", "RFC-1", "--at", "2026-11-26T09:00Z")
    agenda = js(run("report", "cab-agenda", "--from", "2026-11-30T00:00Z", "--json"))
    gaps = agenda["decide"][0]["agreement_gaps"]
    assert {f["service"]["name"] for f in gaps} == {"Online Ferry Booking"}
    out = run("report", "cab-agenda", "--from", "2026-11-30T00:00Z").stdout
    assert "agreement gaps" in out and "Tidewire" in out


def test_bad_options_are_one_line_errors(run: Run) -> None:
    fails(run("report", "changes", "--from", "yesterday", ok=False), "--from")
    fails(
        run("report", "changes", "--from", "2026-12-02", "--to", "2026-12-01", ok=False),
        "end after",
    )
    fails(run("report", "cis", "--json", "--csv", ok=False), "--csv")
