"""GraphIndex.reach walks small levels node by node in Python and big ones with numpy: the
two must agree on everything a reach returns (nodes, edges, depth, truncation), on random
graphs with bulk-loaded and overlay edges, retired ones, type filters, per-type walks and
both caps."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import cmdb.store.index as index_module
from cmdb.store.index import GraphIndex

TYPES = ("DEPENDS_ON", "RUNS_ON", "HOSTED_ON", "CONTAINS")
Edge = tuple[int, int, str, bool]
edge = st.tuples(
    st.integers(0, 14), st.integers(0, 14), st.sampled_from(TYPES), st.booleans()
).filter(lambda e: e[0] != e[1])
types = st.none() | st.sets(st.sampled_from(TYPES), min_size=1)


def build(loaded: list[Edge], later: list[Edge]) -> GraphIndex:
    index = GraphIndex()
    first: dict[tuple[str, str, str], bool] = {}
    for s, d, t, active in loaded:
        first.setdefault((f"c{s}", f"c{d}", t), active)
    index.bulk_load([(*k, a) for k, a in first.items()])
    for s, d, t, active in later:  # the overlay, and state changes of known edges
        index.set_edge(f"c{s}", f"c{d}", t, active)
    return index


@settings(max_examples=300, deadline=None)
@given(
    loaded=st.lists(edge, max_size=50),
    later=st.lists(edge, max_size=15),
    roots=st.lists(st.integers(0, 16), min_size=1, max_size=3),
    forward=st.booleans(),
    backward=st.booleans(),
    kinds=types,
    walk=st.none() | st.tuples(st.sets(st.sampled_from(TYPES)), st.sets(st.sampled_from(TYPES))),
    max_depth=st.integers(0, 6),
    max_nodes=st.integers(1, 20),
)
def test_small_levels_in_python_equal_the_numpy_levels(
    loaded: list[Edge],
    later: list[Edge],
    roots: list[int],
    forward: bool,
    backward: bool,
    kinds: set[str] | None,
    walk: tuple[set[str], set[str]] | None,
    max_depth: int,
    max_nodes: int,
) -> None:
    index = build(loaded, later)
    ids = [f"c{r}" for r in roots]
    got = []
    old = index_module.SMALL_LEVEL, index_module.SMALL_EDGES
    # Every level with numpy; every level in Python; a mix (small levels with few edges).
    for small, few in ((0, 0), (10**6, 10**6), (2, 3)):
        index_module.SMALL_LEVEL, index_module.SMALL_EDGES = small, few
        try:
            r = index.reach(
                ids,
                forward=forward,
                backward=backward,
                types=kinds,
                max_depth=max_depth,
                max_nodes=max_nodes,
                walk=walk,
            )
        finally:
            index_module.SMALL_LEVEL, index_module.SMALL_EDGES = old
        got.append(
            (
                r.nodes.tolist(),
                r.depth_reached,
                r.truncated_by_depth,
                r.truncated_by_nodes,
                np.asarray(r.edges).tolist(),
            )
        )
    assert got[0] == got[1] == got[2]
