"""Random impact topologies for the property tests (hypothesis).

A topology is CIs 0..n-1 of a few classes and edges whose type follows the target's class:
MEMBER_OF into a Cluster (which declares ``min_up``), CONTAINS from an Application to an
ApplicationInstance (a replica group), DEPENDS_ON otherwise. ``acyclic`` keeps every edge
from a lower to a higher number in impact order, so structure-based answers can be checked
against enumeration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from cmdb.domain.model import CI, Relationship
from cmdb.store.contract import Subgraph
from tests.unit.impact.builders import ci, rel

CLASSES = ("Server", "Cluster", "Application", "ApplicationInstance", "Service")


@dataclass(frozen=True)
class Topology:
    classes: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]  # (cause, effect): a failure of cause impacts effect
    min_up: tuple[int, ...]  # per CI (used by clusters)

    def name(self, i: int) -> str:
        return f"n{i}"

    def cis(self) -> list[CI]:
        out = []
        for i, c in enumerate(self.classes):
            extra: dict[str, Any] = {}
            if c == "Cluster":
                members = sum(1 for a, b in self.edges if b == i)
                extra["redundancy"] = {"min_up": max(1, min(self.min_up[i], max(members, 1)))}
            out.append(ci(self.name(i), c, **extra))
        return out

    def rels(self, drop: set[tuple[int, int]] | None = None) -> list[Relationship]:
        out = []
        for a, b in self.edges:
            if drop and (a, b) in drop:
                continue
            ca, cb = self.classes[a], self.classes[b]
            if cb == "Cluster":
                out.append(rel(self.name(a), "MEMBER_OF", self.name(b)))
            elif cb == "Application" and ca == "ApplicationInstance":
                out.append(rel(self.name(b), "CONTAINS", self.name(a)))
            else:
                out.append(rel(self.name(b), "DEPENDS_ON", self.name(a)))
        return out

    def subgraph(self, drop: set[tuple[int, int]] | None = None) -> Subgraph:
        cis = self.cis()
        return Subgraph(
            roots=[cis[0].id],
            nodes={c.id: c for c in cis},
            edges=self.rels(drop),
            depth_reached=1,
        )


@st.composite
def topologies(draw: st.DrawFn, *, max_n: int = 9, acyclic: bool = False) -> Topology:
    n = draw(st.integers(min_value=2, max_value=max_n))
    classes = tuple(draw(st.sampled_from(CLASSES)) for _ in range(n))
    pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))
    raw = draw(st.lists(pairs, max_size=3 * n))
    edges: list[tuple[int, int]] = []
    for a, b in raw:
        if a == b:
            continue
        if acyclic and a > b:
            a, b = b, a
        if (a, b) not in edges:
            edges.append((a, b))
    min_up = tuple(draw(st.integers(1, 3)) for _ in range(n))
    return Topology(classes=classes, edges=tuple(edges), min_up=min_up)


@st.composite
def clustered(draw: st.DrawFn, *, max_n: int = 8) -> tuple[Topology, int]:
    """An acyclic topology with a cluster of >= 2 members whose quorum leaves slack for
    one member fewer, feeding the last CI (the service); returns it and the cluster."""
    t = draw(topologies(max_n=max_n, acyclic=True))
    n = len(t.classes) + 3
    c = n - 2
    classes = (*t.classes, "Server", "Cluster", "Service")
    members = draw(st.lists(st.integers(0, c - 1), min_size=2, max_size=4, unique=True))
    edges = [*t.edges, *((m, c) for m in members), (c, n - 1)]
    extra = draw(st.lists(st.integers(0, n - 2), max_size=3))
    edges += [(x, n - 1) for x in extra if (x, n - 1) not in edges]
    min_up = [*t.min_up, 1, draw(st.integers(1, len(members) - 1)), 1]
    return Topology(classes=classes, edges=tuple(dict.fromkeys(edges)), min_up=tuple(min_up)), c
