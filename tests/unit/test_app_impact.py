"""cmdb.app.impact: an answer is cut to the caller's view, warnings included.

The engine's warnings name CIs anywhere in the walked graph (here a cluster the caller
cannot see), so a scoped caller gets none; REST dropped them before the rule moved to the
app, GraphQL did not.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cmdb.app import impact
from cmdb.app.scope import Visibility
from cmdb.domain.model import CI
from cmdb.store.embedded.store import EmbeddedStore
from tests.contract.builders import cs, key, rel, up


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    s = EmbeddedStore(tmp_path / "cmdb.db")
    # The cluster asks for more members than it has: the engine warns, naming it.
    s.apply(
        cs(
            up("Cluster", "cluster", redundancy={"min_up": 3}),
            up("Server", "a"),
            up("Server", "b"),
            up("ApplicationInstance", "app"),
            rel("MEMBER_OF", "a", "cluster"),
            rel("MEMBER_OF", "b", "cluster"),
            rel("RUNS_ON", "app", "cluster"),
        )
    )
    try:
        yield s
    finally:
        s.close()


def _ci(store: EmbeddedStore, k: str) -> CI:
    (found,) = store.find_by_identifier(key(k))
    return found


def test_a_scoped_caller_gets_no_warning_and_nothing_outside_its_view(
    store: EmbeddedStore,
) -> None:
    a = _ci(store, "a")
    everything = impact.incident_impact(store, Visibility(), [a])
    assert any("cluster" in w for w in everything.warnings), everything.warnings
    hit = {c.id for c in everything.cis}
    assert {_ci(store, "cluster").id, _ci(store, "app").id} <= hit

    view = Visibility(frozenset({a.id, _ci(store, "app").id}))
    seen = impact.incident_impact(store, view, [a])
    assert seen.warnings == []
    assert {c.id for c in seen.cis} <= set(view.ids or ())
    assert all(set(p.ci_ids) <= set(view.ids or ()) for c in seen.cis for p in c.paths)
