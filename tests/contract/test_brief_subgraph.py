"""subgraph(brief=True): the same answer as in full, edges as links, CIs without bookkeeping.

The impact engine reads only the ends of each edge and a few fields of each CI; a brief
subgraph leaves the rest unread. It must name the same CIs and the same edges as the full
answer, in every form of the call (walk or not, now or as of a past instant, capped), and
a brief CI must never pass off a left-out field as empty.
"""

from __future__ import annotations

from typing import Any

import pytest

from cmdb.domain.model import CI
from cmdb.store.contract import Direction, GraphStore, Link, Subgraph
from cmdb.store.decode import BRIEF_LEFT_OUT
from tests.contract.builders import cs, rel, rel_retire, up
from tests.fakes import FakeClock

IMPACT = {
    "DEPENDS_ON": Direction.IN,
    "RUNS_ON": Direction.IN,
    "HOSTED_ON": Direction.IN,
    "MEMBER_OF": Direction.OUT,
}
MEMBERS = {"MEMBER_OF": Direction.IN}
KEPT = [f for f in CI.model_fields if f not in BRIEF_LEFT_OUT]


@pytest.fixture
def estate(store: GraphStore, clock: FakeClock) -> dict[str, Any]:
    """vm1..vm3 members of cluster c; app runs on c and depends on db; lb depends on
    app. Then vm4 joins and app's RUNS_ON is retired (``before`` is the instant between)."""
    names = ["vm1", "vm2", "vm3", "c", "app", "db", "lb"]
    res = store.apply(
        cs(
            *(up("VirtualMachine", n) for n in ("vm1", "vm2", "vm3")),
            up("Cluster", "c", redundancy={"min_up": 2}),
            up("ApplicationInstance", "app", attributes={"tier": "web"}),
            up("Database", "db"),
            up("LoadBalancer", "lb"),
            rel("MEMBER_OF", "vm1", "c"),
            rel("MEMBER_OF", "vm2", "c"),
            rel("MEMBER_OF", "vm3", "c"),
            rel("RUNS_ON", "app", "c"),
            rel("DEPENDS_ON", "app", "db"),
            rel("DEPENDS_ON", "lb", "app"),
        )
    )
    out: dict[str, Any] = dict(zip(names, res.ci_ids, strict=True))
    clock.advance(10)
    out["before"] = clock()
    clock.advance(10)
    store.apply(cs(up("VirtualMachine", "vm4"), rel("MEMBER_OF", "vm4", "c")))
    store.apply(cs(rel_retire("RUNS_ON", "app", "c")))
    return out


def _same(full: Subgraph, brief: Subgraph) -> None:
    assert brief.edges == []
    assert brief.links == sorted(brief.links)  # by type, source, target
    assert brief.links == sorted(Link(e.type, e.source_id, e.target_id) for e in full.edges)
    assert [link.id for link in brief.links] == [
        e.id for e in sorted(full.edges, key=lambda e: (e.type, e.source_id, e.target_id))
    ]
    assert brief.ends() == full.ends()
    assert set(brief.nodes) == set(full.nodes)
    for ci_id, ci in brief.nodes.items():
        whole = full.nodes[ci_id]
        assert {f: getattr(ci, f) for f in KEPT} == {f: getattr(whole, f) for f in KEPT}
        for left_out in BRIEF_LEFT_OUT:
            # Either the field is there and right, or reading it fails: never a wrong [].
            try:
                value = getattr(ci, left_out)
            except AttributeError:
                continue
            assert value == getattr(whole, left_out)
    assert (brief.roots, brief.depth_reached) == (full.roots, full.depth_reached)
    assert brief.truncated_by_depth == full.truncated_by_depth
    assert brief.truncated_by_nodes == full.truncated_by_nodes


CALLS: list[tuple[str, dict[str, Any]]] = [
    ("walk", {"walk": IMPACT}),
    ("walk and leaves", {"walk": IMPACT, "leaves": MEMBERS}),
    ("walk, depth cap", {"walk": IMPACT, "leaves": MEMBERS, "max_depth": 1}),
    ("walk, node cap", {"walk": IMPACT, "leaves": MEMBERS, "max_nodes": 3}),
    ("both ways", {"direction": Direction.BOTH}),
    ("both ways, typed", {"direction": Direction.BOTH, "types": ["MEMBER_OF", "RUNS_ON"]}),
]


@pytest.mark.parametrize(("label", "kw"), CALLS, ids=[c[0] for c in CALLS])
@pytest.mark.parametrize("past", [False, True], ids=["now", "as-of"])
def test_brief_names_what_the_full_answer_names(
    store: GraphStore, estate: dict[str, Any], label: str, kw: dict[str, Any], past: bool
) -> None:
    if past:
        kw = {**kw, "as_of": estate["before"]}
    full = store.subgraph([estate["vm1"]], **kw)
    brief = store.subgraph([estate["vm1"]], brief=True, **kw)
    _same(full, brief)
    assert full.edges, "the estate gives every call some edges to compare"


def test_the_walk_leaves_the_bookkeeping_unread(store: GraphStore, estate: dict[str, Any]) -> None:
    # Now, the walk goes no further than the cluster (app's RUNS_ON is retired).
    full = store.subgraph([estate["vm1"]], walk=IMPACT, leaves=MEMBERS)
    brief = store.subgraph([estate["vm1"]], walk=IMPACT, leaves=MEMBERS, brief=True)
    _same(full, brief)
    assert {c.name for c in brief.nodes.values()} == {"vm1", "vm2", "vm3", "vm4", "c"}
    cluster = brief.nodes[estate["c"]]
    assert cluster.redundancy is not None and cluster.redundancy.min_up == 2
    # What the impact engine never reads is not decoded on either store's walk.
    for ci in brief.nodes.values():
        for left_out in BRIEF_LEFT_OUT:
            with pytest.raises(AttributeError):
                getattr(ci, left_out)
    # A full answer still has every field.
    assert all(ci.sources for ci in full.nodes.values())


def test_a_missing_root_is_refused_in_brief_too(store: GraphStore) -> None:
    from cmdb.domain.errors import NotFound

    with pytest.raises(NotFound):
        store.subgraph(["ci_nope"], walk=IMPACT, brief=True)
    with pytest.raises(NotFound):
        store.subgraph(["ci_nope"], brief=True)
