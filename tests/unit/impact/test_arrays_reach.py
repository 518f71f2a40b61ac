"""``impact._arrays.reach`` against networkx: small levels walked in Python, hubs and big
levels with numpy, and every mix of the two (the thresholds are lowered so small graphs
cross them); ``first_unseen`` (reach's sort-free dedup) against a set."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import impact._arrays as arrays
from impact._arrays import Csr, first_unseen, reach


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]], list[int]]:
    n = draw(st.integers(1, 40))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=120))
    hubs = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3))
    # nodes with many edges, repeated targets included (parallel relationships)
    fans = [draw(st.lists(st.integers(0, n - 1), max_size=30)) for _ in hubs]
    sources = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=6))
    fanned = [(h, x) for h, fan in zip(hubs, fans, strict=True) for x in fan]
    return n, [*pairs, *fanned], sources


# (SMALL_LEVEL, WARM_LEVEL, HUB): all numpy; all Python but hubs; Python levels that mix
# walked nodes with several hubs; a switch to numpy once warm; the shipped values.
THRESHOLDS = [(0, 0, 0), (1, 1, 0), (40, 40, 3), (8, 0, 5), (3, 1, 2), (64, 32, 64)]


@pytest.mark.parametrize(("small", "warm", "hub"), THRESHOLDS)
@settings(max_examples=150, deadline=None)
@given(graphs())
def test_reach_is_networkx_descendants(
    small: int, warm: int, hub: int, g: tuple[int, list[tuple[int, int]], list[int]]
) -> None:
    n, edges, sources = g
    src = np.array([a for a, _ in edges], dtype=np.int64)
    dst = np.array([b for _, b in edges], dtype=np.int64)
    ref = nx.MultiDiGraph()
    ref.add_nodes_from(range(n))
    ref.add_edges_from(edges)
    want = set(sources).union(*(nx.descendants(ref, s) for s in sources))
    old = arrays.SMALL_LEVEL, arrays.WARM_LEVEL, arrays.HUB
    arrays.SMALL_LEVEL, arrays.WARM_LEVEL, arrays.HUB = small, warm, hub
    try:
        got = reach(Csr.build(src, n, far=dst), np.array(sources, dtype=np.int64), n)
    finally:
        arrays.SMALL_LEVEL, arrays.WARM_LEVEL, arrays.HUB = old
    assert got.dtype == np.bool_ and got.shape == (n,)
    assert set(np.flatnonzero(got).tolist()) == want
    got[0] = True  # callers may write into the mask


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 30).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.integers(0, n - 1), max_size=60),
            st.sets(st.integers(0, n - 1)),
        )
    )
)
def test_first_unseen_keeps_each_new_node_once(g: tuple[int, list[int], set[int]]) -> None:
    n, found, before = g
    seen = np.zeros(n, dtype=np.bool_)
    seen[list(before)] = True
    last = np.full(n, -7, dtype=np.int64)  # scratch: whatever it holds must not matter
    got = first_unseen(np.array(found, dtype=np.int64), seen, last).tolist()
    assert sorted(got) == sorted(set(found) - before)  # each new node exactly once
    assert set(np.flatnonzero(seen).tolist()) == before | set(found)
