"""The in-memory graph index of the embedded store: compact arrays, level-synchronous BFS.

Edges live in growable numpy arrays (source, target, type, active); traversals run on a
CSR view built from them in both directions, so a whole closure is a few vectorised steps
per level instead of a Python loop per edge. Edges added after the CSR was built sit in a
small overlay until the next rebuild. Memory is a few bytes per edge plus one Python
string per CI id, which is what keeps the 1M-CI graph far below a networkx DiGraph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from cmdb.domain.relationships import REGISTRY

TYPE_CODES: dict[str, int] = {name: code for code, name in enumerate(REGISTRY)}
TYPE_NAMES: list[str] = list(REGISTRY)

IntArray = npt.NDArray[np.int64]
# Edge positions: 32 bits while they fit, else 64.
PosArray = npt.NDArray[np.signedinteger[Any]]


@dataclass
class Reach:
    """Nodes reached (as index positions) and the edges followed between them.

    ``edges`` is collected on first use, so a caller that needs only the nodes does not
    pay for it; like edge numbers in general, read it before the index changes again.
    """

    nodes: IntArray
    depth_reached: int
    truncated_by_depth: bool
    truncated_by_nodes: bool
    collect_edges: Callable[[], IntArray] = field(repr=False)

    @cached_property
    def edges(self) -> IntArray:
        return self.collect_edges()


class _Csr:
    """Edges grouped by one endpoint: ``order[ptr[n]:ptr[n+1]]`` are node n's edges.

    ``far[i]`` is the other endpoint of edge ``order[i]``, kept in the same order so a
    traversal reads neighbours as contiguous runs. When the edge arrays themselves are
    sorted by this endpoint (the outgoing side, see ``GraphIndex._rebuild``), ``order`` and
    ``far`` are None: position i is edge i and its far end is the edge's target.
    """

    def __init__(
        self, key: npt.NDArray[np.int32], far: npt.NDArray[np.int32] | None, n_nodes: int
    ) -> None:
        self.order: npt.NDArray[np.int32] | None = None
        self.far: npt.NDArray[np.int32] | None = None
        if far is not None:
            self.order = np.argsort(key, kind="stable").astype(np.int32)
            self.far = far[self.order]
        counts = np.bincount(key, minlength=n_nodes)
        # Positions in 32 bits while they fit: half the memory traffic of a traversal.
        self.ptr: PosArray = np.zeros(n_nodes + 1, dtype=np.int32 if len(key) < 2**31 else np.int64)
        np.cumsum(counts, out=self.ptr[1:])

    def positions(self, frontier: npt.NDArray[np.signedinteger[Any]]) -> PosArray:
        """Where the frontier nodes' edges sit, run after run (``frontier`` is sorted)."""
        if len(frontier) and frontier[-1] >= len(self.ptr) - 1:
            frontier = frontier[frontier < len(self.ptr) - 1]  # nodes newer than the CSR
        starts = self.ptr[frontier]
        counts = self.ptr[1:][frontier]
        counts -= starts
        ends = counts.cumsum(dtype=self.ptr.dtype)
        total = int(ends[-1]) if len(ends) else 0
        if total == 0:
            return np.empty(0, dtype=self.ptr.dtype)
        # Offsets of each frontier node's run of edges, laid end to end.
        starts -= ends
        starts += counts
        run_starts: PosArray = starts.repeat(counts)
        run_starts += np.arange(total, dtype=self.ptr.dtype)
        return run_starts

    def edges_at(self, at: PosArray) -> PosArray:
        return at if self.order is None else self.order[at]


def _sorted_unique(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``np.unique`` by sorting (numpy >= 2.3's hash-based unique is far slower here)."""
    if len(a) < 2:
        return a.copy()
    a = np.sort(a)
    keep = np.empty(len(a), dtype=np.bool_)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


_ALL = np.ones(len(TYPE_NAMES), dtype=np.bool_)
SMALL_LEVEL = 32  # frontier nodes a level expands in Python rather than with numpy calls
SMALL_EDGES = 256  # ... as long as they have no more edges than this
_Spec = tuple["_Csr", dict[int, list[int]], npt.NDArray[np.int32], npt.NDArray[np.bool_] | None]


def _mask(types: Iterable[str]) -> npt.NDArray[np.bool_]:
    ok = np.zeros(len(TYPE_NAMES), dtype=np.bool_)
    ok[[TYPE_CODES[t] for t in types]] = True
    return ok


def _none_if_all(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_] | None:
    return None if mask is _ALL else mask


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
        self._n_inactive = 0  # retired edges: while there are none, reads skip the check
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
            own = range(lo, hi) if self._out.order is None else self._out.order[lo:hi].tolist()
            candidates = [*own, *candidates]
        for e in candidates:
            if self._dst[e] == d and self._type[e] == t:
                return int(e)
        return None

    def set_edge(self, source_id: str, target_id: str, type_name: str, active: bool) -> None:
        s, d, t = self.node(source_id), self.node(target_id), TYPE_CODES[type_name]
        e = self._find(s, d, t)
        if e is not None:
            if bool(self._active[e]) != active:
                self._n_inactive += -1 if active else 1
            self._active[e] = active
            return
        self._grow(self.n_edges + 1)
        e = self.n_edges
        self._src[e], self._dst[e], self._type[e], self._active[e] = s, d, t, active
        self.n_edges += 1
        self._n_inactive += 0 if active else 1
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
        self._n_inactive += n - int(np.count_nonzero(self._active[base : base + n]))
        self.n_edges += n
        self._rebuild()

    def _rebuild(self) -> None:
        """Renumber the edges in source order and build both CSRs (clears the overlay).

        Edge numbers change here: a caller uses the numbers a ``reach`` returned before
        anything else can rebuild (the store holds its index lock across both).
        """
        m, n = self.n_edges, len(self.ids)
        perm = np.argsort(self._src[:m], kind="stable")
        for name in ("_src", "_dst", "_type", "_active"):
            arr = getattr(self, name)
            arr[:m] = arr[:m][perm]
        self._out = _Csr(self._src[:m], None, n)
        self._in = _Csr(self._dst[:m], self._src[:m], n)
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
        walk: tuple[Iterable[str], Iterable[str]] | None = None,
    ) -> Reach:
        """Breadth-first from ``roots``: along edges (``forward``) and/or against them
        (``backward``) over ``types``, or, given ``walk`` = (types followed along, types
        followed against), each type its own way (``forward``/``backward``/``types`` are
        then ignored)."""
        self._ensure_fresh()
        specs = self._specs(forward, backward, types, walk)
        n = len(self.ids)
        get = self.pos.get
        start = _sorted_unique(
            np.array([p for r in roots if (p := get(r)) is not None], dtype=np.int64)
        )
        # One buffer, marked from Python (small levels) and through numpy (big ones).
        marks = bytearray(n)
        visited = np.frombuffer(marks, dtype=np.bool_)
        visited[start] = True
        scratch: npt.NDArray[np.bool_] | None = None
        count = len(start)
        frontier: IntArray = start
        levels = [start]  # the nodes each level added: disjoint
        followed: list[npt.NDArray[Any]] = []
        depth = 0
        by_depth = by_nodes = False
        while len(frontier):
            if depth >= max_depth:
                by_depth = self._has_more(frontier, specs, visited)
                break
            small = (
                self._small_step(specs, frontier.tolist(), marks)
                if len(frontier) <= SMALL_LEVEL
                else None
            )
            edges: npt.NDArray[Any]
            new: npt.NDArray[Any]
            if small is not None:
                edges, new = small
            else:
                edges, nbrs = self._steps(specs, frontier)
                if len(nbrs) * 16 < n:
                    unseen = visited[nbrs]
                    np.logical_not(unseen, out=unseen)
                    new = _sorted_unique(nbrs[unseen])
                else:  # a big level: mark, drop the visited, collect in passes over the nodes
                    if scratch is None:
                        scratch = np.zeros(n, dtype=np.bool_)
                    scratch[nbrs] = True
                    np.greater(scratch, visited, out=scratch)  # marked and not yet visited
                    new = np.flatnonzero(scratch)
                    scratch.fill(False)
            if count + len(new) > max_nodes:
                new = new[: max(0, max_nodes - count)]
                by_nodes = True
            followed.append(edges)
            if not len(new):
                break
            visited[new] = True
            levels.append(new)
            count += len(new)
            depth += 1
            frontier = new
            if by_nodes:
                break
        if count * 16 < n:  # few nodes: sorting them beats a pass over all the nodes
            nodes = np.sort(np.concatenate(levels)).astype(np.int64, copy=False)
        else:
            nodes = np.flatnonzero(visited)
        return Reach(
            nodes=nodes,
            depth_reached=depth,
            truncated_by_depth=by_depth,
            truncated_by_nodes=by_nodes,
            collect_edges=lambda: self._collect(followed, visited if by_nodes else None),
        )

    def _collect(
        self, followed: list[npt.NDArray[Any]], cut: npt.NDArray[np.bool_] | None
    ) -> IntArray:
        """The followed edges, sorted and unique (both ways, an edge is seen from each end)."""
        if not followed:
            return np.empty(0, np.int64)
        edges = np.concatenate(followed)
        if len(edges) * 16 < self.n_edges:
            edges = _sorted_unique(edges)
        else:  # many edges: mark and collect in one pass over the edges, no sort
            marks = np.zeros(self.n_edges, dtype=np.bool_)
            marks[edges] = True
            edges = np.flatnonzero(marks)
        if cut is not None:
            # Keep only edges whose both ends made it in (the node cap cut a level short).
            edges = edges[cut[self._src[edges]] & cut[self._dst[edges]]]
        return edges.astype(np.int64, copy=False)

    def _step(
        self,
        csr: _Csr,
        overlay: dict[int, list[int]],
        far: npt.NDArray[np.int32],
        frontier: IntArray,
        type_ok: npt.NDArray[np.bool_] | None,
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        """The frontier's followable edges and, for each, the node at its far end."""
        at = csr.positions(frontier)
        e = csr.edges_at(at)
        nb = far[at] if csr.far is None else csr.far[at]
        if overlay:
            extra = [x for f in frontier.tolist() if f in overlay for x in overlay[f]]
            if extra:
                x = np.array(extra, dtype=np.int32)
                e, nb = np.concatenate([e, x]), np.concatenate([nb, far[x]])
        if type_ok is not None:
            ok = self._active[e] & type_ok[self._type[e]]
        elif self._n_inactive:
            ok = self._active[e]
        else:
            return e, nb
        return e[ok], nb[ok]

    def _small_step(
        self, specs: list[_Spec], frontier: list[int], marks: bytearray
    ) -> tuple[IntArray, IntArray] | None:
        """``_steps`` for a few frontier nodes, node by node in Python: the followable
        edges, and the far ends not yet visited (sorted, unique). A few dozen nodes cost
        less this way than the dozen numpy calls of a vectorised level; None when they
        have too many edges for that (a hub: a database every app uses)."""
        runs = 0
        for csr, overlay, _far, _ok in specs:
            ptr, n_built = csr.ptr.data, len(csr.ptr) - 1
            for v in frontier:
                if v < n_built:
                    runs += ptr[v + 1] - ptr[v]
                if overlay:
                    runs += len(overlay.get(v, ()))
        if runs > SMALL_EDGES:
            return None
        edges: list[int] = []
        found: set[int] = set()
        active = self._active.data
        kinds = self._type.data
        check_active = self._n_inactive > 0
        for csr, overlay, far, type_ok in specs:
            ptr = csr.ptr.data
            order = None if csr.order is None else csr.order.data
            near_far = far.data if csr.far is None else csr.far.data
            far_all = far.data
            ok = None if type_ok is None else type_ok.tolist()
            n_built = len(csr.ptr) - 1
            for v in frontier:
                if v < n_built:
                    for i in range(ptr[v], ptr[v + 1]):
                        e = i if order is None else order[i]
                        if ok is not None:
                            if not (active[e] and ok[kinds[e]]):
                                continue
                        elif check_active and not active[e]:
                            continue
                        edges.append(e)
                        u = near_far[i]
                        if not marks[u]:
                            found.add(u)
                for e in overlay.get(v, ()):
                    if ok is not None:
                        if not (active[e] and ok[kinds[e]]):
                            continue
                    elif check_active and not active[e]:
                        continue
                    edges.append(e)
                    u = far_all[e]
                    if not marks[u]:
                        found.add(u)
        return np.array(edges, dtype=np.int64), np.array(sorted(found), dtype=np.int64)

    def _has_more(
        self, frontier: IntArray, specs: list[_Spec], visited: npt.NDArray[np.bool_]
    ) -> bool:
        for csr, overlay, far, type_ok in specs:
            _, nb = self._step(csr, overlay, far, frontier, type_ok)
            if len(nb) and not visited[nb].all():
                return True
        return False

    def _specs(
        self,
        forward: bool,
        backward: bool,
        types: Iterable[str] | None,
        walk: tuple[Iterable[str], Iterable[str]] | None,
    ) -> list[_Spec]:
        """What one step reads: (CSR, overlay, far ends, type mask) per direction."""
        assert self._out is not None and self._in is not None
        if walk is not None:
            along, against = (list(w) for w in walk)
            masks = [_mask(along) if along else None, _mask(against) if against else None]
        else:
            mask = _mask(types) if types is not None else None
            masks = [mask if forward else None, mask if backward else None]
            if forward and types is None:
                masks[0] = _ALL
            if backward and types is None:
                masks[1] = _ALL
        specs: list[_Spec] = []
        if masks[0] is not None:
            specs.append((self._out, self._overlay_out, self._dst, _none_if_all(masks[0])))
        if masks[1] is not None:
            specs.append((self._in, self._overlay_in, self._src, _none_if_all(masks[1])))
        return specs

    def _steps(
        self, specs: list[_Spec], frontier: IntArray
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        parts = [self._step(csr, ov, far, frontier, ok) for csr, ov, far, ok in specs]
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return np.empty(0, np.int32), np.empty(0, np.int32)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def one_step(
        self, nodes: IntArray, walk: tuple[Iterable[str], Iterable[str]]
    ) -> tuple[IntArray, IntArray]:
        """From ``nodes`` (sorted positions), one step each type its own way: the edges
        and the far ends not in ``nodes`` (sorted, unique)."""
        self._ensure_fresh()
        specs = self._specs(False, False, None, walk)
        edges, nbrs = self._steps(specs, nodes)
        inside = np.zeros(len(self.ids), dtype=np.bool_)
        inside[nodes] = True
        new = _sorted_unique(nbrs[~inside[nbrs]]).astype(np.int64, copy=False)
        return edges.astype(np.int64, copy=False), new

    def edges_among(
        self, node_ids: Iterable[str], types: Iterable[str] | None
    ) -> list[tuple[str, str, str]]:
        """The active edges (of ``types``, or any) with both ends among ``node_ids``, as
        (source id, target id, type): what a subgraph shows between the CIs it reached.
        Read from the nodes' own outgoing runs, so it costs what those nodes have."""
        self._ensure_fresh()
        assert self._out is not None
        get = self.pos.get
        nodes = _sorted_unique(
            np.array([p for i in node_ids if (p := get(i)) is not None], dtype=np.int64)
        )
        if not len(nodes):
            return []
        inside = np.zeros(len(self.ids), dtype=np.bool_)
        inside[nodes] = True
        edges = self._out.edges_at(self._out.positions(nodes)).astype(np.int64, copy=False)
        added = [e for s in nodes.tolist() for e in self._overlay_out.get(s, ())]
        if added:
            edges = np.concatenate([edges, np.array(added, dtype=np.int64)])
        keep = inside[self._dst[edges]] & self._active[edges]
        if types is not None:
            keep &= _mask(types)[self._type[edges]]
        edges = edges[keep]
        ids = self.ids
        return [
            (ids[s], ids[d], TYPE_NAMES[t])
            for s, d, t in zip(
                self._src[edges].tolist(),
                self._dst[edges].tolist(),
                self._type[edges].tolist(),
                strict=True,
            )
        ]

    def edge(self, e: int) -> tuple[str, str, str]:
        return self.ids[self._src[e]], self.ids[self._dst[e]], TYPE_NAMES[self._type[e]]

    def nbytes(self) -> int:
        """Array memory (the id strings and dict come on top; the benchmark measures all)."""
        total = sum(a.nbytes for a in (self._src, self._dst, self._type, self._active))
        for csr in (self._out, self._in):
            if csr is not None:
                total += csr.ptr.nbytes
                if csr.order is not None and csr.far is not None:
                    total += csr.order.nbytes + csr.far.nbytes
        return total


@dataclass
class Walked:
    """A per-type walk with its leaves, as CI ids: the walk's own CIs nearest first."""

    walked: list[str]
    leaves: list[str]
    depth_reached: int
    truncated_by_depth: bool
    truncated_by_nodes: bool


def walk_closure(
    index: GraphIndex,
    roots: Sequence[str],
    walk: tuple[Iterable[str], Iterable[str]],
    leaves: tuple[Iterable[str], Iterable[str]] | None,
    max_depth: int,
    max_nodes: int,
) -> Walked:
    """``GraphStore.subgraph(walk=..., leaves=...)`` over an index (both stores' as-of
    path, and the embedded store's present): the walk, then one step to the leaves, which
    fill what the node cap leaves, by id."""
    cap = max(max_nodes, len(roots))
    r = index.reach(
        roots,
        forward=False,
        backward=False,
        types=None,
        max_depth=max_depth,
        max_nodes=cap,
        walk=walk,
    )
    walked = [index.ids[i] for i in r.nodes.tolist()]
    found: list[str] = []
    by_nodes = r.truncated_by_nodes
    if leaves is not None and not by_nodes:
        _, new = index.one_step(r.nodes, leaves)
        found = sorted(index.ids[i] for i in new.tolist())
        room = cap - len(walked)
        if len(found) > room:
            found, by_nodes = found[:room], True
    return Walked(walked, found, r.depth_reached, r.truncated_by_depth, by_nodes)
