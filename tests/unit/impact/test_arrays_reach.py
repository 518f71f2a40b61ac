"""``impact._arrays.reach`` against networkx: small levels walked in Python, hubs and big
levels with numpy, and every mix of the two (the thresholds are lowered so small graphs
cross them)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import impact._arrays as arrays
from impact._arrays import Csr, reach


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]], list[int]]:
    n = draw(st.integers(1, 40))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=120))
    hub = draw(st.integers(0, n - 1))
    fan = draw(st.lists(st.integers(0, n - 1), max_size=30))  # one node with many edges
    sources = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=6))
    return n, [*pairs, *((hub, x) for x in fan)], sources


@pytest.mark.parametrize("small", [0, 1, 3, 64])
@settings(max_examples=150, deadline=None)
@given(graphs())
def test_reach_is_networkx_descendants(
    small: int, g: tuple[int, list[tuple[int, int]], list[int]]
) -> None:
    n, edges, sources = g
    src = np.array([a for a, _ in edges], dtype=np.int64)
    dst = np.array([b for _, b in edges], dtype=np.int64)
    ref = nx.MultiDiGraph()
    ref.add_nodes_from(range(n))
    ref.add_edges_from(edges)
    want = set(sources).union(*(nx.descendants(ref, s) for s in sources))
    old = arrays.SMALL_LEVEL
    arrays.SMALL_LEVEL = small
    try:
        got = reach(Csr.build(src, n, far=dst), np.array(sources, dtype=np.int64), n)
    finally:
        arrays.SMALL_LEVEL = old
    assert got.dtype == np.bool_ and got.shape == (n,)
    assert set(np.flatnonzero(got).tolist()) == want
    got[0] = True  # callers may write into the mask
