"""GraphIndex.edges_among against the definition, on random graphs: bulk-loaded edges,
edges added after (the overlay), retired and reactivated ones, and a type filter."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cmdb.store.index import GraphIndex

TYPES = ("DEPENDS_ON", "RUNS_ON", "HOSTED_ON", "CONTAINS")
Edge = tuple[int, int, str, bool]
edge = st.tuples(
    st.integers(0, 11), st.integers(0, 11), st.sampled_from(TYPES), st.booleans()
).filter(lambda e: e[0] != e[1])


@settings(max_examples=150, deadline=None)
@given(
    loaded=st.lists(edge, max_size=40),
    later=st.lists(edge, max_size=15),
    among=st.sets(st.integers(0, 13), max_size=14),
    types=st.none() | st.sets(st.sampled_from(TYPES), min_size=1),
)
def test_edges_among_is_the_active_edges_inside_the_set(
    loaded: list[Edge], later: list[Edge], among: set[int], types: set[str] | None
) -> None:
    index = GraphIndex()
    truth: dict[tuple[str, str, str], bool] = {}
    first: dict[tuple[str, str, str], bool] = {}
    for s, d, t, active in loaded:
        first.setdefault((f"c{s}", f"c{d}", t), active)  # bulk_load takes new edges only
    index.bulk_load([(*k, a) for k, a in first.items()])
    truth.update(first)
    for s, d, t, active in later:  # new edges go to the overlay, known ones change state
        index.set_edge(f"c{s}", f"c{d}", t, active)
        truth[(f"c{s}", f"c{d}", t)] = active
    ids = {f"c{i}" for i in among}
    want = {
        k
        for k, active in truth.items()
        if active and k[0] in ids and k[1] in ids and (types is None or k[2] in types)
    }
    got = index.edges_among(sorted(ids), types)
    assert len(got) == len(set(got))
    assert set(got) == want
