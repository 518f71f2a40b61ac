"""Reliability item 11 (hypothesis): a lower-authority source cannot overwrite a field owned
by a higher one until that owner is stale; an older observation never overwrites a newer
one; and the result does not depend on the order the writes arrive in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cmdb.domain.changeset import ChangeSet, CIRef, Miss, Precedence
from cmdb.store.contract import GraphStore
from tests.contract.builders import key, up
from tests.contract.conftest import STORE_FACTORIES, STORE_MARKS
from tests.fakes import DEFAULT_START, FakeClock
from tests.reconcile_support import store_maker

SOURCES = ("ansible", "scanner", "manual")  # ansible outranks scanner; manual is unlisted
POLICY = Precedence(owners={"attributes.os": ["ansible", "scanner"]})
RANK = {"ansible": 0, "scanner": 1}
EXAMPLES = {"embedded": 300, "neo4j": 25}

Write = tuple[str, int, str]  # source, minutes after the start, value
writes = st.tuples(st.sampled_from(SOURCES), st.integers(0, 30), st.sampled_from("abcd"))
stale = st.tuples(st.just("stale"), st.sampled_from(SOURCES))
events = st.lists(st.one_of(writes, stale), min_size=1, max_size=10)

KINDS = [pytest.param(k, id=k, marks=STORE_MARKS.get(k, ())) for k in STORE_FACTORIES]
HYP = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    "derandomize": True,
}


def _write(store: GraphStore, source: str, minutes: int, value: str) -> None:
    store.apply(
        ChangeSet(
            actor="t",
            source=source,
            observed_at=DEFAULT_START + timedelta(minutes=minutes),
            precedence=POLICY,
            ci_upserts=[up("Server", "x", attributes={"os": value})],
        )
    )


def _os(store: GraphStore) -> Any:
    return store.find_by_identifier(key("x"))[0].attributes["os"]


class Model:
    """The rules as the issue states them, one owner per field."""

    def __init__(self) -> None:
        self.value: str | None = None
        self.owner: str | None = None
        self.owner_at = -1
        self.last_seen: dict[str, int] = {}
        self.stale: set[str] = set()

    @staticmethod
    def outranks(a: str, b: str) -> bool:
        """``a`` is listed above ``b`` for the field."""
        return a in RANK and (b not in RANK or RANK[a] < RANK[b])

    def write(self, source: str, at: int, value: str) -> None:
        owner = self.owner
        if owner is None:
            allowed = True
        elif owner != source and self.outranks(source, owner):
            allowed = True  # the higher source's word wins whenever it arrives
        elif owner != source and self.outranks(owner, source) and owner not in self.stale:
            allowed = False  # a lower source never overwrites a live owner
        else:
            # An older observation never overwrites: the owner's newest sighting counts
            # as observing its fields again (that is what an unchanged re-run is).
            allowed = at >= max(self.owner_at, self.last_seen.get(owner, -1))
        if allowed:
            self.value, self.owner, self.owner_at = value, source, at
        if at >= self.last_seen.get(source, -1):
            self.last_seen[source] = at
            self.stale.discard(source)  # seen again (the newest observation)

    def go_stale(self, source: str) -> bool:
        if source not in self.last_seen:
            return False  # never saw the CI: a miss means nothing
        self.stale.add(source)
        return True


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_precedence_and_observation_order(kind: str, request: pytest.FixtureRequest) -> None:
    make = store_maker(kind, request)

    @settings(max_examples=EXAMPLES[kind], **HYP)
    @given(events)
    # A stale owner loses its rank, not its observation time...
    @example([("ansible", 1, "a"), ("stale", "ansible"), ("scanner", 0, "b")])
    # ...and a stale lower source does not hold off a higher one.
    @example([("scanner", 1, "a"), ("stale", "scanner"), ("ansible", 0, "b")])
    def check(evs: list[Any]) -> None:
        store = make(FakeClock())
        model = Model()
        try:
            for ev in evs:
                if ev[0] == "stale":
                    if model.go_stale(ev[1]):
                        ci = store.find_by_identifier(key("x"))[0]
                        miss = Miss(ref=CIRef(id=ci.id), stale_after=1)
                        store.apply(ChangeSet(actor="t", source=ev[1], misses=[miss]))
                    continue
                source, minutes, value = ev
                _write(store, source, minutes, value)
                model.write(source, minutes, value)
                assert _os(store) == model.value, (ev, model.owner)
        finally:
            store.close()

    check()


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_final_value_does_not_depend_on_arrival_order(
    kind: str, request: pytest.FixtureRequest
) -> None:
    make = store_maker(kind, request)
    distinct = st.lists(writes, min_size=1, max_size=6, unique_by=lambda w: w[1])

    @settings(max_examples=EXAMPLES[kind] // 2, **HYP)
    @given(distinct, st.randoms(use_true_random=False))
    def check(ws: list[Write], rnd: Any) -> None:
        # The winner is the highest (authority, observation time): a pure maximum.
        best = max(ws, key=lambda w: (-RANK.get(w[0], len(RANK)), w[1]))
        shuffled = list(ws)
        rnd.shuffle(shuffled)
        for order in (ws, shuffled):
            store = make(FakeClock())
            try:
                for w in order:
                    _write(store, *w)
                assert _os(store) == best[2], (order, best)
            finally:
                store.close()

    check()
