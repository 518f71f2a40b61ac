"""Runs end to end on each store: failed and partial runs (item 7), suspicious runs
(item 8), staleness by scope, dry runs, discrepancies, conflicts, the push service."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from cmdb.domain.changeset import ApplyResult, ChangeSet, Precedence
from cmdb.domain.errors import InvalidInput, StoreUnavailable
from cmdb.domain.records import Change, ChangeState, RunStatus
from cmdb.store.contract import GraphStore
from discovery.reconcile import ingest, reconcile
from discovery.reconcile.service import ingest_payload
from discovery.records import DiscoveredCI, Item, collect
from tests.fakes import FakeClock
from tests.reconcile_support import (
    FIXTURES,
    all_cis,
    edge_count,
    fleet,
    history_rows,
    host,
    stale_for,
)

N = 50


class FailingStore:
    """A real store whose ``apply`` fails from the ``fail_at``-th call on (a fake writer
    losing its store part way through a run); everything else goes to the real store."""

    def __init__(self, inner: GraphStore, fail_at: int) -> None:
        self.inner, self.fail_at, self.calls = inner, fail_at, 0

    def apply(self, cs: ChangeSet) -> ApplyResult:
        self.calls += 1
        if self.calls >= self.fail_at and not cs.runs:
            raise StoreUnavailable("the store went away (test)")
        return self.inner.apply(cs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def crashing(items: list[Item], at: float) -> Iterator[Item]:
    """An adapter that dies part way through its input."""
    for n, item in enumerate(items):
        if n >= len(items) * at:
            raise RuntimeError("adapter crashed (test)")
        yield item


def _items(numbers: range) -> list[Item]:
    inv = fleet(numbers)
    return [*inv.cis, *inv.rels]


def _go(store: GraphStore, clock: FakeClock, numbers: range, **kw: Any) -> Any:
    clock.advance(60)
    kw.setdefault("source", "scanner")
    kw.setdefault("scope", "lan")
    kw.setdefault("stale_after_runs", 1)
    return reconcile(store, fleet(numbers), clock=clock, **kw)


# -- item 7: failed or partial runs mark nothing ---------------------------------------------


def test_crash_while_reading_marks_nothing(store: GraphStore, clock: FakeClock) -> None:
    assert _go(store, clock, range(N)).run.status is RunStatus.SUCCEEDED
    count = len(all_cis(store))
    clock.advance(60)
    with pytest.raises(RuntimeError):
        ingest(
            store,
            "test",
            crashing(_items(range(N)), 0.4),
            source="scanner",
            scope="lan",
            stale_after_runs=1,
            clock=clock,
        )
    [failed, ok] = store.list_runs(source="scanner")
    assert failed.status is RunStatus.FAILED and "adapter crashed" in failed.note
    assert ok.status is RunStatus.SUCCEEDED
    assert stale_for(store, "scanner") == set()
    assert len(all_cis(store)) == count


def test_store_lost_at_40_percent_marks_nothing_and_a_retry_converges(
    store: GraphStore, clock: FakeClock, store_factory: Any
) -> None:
    _go(store, clock, range(N), batch_size=10)
    # The next run sees half the fleet changed and five hosts gone; the store goes away
    # after two of its five CI batches.
    changed = [*range(5, 25)]
    clock.advance(60)
    inv = collect("test", [*fleet(range(5, N), os="bsd").cis, *fleet(range(5, N)).rels])
    flaky = FailingStore(store, fail_at=4)  # 1: running record, 2-3: batches, 4: fails
    report = reconcile(
        flaky,  # type: ignore[arg-type]
        inv,
        source="scanner",
        scope="lan",
        stale_after_runs=1,
        batch_size=10,
        clock=clock,
    )
    assert report.run.status is RunStatus.FAILED and "went away" in (report.error or "")
    assert store.get_run(report.run.id).status is RunStatus.FAILED
    assert stale_for(store, "scanner") == set()  # hosts 0-4 were not seen: still not stale
    assert {c.attributes.get("os") for c in all_cis(store) if c.ci_class == "Server"} == {
        "linux",
        "bsd",
    }
    # The retry sends everything again (the last run failed) and converges.
    clock.advance(60)
    retry = reconcile(
        store, inv, source="scanner", scope="lan", stale_after_runs=1, batch_size=10, clock=clock
    )
    assert retry.run.status is RunStatus.SUCCEEDED
    servers = [c for c in all_cis(store) if c.ci_class == "Server"]
    assert len(servers) == N
    assert {c.name for c in servers if c.attributes["os"] == "bsd"} == {
        f"host-{i}" for i in range(5, N)
    }
    assert stale_for(store, "scanner") == {f"host-{i}" for i in range(5)} | {
        f"https on host-{i}" for i in range(5)
    }
    assert changed  # hosts 5..24 changed in both halves of the failed run
    # Once more: nothing to do, nothing written but sightings.
    rows = history_rows(store)
    clock.advance(60)
    again = reconcile(store, inv, source="scanner", scope="lan", stale_after_runs=1, clock=clock)
    assert (len(again.created), len(again.updated), history_rows(store)) == (0, 0, rows)


def test_one_scope_refused_marks_nothing_anywhere(store: GraphStore, clock: FakeClock) -> None:
    _go(store, clock, range(0, 20), scope="lan")
    _go(store, clock, range(100, 120), scope="dmz")
    clock.advance(60)

    def refused() -> Iterator[Item]:
        raise PermissionError("dmz: access refused (test)")
        yield  # pragma: no cover

    with pytest.raises(PermissionError):
        ingest(store, "test", refused(), source="scanner", scope="dmz", stale_after_runs=1)
    assert stale_for(store, "scanner") == set()
    # A successful lan run that misses host-0 marks it, and nothing of dmz.
    _go(store, clock, range(1, 20), scope="lan")
    assert stale_for(store, "scanner") == {"host-0", "https on host-0"}


# -- item 8: suspicious runs ------------------------------------------------------------------


def test_suspicious_runs_mark_nothing_unless_overridden(
    store: GraphStore, clock: FakeClock
) -> None:
    _go(store, clock, range(20))  # 40 items: 20 hosts and their ports
    empty = _go(store, clock, range(0))
    assert empty.run.status is RunStatus.SUSPICIOUS and "no items" in (empty.suspicious or "")
    small = _go(store, clock, range(9))  # 18 items: under half of 40
    assert small.run.status is RunStatus.SUSPICIOUS and "under half" in (small.suspicious or "")
    assert store.get_run(small.run.id).status is RunStatus.SUSPICIOUS
    assert stale_for(store, "scanner") == set()
    half = _go(store, clock, range(10))  # exactly half: not suspicious
    assert half.run.status is RunStatus.SUCCEEDED
    assert len(stale_for(store, "scanner")) == 20  # hosts 10-19 and their ports
    # Back to 20, then an overridden small run proceeds.
    _go(store, clock, range(20))
    assert stale_for(store, "scanner") == set()
    forced = _go(store, clock, range(5), override=True)
    assert forced.run.status is RunStatus.SUCCEEDED and forced.run.override
    assert len(stale_for(store, "scanner")) == 30


# -- staleness is per source and scope, and never deletes ---------------------------------


def test_stale_after_n_runs_by_scope_and_source(store: GraphStore, clock: FakeClock) -> None:
    _go(store, clock, range(10), scope="lan", stale_after_runs=3)
    _go(store, clock, range(10), scope="lan", source="other", stale_after_runs=3)
    for n in (1, 2, 3):
        report = _go(store, clock, range(9), scope="lan", stale_after_runs=3)
        expected = {"host-9", "https on host-9"} if n == 3 else set()
        assert stale_for(store, "scanner") == expected
        assert {s.name for s in report.stale} == expected
    assert stale_for(store, "other") == set()  # another source's view is its own
    # Another scope's runs never touch lan's CIs.
    for _ in range(3):
        _go(store, clock, range(200, 201), scope="dmz", stale_after_runs=1)
    assert stale_for(store, "scanner") == {"host-9", "https on host-9"}
    assert len(all_cis(store)) == 22  # nothing deleted
    # Seen again: no longer stale.
    _go(store, clock, range(10), scope="lan", stale_after_runs=3)
    assert stale_for(store, "scanner") == set()


# -- dry runs ---------------------------------------------------------------------------------


def test_dry_run_plans_and_writes_nothing(store: GraphStore, clock: FakeClock) -> None:
    plan = _go(store, clock, range(5), dry_run=True)
    assert store.is_empty() and store.list_runs() == []
    assert (len(plan.created), plan.run.dry_run) == (10, True)
    _go(store, clock, range(5))
    rows, edges = history_rows(store), edge_count(store)
    changed, new = fleet(range(1, 5), os="bsd"), fleet(range(5, 6))
    inv = collect("test", [*changed.cis, *changed.rels, *new.cis, *new.rels])
    clock.advance(60)
    plan = reconcile(
        store, inv, source="scanner", scope="lan", dry_run=True, stale_after_runs=1, clock=clock
    )
    assert [c.name for c in plan.created] == ["host-5", "https on host-5"]
    assert sorted(u.name for u in plan.updated) == [f"host-{i}" for i in range(1, 5)]
    assert plan.updated[0].diffs[0].model_dump() == {
        "field": "attributes.os",
        "before": "linux",
        "after": "bsd",
    }
    assert {s.name for s in plan.stale} == {"host-0", "https on host-0"}
    assert (history_rows(store), edge_count(store), len(store.list_runs())) == (rows, edges, 1)
    assert stale_for(store, "scanner") == set()


# -- unauthorised changes -------------------------------------------------------------------


def test_every_applied_difference_is_a_discrepancy_unless_approved(
    store: GraphStore, clock: FakeClock
) -> None:
    first = _go(store, clock, range(3))
    assert first.discrepancies == []  # creating is not changing
    changed = _go(store, clock, range(3), source="scanner", stale_after_runs=3)
    assert changed.discrepancies == []
    moved = reconcile(store, fleet(range(3), os="bsd"), source="scanner", scope="lan", clock=clock)
    assert sorted((d.name, d.field, d.before, d.after) for d in moved.discrepancies) == [
        (f"host-{i}", "attributes.os", "linux", "bsd") for i in range(3)
    ]
    host0 = next(c for c in all_cis(store) if c.name == "host-0")
    approved = Change(
        id="RFC-1",
        title="upgrade host-0",
        state=ChangeState.AUTHORISED,
        ci_ids=[host0.id],
        planned_start=clock() - timedelta(hours=1),
        planned_end=clock() + timedelta(hours=1),
    )
    clock.advance(60)
    back = reconcile(
        store,
        fleet(range(3)),
        source="scanner",
        scope="lan",
        clock=clock,
        approved_changes=[approved],
    )
    assert sorted(d.name for d in back.discrepancies) == ["host-1", "host-2"]


# -- conflicts and precedence -----------------------------------------------------------------


def test_identifiers_of_two_cis_are_a_conflict_not_a_failure(
    store: GraphStore, clock: FakeClock
) -> None:
    _go(store, clock, range(2))
    both = host(0).model_copy(
        update={"identifiers": (*host(0).identifiers, *host(1).identifiers[:1])}
    )
    report = reconcile(store, collect("test", [both]), source="other", clock=clock)
    assert report.run.status is RunStatus.SUCCEEDED
    assert {c.key for c in report.conflicts} == {"host-0"}
    assert any("serial=SN000001 belongs to another CI" in c.message for c in report.conflicts)
    servers = [c for c in all_cis(store) if c.ci_class == "Server"]
    assert len(servers) == 2 and all(len(c.sources) <= 2 for c in servers)


def test_precedence_through_runs(store: GraphStore, clock: FakeClock) -> None:
    policy = Precedence(owners={"attributes.os": ["cmdb-agent", "scanner"]})
    _go(store, clock, range(3), source="cmdb-agent", precedence=policy, stale_after_runs=1)
    guessed = reconcile(
        store, fleet(range(3), os="guess"), source="scanner", precedence=policy, clock=clock
    )
    assert guessed.skipped_fields == 3 and not guessed.updated
    assert {c.attributes["os"] for c in all_cis(store) if c.ci_class == "Server"} == {"linux"}
    # The agent stops seeing host-0 (stale after one run): the scanner may write it now.
    _go(store, clock, range(1, 3), source="cmdb-agent", precedence=policy, stale_after_runs=1)
    clock.advance(60)
    later = reconcile(
        store,
        fleet(range(3), os="guess2"),
        source="scanner",
        precedence=policy,
        clock=clock,
    )
    assert [u.name for u in later.updated] == ["host-0"]
    os_by_name = {c.name: c.attributes["os"] for c in all_cis(store) if c.ci_class == "Server"}
    assert os_by_name == {"host-0": "guess2", "host-1": "linux", "host-2": "linux"}


# -- the push service -------------------------------------------------------------------------


def test_payload_service_reads_reconciles_and_names_the_upload(store: GraphStore) -> None:
    payload = (FIXTURES / "one_machine" / "ansible.json").read_bytes()
    report = ingest_payload(
        store, payload, fmt="ansible", source="ansible", scope="eu", filename="web.json"
    )
    assert report.run.status is RunStatus.SUCCEEDED and len(report.created) == 1
    assert report.created[0].key == "ansible:web.json#ip-10-0-1-15.eu-west-1.compute.internal"
    again = ingest_payload(
        store, payload, fmt="ansible", source="ansible", scope="eu", filename="web.json"
    )
    assert (len(again.created), again.unchanged) == (0, 1)
    runs = len(store.list_runs())
    with pytest.raises(InvalidInput) as bad:
        ingest_payload(store, b"{not json", fmt="ansible", source="ansible", filename="x.json")
    assert "x.json:1" in str(bad.value) and "cmdb-upload" not in str(bad.value)
    with pytest.raises(InvalidInput):
        ingest_payload(store, payload, fmt="nope", source="x")
    assert len(store.list_runs()) == runs  # bad input: nothing written


def test_a_placeholder_becomes_real_when_defined(store: GraphStore, clock: FakeClock) -> None:
    from discovery.records import DiscoveredRel, Placeholder

    ref = DiscoveredRel(
        type="DEPENDS_ON",
        source="host-0",
        target="db",
        target_placeholder=Placeholder(ci_class="Database", name="db"),
    )
    report = reconcile(store, collect("test", [host(0), ref]), source="scanner", clock=clock)
    [unresolved] = report.unresolved
    assert store.get_ci(unresolved.ci_id or "").attributes["unresolved"] is True
    db = DiscoveredCI(key="db", ci_class="Database", name="db", attributes={"engine": "pg"})
    clock.advance(60)
    reconcile(store, collect("test", [host(0), db, ref]), source="scanner", clock=clock)
    defined = store.get_ci(unresolved.ci_id or "")
    assert "unresolved" not in defined.attributes and defined.attributes["engine"] == "pg"
