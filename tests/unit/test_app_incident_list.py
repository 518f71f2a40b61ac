"""The service desk's incident list: asking for open incidents only reads the open ones
(the store's open_only, through its index), and lists the same incidents as filtering
every incident by state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cmdb.app import incidents
from cmdb.app.scope import Visibility
from cmdb.domain.records import Incident, IncidentState
from cmdb.sample.load import load_sample
from cmdb.store.embedded.store import EmbeddedStore
from tests.fakes import FakeClock


class Counting:
    """The store, noting how each list_incidents call was asked."""

    def __init__(self, store: EmbeddedStore) -> None:
        self._store = store
        self.asked: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def list_incidents(self, **kw: Any) -> list[Incident]:
        self.asked.append(kw)
        return self._store.list_incidents(**kw)


def test_open_incidents_are_read_by_state(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "cmdb.db", clock=FakeClock())
    load_sample(store, actor="test", history=True)
    every = store.list_incidents()
    assert {i.state for i in every} >= {IncidentState.OPEN, IncidentState.CLOSED}
    counting = Counting(store)
    vis = Visibility()
    got = incidents.list_incidents(counting, vis, states=[IncidentState.OPEN])
    assert [i.id for i in got] == [i.id for i in every if i.state is IncidentState.OPEN]
    assert counting.asked[-1]["open_only"] is True
    # Any other state asked for reads them all, as before.
    both = [IncidentState.OPEN, IncidentState.RESOLVED]
    got = incidents.list_incidents(counting, vis, states=both)
    assert [i.id for i in got] == [i.id for i in every if i.state in both]
    assert counting.asked[-1]["open_only"] is False
