"""Reliability items 9 and 12 (hypothesis stateful): the store against a model.

Item 9: a CI unseen for N successful runs of its source and scope becomes stale, and
discovery never deletes. Item 12: ingest, fail midway, retry, a concurrent job of another
source interleaved between batches, and the staleness sweep; after every step the store
equals the model: the CIs (once each), their values, each source's sighting, the edges.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from cmdb.domain.changeset import ApplyResult, ChangeSet, Precedence
from cmdb.domain.errors import StoreUnavailable
from cmdb.domain.records import RunStatus
from cmdb.store.contract import CIFilter, GraphStore
from discovery.reconcile import RunReport, reconcile
from discovery.records import DiscoveredRel, Inventory, Item, collect
from tests.contract.conftest import STORE_FACTORIES, STORE_MARKS
from tests.fakes import FakeClock
from tests.reconcile_support import all_cis, host, store_maker

KINDS = [pytest.param(k, id=k, marks=STORE_MARKS.get(k, ())) for k in STORE_FACTORIES]
POLICY = Precedence(owners={"attributes.os": ["agent", "scanner"]})
AGENT_HOSTS = (0, 1, 2)
HYP = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    "derandomize": True,
}
# Examples per store: sized so each machine runs in about a minute or less.
ITEM_9 = {"embedded": (100, 12), "neo4j": (15, 8)}  # (examples, steps)
ITEM_12 = {"embedded": (500, 10), "neo4j": (100, 8)}

worlds = st.dictionaries(st.integers(0, 5), st.sampled_from("abc"), max_size=6)


def world_inventory(world: dict[int, str]) -> Inventory:
    items: list[Item] = [host(i, os=v) for i, v in sorted(world.items())]
    items += [
        DiscoveredRel(type="DEPENDS_ON", source=f"host-{i}", target=f"host-{i + 1}")
        for i in sorted(world)
        if i + 1 in world
    ]
    return collect("test", items)


def _data(cs: ChangeSet) -> bool:
    return bool(cs.ci_upserts or cs.touches or cs.rel_upserts or cs.misses)


class Between:
    """A real store that runs ``hook`` before its ``at``-th data change set (1-based):
    the failure (``hook`` raises) or the other job (``hook`` writes) happens there."""

    def __init__(self, inner: GraphStore, at: int, hook: Callable[[], None]) -> None:
        self.inner, self.at, self.hook, self.seen, self.fired = inner, at, hook, 0, False

    def apply(self, cs: ChangeSet) -> ApplyResult:
        if _data(cs):
            self.seen += 1
            if self.seen == self.at and not self.fired:
                self.fired = True
                self.hook()
        return self.inner.apply(cs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _lose() -> None:
    raise StoreUnavailable("the store went away (test)")


class Staleness(RuleBasedStateMachine):
    """Item 9: successful scanner runs over changing subsets of six hosts."""

    make: Callable[[FakeClock], GraphStore]
    stale_after = 3

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.store = self.make(self.clock)
        # host -> os, who wrote it last, scanner sighting [missed, stale] or None, agent saw it
        self.model: dict[int, dict[str, Any]] = {}
        self.edges: set[tuple[int, int]] = set()
        self.last_ok: int | None = None

    def teardown(self) -> None:
        self.store.close()

    # -- the model ---------------------------------------------------------------------
    def _write(self, i: int, value: str, source: str) -> None:
        m = self.model.setdefault(i, {"os": None, "scanner": None, "agent": False})
        if source == "agent":
            m["os"], m["agent"] = value, True
        else:
            if not m["agent"]:  # the agent outranks the scanner (and is never stale here)
                m["os"] = value
            m["scanner"] = [0, False]

    def _suspicious(self, world: dict[int, str]) -> bool:
        n = len(world)
        return n == 0 or (self.last_ok is not None and n * 2 < self.last_ok)

    def _success(self, world: dict[int, str]) -> None:
        for i in sorted(world):
            self._write(i, world[i], "scanner")
        self.edges |= {(i, i + 1) for i in world if i + 1 in world}
        if self._suspicious(world):
            return
        for i, m in self.model.items():
            s = m["scanner"]
            if s is not None and not s[1] and i not in world:
                s[0] += 1
                s[1] = s[0] >= self.stale_after
        self.last_ok = len(world)

    # -- the store ---------------------------------------------------------------------
    def _scan(self, world: dict[int, str], store: Any = None) -> RunReport:
        self.clock.advance(60)
        return reconcile(
            store or self.store,
            world_inventory(world),
            source="scanner",
            scope="lan",
            precedence=POLICY,
            stale_after_runs=self.stale_after,
            batch_size=1,  # one CI per change set: a failure can fall between any two
            touch_after=timedelta(0),  # every CI seen is written: batch k is the k-th host
            clock=self.clock,
        )

    def _expect(self, report: RunReport, world: dict[int, str]) -> None:
        want = RunStatus.SUSPICIOUS if self._suspicious(world) else RunStatus.SUCCEEDED
        assert report.run.status is want, (report.run.status, report.error)

    @rule(world=worlds)
    def ingest(self, world: dict[int, str]) -> None:
        report = self._scan(world)
        self._expect(report, world)
        self._success(world)

    @invariant()
    def store_equals_model(self) -> None:
        cis = all_cis(self.store, CIFilter(ci_class="Server"))
        by_serial = {c.identifier("serial"): c for c in cis}
        assert len(cis) == len(by_serial) == len(self.model)  # once each, never deleted
        for i, m in self.model.items():
            ci = by_serial[f"SN{i:06d}"]
            assert ci.attributes["os"] == m["os"], (i, m)
            s = ci.sources.get("scanner")
            got = None if s is None else [s.missed_runs, s.stale]
            assert got == m["scanner"], (i, got, m)
            assert ("agent" in ci.sources) == m["agent"]
        names = {c.id: int(c.name.removeprefix("host-")) for c in cis}
        edges = set()
        cursor: str | None = None
        while True:
            page = self.store.list_relationships(cursor=cursor)
            edges |= {(names[r.source_id], names[r.target_id]) for r in page.items}
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert edges == self.edges


class Reconciliation(Staleness):
    """Item 12: the same, plus failures, retries and another source's job in between."""

    stale_after = 2

    def __init__(self) -> None:
        super().__init__()
        self.failed: dict[int, str] | None = None

    def _agent(self, values: list[str]) -> None:
        self.clock.advance(60)
        world = dict(zip(AGENT_HOSTS, values, strict=True))
        report = reconcile(
            self.store,
            collect("test", [host(i, os=v) for i, v in world.items()]),
            source="agent",
            precedence=POLICY,
            clock=self.clock,
        )
        assert report.run.status is RunStatus.SUCCEEDED, report.error
        for i, v in world.items():
            self._write(i, v, "agent")

    @rule(world=worlds.filter(bool), data=st.data())
    def fail_midway(self, world: dict[int, str], data: st.DataObject) -> None:
        written = data.draw(st.integers(0, len(world) - 1), label="batches written")
        report = self._scan(world, Between(self.store, written + 1, _lose))
        assert report.run.status is RunStatus.FAILED and "went away" in (report.error or "")
        for i in sorted(world)[:written]:
            self._write(i, world[i], "scanner")
        self.failed = world

    @precondition(lambda self: self.failed is not None)
    @rule()
    def retry(self) -> None:
        world, self.failed = self.failed or {}, None
        self.ingest(world)

    @rule(values=st.lists(st.sampled_from("xyz"), min_size=3, max_size=3))
    def agent_run(self, values: list[str]) -> None:
        self._agent(values)

    @rule(
        world=worlds,
        values=st.lists(st.sampled_from("xyz"), min_size=3, max_size=3),
        at=st.integers(1, 7),
    )
    def concurrent_job(self, world: dict[int, str], values: list[str], at: int) -> None:
        """The agent's whole run lands between two of the scanner's batches."""
        between = Between(self.store, at, lambda: self._agent(values))
        report = self._scan(world, between)
        self._expect(report, world)
        self._success(world)
        if not between.fired:
            self._agent(values)


def _run(machine: type[Staleness], kind: str, request: pytest.FixtureRequest, size: Any) -> None:
    examples, steps = size[kind]
    bound = type(machine.__name__, (machine,), {"make": staticmethod(store_maker(kind, request))})
    run_state_machine_as_test(
        bound, settings=settings(max_examples=examples, stateful_step_count=steps, **HYP)
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_staleness_never_deletion(kind: str, request: pytest.FixtureRequest) -> None:
    _run(Staleness, kind, request, ITEM_9)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_reconciliation_model_check(kind: str, request: pytest.FixtureRequest) -> None:
    _run(Reconciliation, kind, request, ITEM_12)
