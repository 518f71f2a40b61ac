"""Unauthorised changes against the RFC's versions, on each store: discovery runs twice
around an approved change that declares the version it brings (``Change.ci_versions``).

A version the change brings is covered; another version, or a run outside the change's
window, is an unauthorised change that says why. The changes are read back from the store
(``approved_changes=store.list_changes()``), as ``cmdb discover`` and the REST push do.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import orjson
from typer.testing import CliRunner

from cmdb.cli import app
from cmdb.domain.changeset import ChangeSet, CIUpsert
from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.domain.records import Change, ChangeOutcome, ChangeState, ChangeType
from cmdb.practice.changes import create_change, transition_change
from cmdb.practice.lifecycle import transition
from cmdb.store.contract import GraphStore
from discovery.reconcile import RunReport, reconcile
from discovery.reconcile.report import Discrepancy, unauthorised
from discovery.records import DiscoveredCI, Inventory, collect
from tests.fakes import FakeClock
from tests.reconcile_support import all_cis

HOUR = timedelta(hours=1)


def server(name: str, version: str, environment: str = "staging") -> DiscoveredCI:
    return DiscoveredCI(
        key=name,
        ci_class="Server",
        name=name,
        identifiers=(Identifier(kind=IdentifierKind.SERIAL, value=f"SN-{name}"),),
        fields={"version": version, "environment": environment},
    )


def scan(web01: str, web02: str = "1.4.0", environment: str = "staging") -> Inventory:
    return collect("test", [server("web-01", web01, environment), server("web-02", web02)])


def go(store: GraphStore, clock: FakeClock, inventory: Inventory) -> RunReport:
    report = reconcile(
        store,
        inventory,
        source="scanner",
        clock=clock,
        approved_changes=store.list_changes(),
    )
    assert report.error is None, report.error
    return report


def ids(store: GraphStore) -> dict[str, str]:
    return {c.name: c.id for c in all_cis(store)}


def authorise(
    store: GraphStore,
    clock: FakeClock,
    change_id: str,
    cis: list[str],
    versions: dict[str, str],
    window: tuple[datetime, datetime],
) -> Change:
    """A standard (pre-approved) change, recorded and authorised as the CLI and API do."""
    create_change(
        store,
        Change(
            id=change_id,
            title="upgrade the web tier",
            type=ChangeType.STANDARD,
            ci_ids=cis,
            ci_versions=versions,
            planned_start=window[0],
            planned_end=window[1],
        ),
        actor="alice",
        now=clock(),
    )
    return transition_change(store, change_id, ChangeState.AUTHORISED, actor="cm", now=clock())


def test_the_version_the_rfc_brings_is_not_listed(store: GraphStore, clock: FakeClock) -> None:
    go(store, clock, scan("1.4.0"))
    cis = ids(store)
    authorise(
        store,
        clock,
        "RFC-7",
        [cis["web-01"], cis["web-02"]],
        {cis["web-01"]: "1.4.2"},  # web-02 is named with no version: any version will do
        (clock() - HOUR, clock() + HOUR),
    )
    clock.advance(minutes=10)
    report = go(store, clock, scan("1.4.2", web02="1.5.0", environment="production"))
    assert sorted((u.name, d.field) for u in report.updated for d in u.diffs) == [
        ("web-01", "environment"),
        ("web-01", "version"),
        ("web-02", "version"),
    ]
    assert report.discrepancies == []


def test_another_version_is_listed_with_the_rfc_and_both_versions(
    store: GraphStore, clock: FakeClock
) -> None:
    go(store, clock, scan("1.4.0"))
    cis = ids(store)
    authorise(
        store, clock, "RFC-7", [cis["web-01"]], {cis["web-01"]: "1.4.2"}, (clock(), clock() + HOUR)
    )
    clock.advance(minutes=10)
    report = go(store, clock, scan("1.5.0", environment="production"))
    # The environment changed within the window: the change covers it. The version is not
    # the one the RFC brings.
    [found] = report.discrepancies
    assert (found.ci_id, found.field, found.before, found.after) == (
        cis["web-01"],
        "version",
        "1.4.0",
        "1.5.0",
    )
    assert found.change_id == "RFC-7"
    assert found.why == f"RFC-7 brings version 1.4.2 to web-01 ({cis['web-01']}); found 1.5.0"


def test_outside_the_window_or_without_an_approved_change_is_listed(
    store: GraphStore, clock: FakeClock
) -> None:
    go(store, clock, scan("1.4.0"))
    cis = ids(store)
    start = clock()
    authorise(
        store, clock, "RFC-7", [cis["web-01"]], {cis["web-01"]: "1.4.2"}, (start, start + HOUR)
    )
    create_change(  # names web-02, never approved
        store,
        Change(id="RFC-8", title="patch web-02", ci_ids=[cis["web-02"]]),
        actor="alice",
        now=clock(),
    )
    # The source saw web-01 unchanged after the window ended: a later change is not RFC-7's.
    clock.advance(hours=2)
    unchanged = clock().isoformat(timespec="seconds")
    go(store, clock, scan("1.4.0"))
    clock.advance(hours=1)
    report = go(store, clock, scan("1.4.2", web02="1.5.0"))
    why = {d.name: (d.change_id, d.why) for d in report.discrepancies}
    seen = clock().isoformat(timespec="seconds")
    ended = (start + HOUR).isoformat(timespec="seconds")
    assert why == {
        "web-01": (
            "RFC-7",
            f"RFC-7's window ended {ended}; web-01 ({cis['web-01']}) seen changed at {seen},"
            f" unchanged at {unchanged}",
        ),
        "web-02": (
            "RFC-8",
            f"no approved change covers web-02 ({cis['web-02']}) at {seen}; "
            "RFC-8 names it but is draft",
        ),
    }


def test_a_nightly_run_after_the_window_sees_an_approved_change(
    store: GraphStore, clock: FakeClock
) -> None:
    """The change happened between the source's last look and this run: a run at 06:00
    after a 02:00-03:00 window is covered, and so is one after the change was reviewed
    and closed."""
    go(store, clock, scan("1.4.0"))
    cis = ids(store)
    start = clock() + HOUR
    authorise(
        store, clock, "RFC-7", [cis["web-01"]], {cis["web-01"]: "1.4.2"}, (start, start + HOUR)
    )
    clock.advance(hours=5)
    assert go(store, clock, scan("1.4.2")).discrepancies == []
    # Reviewed and closed, it still covers what it did (a rejected one never did).
    done = store.get_change("RFC-7").model_copy(update={"reason": "CVE-2026-7"})
    for to in (ChangeState.SCHEDULED, ChangeState.IMPLEMENTED):
        done = transition(done, to, at=clock(), by="cm")
    review = transition(
        done, ChangeState.REVIEWED, at=clock(), by="cm", outcome=ChangeOutcome.SUCCESSFUL
    )
    closed = transition(review, ChangeState.CLOSED, at=clock(), by="cm")
    rejected = Change(
        id="RFC-9", title="t", ci_ids=[cis["web-01"]], state=ChangeState.CLOSED,
        planned_start=start, planned_end=start + HOUR,
    )  # fmt: skip
    assert unauthorised(
        [
            Discrepancy(
                ci_id=cis["web-01"], name="web-01", field="version", before="1.4.0",
                after="1.4.2", observed_at=clock(), since=start - HOUR,
            )
        ],
        [closed],
    ) == []  # fmt: skip
    [left] = unauthorised(
        [
            Discrepancy(
                ci_id=cis["web-01"], name="web-01", field="version", before="1.4.0",
                after="1.4.2", observed_at=clock(), since=start - HOUR,
            )
        ],
        [rejected],
    )  # fmt: skip
    assert left.change_id == "RFC-9" and "is closed" in left.why


def test_a_ci_no_change_names_is_listed(store: GraphStore, clock: FakeClock) -> None:
    go(store, clock, scan("1.4.0"))
    clock.advance(minutes=10)
    [found] = go(store, clock, scan("1.5.0")).discrepancies
    at = clock().isoformat(timespec="seconds")
    assert found.change_id is None
    assert found.why == f"no approved change covers web-01 ({found.ci_id}) at {at}"


def test_cmdb_discover_prints_why(tmp_path: Path) -> None:
    env = {"CMDB_STORE": "embedded", "CMDB_ACTOR": "tester", "COLUMNS": "200"}
    db = ["--db", str(tmp_path / "cli.db")]

    def cli(*args: str) -> str:
        result = CliRunner().invoke(app, [*db, *args], env=env)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result.stdout

    def inventory(version: str) -> str:
        doc = {
            "version": 1,
            "cis": [
                {"key": "web-01", "class": "Server", "name": "web-01",
                 "identifiers": {"serial": "SN-web-01"}, "version": version}
            ],
        }  # fmt: skip
        path = tmp_path / f"scan-{version}.json"
        path.write_bytes(orjson.dumps(doc))
        return str(path)

    cli("discover", "json", inventory("1.4.0"), "--source", "lab")
    cli(
        "change", "create", "RFC-7", "--title", "upgrade web-01", "--type", "standard",
        "--ci", "web-01", "--ci-version", "web-01=1.4.2",
        "--start", "2020-01-01T00:00Z", "--end", "2099-01-01T00:00Z",
    )  # fmt: skip
    cli("change", "transition", "RFC-7", "authorised")
    out = cli("discover", "json", inventory("1.5.0"), "--source", "lab")
    assert "unauthorised changes:" in out
    assert "web-01: version: 1.4.0 -> 1.5.0: RFC-7 brings version 1.4.2 to web-01" in out
    assert "found 1.5.0" in out


def test_a_backed_out_change_or_a_later_edit_covers_nothing(
    store: GraphStore, clock: FakeClock
) -> None:
    go(store, clock, scan("1.4.0"))
    cis = ids(store)
    start = clock() + HOUR
    window = (start, start + HOUR)
    authorise(store, clock, "RFC-7", [cis["web-01"]], {cis["web-01"]: "1.4.2"}, window)
    backed = store.get_change("RFC-7").model_copy(update={"outcome": ChangeOutcome.BACKED_OUT})
    found = Discrepancy(
        ci_id=cis["web-01"], name="web-01", field="version", before="1.4.0", after="1.4.2",
        observed_at=start + 5 * HOUR, since=start - HOUR,
    )  # fmt: skip
    assert [d.change_id for d in unauthorised([found], [backed])] == ["RFC-7"]
    # Someone wrote web-01 by hand after the window: the source's next difference arose
    # after that, and RFC-7 no longer explains it.
    clock.set(start + 3 * HOUR)
    store.apply(
        ChangeSet(
            actor="ops", source="manual",
            ci_upserts=[CIUpsert(id=cis["web-01"], ci_class="Server", name="web-01", owner="ops")],
        )
    )  # fmt: skip
    clock.set(start + 5 * HOUR)
    [left] = go(store, clock, scan("1.4.2")).discrepancies
    assert left.change_id == "RFC-7" and "window ended" in left.why
