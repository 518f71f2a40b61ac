"""The in-memory graph index of the embedded store: compact arrays, level-synchronous BFS.

Edges live in growable numpy arrays (source, target, type, active); traversals run on a
CSR view built from them in both directions, so a whole closure is a few vectorised steps
per level instead of a Python loop per edge. Edges added after the CSR was built sit in a
small overlay until the next rebuild. Memory is a few bytes per edge plus one Python
string per CI id, which is what keeps the 1M-CI graph far below a networkx DiGraph.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cmdb.domain.relationships import REGISTRY

TYPE_CODES: dict[str, int] = {name: code for code, name in enumerate(REGISTRY)}
TYPE_NAMES: list[str] = list(REGISTRY)

IntArray = npt.NDArray[np.int64]


@dataclass
class Reach:
    """Nodes reached (as index positions) and the edges followed between them."""

    nodes: IntArray
    edges: IntArray
    depth_reached: int
    truncated_by_depth: bool
    truncated_by_nodes: bool


class _Csr:
    """Edges grouped by one endpoint: ``order[ptr[n]:ptr[n+1]]`` are node n's edges."""

    def __init__(self, key: npt.NDArray[np.int32], n_nodes: int) -> None:
        self.order = np.argsort(key, kind="stable").astype(np.int32)
        counts = np.bincount(key, minlength=n_nodes)
        self.ptr = np.zeros(n_nodes + 1, dtype=np.int64)
        np.cumsum(counts, out=self.ptr[1:])

    def edges_of(self, frontier: IntArray) -> npt.NDArray[np.int32]:
        frontier = frontier[frontier < len(self.ptr) - 1]
        starts = self.ptr[frontier]
        counts = self.ptr[frontier + 1] - starts
        total = int(counts.sum())
        if total == 0:
            return np.empty(0, dtype=np.int32)
        # Offsets of each frontier node's run of edges, laid end to end.
        run_starts = np.repeat(starts - (np.cumsum(counts) - counts), counts)
        return self.order[run_starts + np.arange(total)]


class GraphIndex:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.pos: dict[str, int] = {}
        cap = 1024
        self._src = np.zeros(cap, dtype=np.int32)
        self._dst = np.zeros(cap, dtype=np.int32)
        self._type = np.zeros(cap, dtype=np.int8)
        self._active = np.zeros(cap, dtype=np.bool_)
        self.n_edges = 0
        self._built_edges = 0
        self._built_nodes = 0
        self._out: _Csr | None = None
        self._in: _Csr | None = None
        self._overlay_out: dict[int, list[int]] = {}
        self._overlay_in: dict[int, list[int]] = {}

    # -- building ----------------------------------------------------------------------
    def node(self, ci_id: str) -> int:
        p = self.pos.get(ci_id)
        if p is None:
            p = len(self.ids)
            self.ids.append(ci_id)
            self.pos[ci_id] = p
        return p

    def _grow(self, need: int) -> None:
        cap = len(self._src)
        if need <= cap:
            return
        new_cap = max(need, cap * 2)
        for name in ("_src", "_dst", "_type", "_active"):
            old = getattr(self, name)
            arr = np.zeros(new_cap, dtype=old.dtype)
            arr[: self.n_edges] = old[: self.n_edges]
            setattr(self, name, arr)

    def _find(self, s: int, d: int, t: int) -> int | None:
        """The edge (s, t, d) if present: scans only s's own edges."""
        candidates: Iterable[int] = self._overlay_out.get(s, [])
        if self._out is not None and s < len(self._out.ptr) - 1:
            lo, hi = int(self._out.ptr[s]), int(self._out.ptr[s + 1])
            candidates = [*self._out.order[lo:hi].tolist(), *candidates]
        for e in candidates:
            if self._dst[e] == d and self._type[e] == t:
                return int(e)
        return None

    def set_edge(self, source_id: str, target_id: str, type_name: str, active: bool) -> None:
        s, d, t = self.node(source_id), self.node(target_id), TYPE_CODES[type_name]
        e = self._find(s, d, t)
        if e is not None:
            self._active[e] = active
            return
        self._grow(self.n_edges + 1)
        e = self.n_edges
        self._src[e], self._dst[e], self._type[e], self._active[e] = s, d, t, active
        self.n_edges += 1
        self._overlay_out.setdefault(s, []).append(e)
        self._overlay_in.setdefault(d, []).append(e)

    def bulk_load(self, rows: Sequence[tuple[str, str, str, bool]]) -> None:
        """Load many edges known to be new (the initial read from SQLite)."""
        n = len(rows)
        self._grow(self.n_edges + n)
        node, codes = self.node, TYPE_CODES
        base = self.n_edges
        src = np.fromiter((node(r[0]) for r in rows), dtype=np.int32, count=n)
        dst = np.fromiter((node(r[1]) for r in rows), dtype=np.int32, count=n)
        self._src[base : base + n] = src
        self._dst[base : base + n] = dst
        self._type[base : base + n] = np.fromiter((codes[r[2]] for r in rows), np.int8, n)
        self._active[base : base + n] = np.fromiter((r[3] for r in rows), np.bool_, n)
        self.n_edges += n
        self._rebuild()

    def _rebuild(self) -> None:
        m, n = self.n_edges, len(self.ids)
        self._out = _Csr(self._src[:m], n)
        self._in = _Csr(self._dst[:m], n)
        self._built_edges, self._built_nodes = m, n
        self._overlay_out.clear()
        self._overlay_in.clear()

    def _ensure_fresh(self) -> None:
        pending = self.n_edges - self._built_edges
        if self._out is None or pending > max(50_000, self._built_edges // 8):
            self._rebuild()

    # -- reading -----------------------------------------------------------------------
    def reach(
        self,
        roots: Iterable[str],
        *,
        forward: bool,
        backward: bool,
        types: Iterable[str] | None,
        max_depth: int,
        max_nodes: int,
    ) -> Reach:
        self._ensure_fresh()
        assert self._out is not None and self._in is not None
        n = len(self.ids)
        type_ok = np.ones(len(TYPE_NAMES), dtype=np.bool_)
        if types is not None:
            type_ok[:] = False
            type_ok[[TYPE_CODES[t] for t in types]] = True
        start = np.unique(np.array([self.pos[r] for r in roots if r in self.pos], dtype=np.int64))
        visited = np.zeros(n, dtype=np.bool_)
        visited[start] = True
        count = len(start)
        frontier = start
        followed: list[npt.NDArray[np.int32]] = []
        depth = 0
        by_depth = by_nodes = False
        while len(frontier):
            if depth >= max_depth:
                by_depth = self._has_more(frontier, forward, backward, type_ok, visited)
                break
            parts_e: list[npt.NDArray[np.int32]] = []
            parts_n: list[npt.NDArray[np.int32]] = []
            if forward:
                e = self._step(self._out, self._overlay_out, frontier, type_ok)
                parts_e.append(e)
                parts_n.append(self._dst[e])
            if backward:
                e = self._step(self._in, self._overlay_in, frontier, type_ok)
                parts_e.append(e)
                parts_n.append(self._src[e])
            edges = np.concatenate(parts_e)
            nbrs = np.concatenate(parts_n)
            new = np.unique(nbrs[~visited[nbrs]]).astype(np.int64)
            if count + len(new) > max_nodes:
                new = new[: max(0, max_nodes - count)]
                by_nodes = True
            followed.append(edges)
            if not len(new):
                break
            visited[new] = True
            count += len(new)
            depth += 1
            frontier = new
            if by_nodes:
                break
        all_edges = np.unique(np.concatenate(followed)) if followed else np.empty(0, np.int32)
        # Keep only edges whose both ends made it in (a node cap can cut a level short).
        keep = visited[self._src[all_edges]] & visited[self._dst[all_edges]]
        return Reach(
            nodes=np.flatnonzero(visited),
            edges=all_edges[keep].astype(np.int64),
            depth_reached=depth,
            truncated_by_depth=by_depth,
            truncated_by_nodes=by_nodes,
        )

    def _step(
        self,
        csr: _Csr,
        overlay: dict[int, list[int]],
        frontier: IntArray,
        type_ok: npt.NDArray[np.bool_],
    ) -> npt.NDArray[np.int32]:
        e = csr.edges_of(frontier)
        if overlay:
            extra = [x for f in frontier.tolist() if f in overlay for x in overlay[f]]
            if extra:
                e = np.concatenate([e, np.array(extra, dtype=np.int32)])
        return e[self._active[e] & type_ok[self._type[e]]]

    def _has_more(
        self,
        frontier: IntArray,
        forward: bool,
        backward: bool,
        type_ok: npt.NDArray[np.bool_],
        visited: npt.NDArray[np.bool_],
    ) -> bool:
        assert self._out is not None and self._in is not None
        for on, csr, overlay, far in (
            (forward, self._out, self._overlay_out, self._dst),
            (backward, self._in, self._overlay_in, self._src),
        ):
            if on:
                e = self._step(csr, overlay, frontier, type_ok)
                if len(e) and not visited[far[e]].all():
                    return True
        return False

    def edge(self, e: int) -> tuple[str, str, str]:
        return self.ids[self._src[e]], self.ids[self._dst[e]], TYPE_NAMES[self._type[e]]

    def nbytes(self) -> int:
        """Array memory (the id strings and dict come on top; the benchmark measures all)."""
        total = sum(a.nbytes for a in (self._src, self._dst, self._type, self._active))
        for csr in (self._out, self._in):
            if csr is not None:
                total += csr.order.nbytes + csr.ptr.nbytes
        return total
