"""Change impact, incident impact and the service board read only the incidents their
answer can use (open ones, and those resolved since the SLA month before the instant
asked about): each answer equals the one built from every incident ever recorded.

Two years of incidents (seeded, in several zones, outages and not, some still open) on
the sample estate, on each store; each answer is compared with the same question asked
of a store that hands back every incident, whatever bound it is given.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from cmdb.app.scope import Visibility
from cmdb.app.status import services_status
from cmdb.domain.changeset import ChangeSet
from cmdb.domain.records import Incident, IncidentState
from cmdb.store.contract import CIFilter, GraphStore
from cmdb.store.refs import resolve_ci
from impact.queries import change_impact, incident_impact
from tests.fakes import FakeClock

LOADED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the sample's CIs exist from then on
NOW = datetime(2026, 3, 29, 16, 0, tzinfo=UTC)  # late in a month: its start is far back
LAST = NOW + timedelta(days=10)  # the latest incident time
ZONES = [UTC, timezone(timedelta(hours=13)), timezone(timedelta(hours=-9, minutes=-30))]


@pytest.fixture
def sample_clock() -> FakeClock:
    return FakeClock(LOADED)


class EveryIncident:
    """``store``, except that list_incidents ignores ``resolved_since``: the answers as
    they were when every question read every incident."""

    def __init__(self, store: GraphStore) -> None:
        self._store = store
        self.bounds: list[datetime | None] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def list_incidents(self, **kw: Any) -> list[Incident]:
        self.bounds.append(kw.pop("resolved_since", None))
        return self._store.list_incidents(**kw)


def _history(store: GraphStore, seed: int) -> list[Incident]:
    rng = random.Random(seed)
    cis = [c.id for c in store.list_cis(limit=1000).items]
    services = [c.id for c in store.list_cis(CIFilter(ci_class="Service"), limit=1000).items]
    out: list[Incident] = []
    for n in range(400):
        # Up to ten days after LOADED too: resolved after an as_of, open as of then.
        back = 2 * 365 if n % 2 else 90  # half of them in the last three months
        opened = LAST - timedelta(minutes=rng.randrange(back * 24 * 60))
        lasted = timedelta(minutes=rng.choice([5, 45, 300, 3000, 20000]))
        still_open = rng.random() < 0.04
        resolved = None if still_open else opened + lasted
        if resolved is not None and resolved > LAST:
            resolved = None
        zone = rng.choice(ZONES)
        out.append(
            Incident(
                id=f"INC-{n:05d}",
                title=f"incident {n}",
                state=IncidentState.OPEN if resolved is None else IncidentState.CLOSED,
                ci_ids=[rng.choice(cis)],
                service_ids=rng.sample(services, k=rng.choice([0, 1, 2])),
                opened_at=opened.astimezone(zone),
                resolved_at=None if resolved is None else resolved.astimezone(zone),
                outage=rng.random() < 0.7,
            )
        )
    store.apply(ChangeSet(actor="tester", source="manual", incidents=out))
    return out


# (window start as days from NOW, hours long, as_of as days from LOADED or None)
QUESTIONS = [
    (1, 1, None),  # this month
    (10, 3, None),  # next month
    (2.2, 48, None),  # across a month's end
    (-8, 2, None),  # a window already past, this month
    (-40, 2, None),  # and last month
    (-200, 2, None),  # half a year ago
    (-20, 1, 2),  # asked as things stood two days after LOADED
    (40, 6, 5),
]


def test_answers_equal_those_from_every_incident(sample_store: GraphStore) -> None:
    _history(sample_store, seed=12)
    every = EveryIncident(sample_store)
    names = ["srv-01", "bookings-db"]  # every booking service; one of them
    for name in names:
        target = [resolve_ci(sample_store, name)]
        for start_days, hours, as_of_days in QUESTIONS:
            start = NOW + timedelta(days=start_days)
            end = start + timedelta(hours=hours)
            as_of = None if as_of_days is None else LOADED + timedelta(days=as_of_days)
            kw: dict[str, Any] = {"now": NOW, "as_of": as_of}
            got = change_impact(sample_store, target, start, end, **kw)
            want = change_impact(every, target, start, end, **kw)  # type: ignore[arg-type]
            assert got.model_dump() == want.model_dump(), (name, start_days, as_of_days)
            got_i = incident_impact(sample_store, target, **kw)
            want_i = incident_impact(every, target, **kw)  # type: ignore[arg-type]
            assert got_i.model_dump() == want_i.model_dump(), (name, as_of_days)
    # The bounds were given (the answers above did not just read every incident), and
    # this month's leaves most of two years out.
    assert every.bounds and all(b is not None for b in every.bounds)
    bound = max(b for b in every.bounds if b is not None)
    assert len(sample_store.list_incidents(resolved_since=bound)) < 0.5 * len(
        sample_store.list_incidents()
    )


def test_the_service_board_equals_the_one_from_every_incident(sample_store: GraphStore) -> None:
    _history(sample_store, seed=7)
    every = EveryIncident(sample_store)
    vis = Visibility()  # every service
    for days in (0, 4, -15, -95, -400):
        at = NOW + timedelta(days=days)
        got = services_status(sample_store, vis, at=at)
        want = services_status(every, vis, at=at)  # type: ignore[arg-type]
        assert got == want, days
    assert every.bounds and all(b is not None for b in every.bounds)
