"""Integer-array graph helpers the engine shares: CSR adjacency, vectorised BFS, SCCs.

The engine keeps its graphs as numpy arrays so a closure over tens of thousands of CIs is
a handful of vectorised steps per level rather than a Python loop per edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def unique(a: npt.NDArray[Any]) -> IntArray:
    """Sorted unique values (a sort is faster than ``np.unique``'s hashing for our sizes)."""
    if len(a) < 2:
        return a.astype(np.int64, copy=True)
    s = np.sort(a)
    keep = np.empty(len(s), dtype=np.bool_)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep].astype(np.int64, copy=False)


SMALL = 48  # below this many keys a Python loop over slices beats the vectorised gather


@dataclass(frozen=True)
class Csr:
    """Items grouped by a key: the items of key ``k`` are ``items[ptr[k]:ptr[k+1]]``.

    ``items`` are positions in the arrays the CSR was built from (edge numbers), so one
    CSR serves every per-edge attribute. ``nbr`` (when built with ``far``) holds each
    item's far end in the same order, so a closure reads neighbours as contiguous runs.
    """

    ptr: IntArray
    items: IntArray
    nbr: IntArray

    @classmethod
    def build(cls, keys: IntArray, n_keys: int, far: IntArray | None = None) -> Csr:
        order = np.argsort(keys, kind="stable").astype(np.int64)
        counts = np.bincount(keys, minlength=n_keys) if len(keys) else np.zeros(n_keys, np.int64)
        ptr = np.zeros(n_keys + 1, dtype=np.int64)
        np.cumsum(counts, out=ptr[1:])
        nbr = far[order] if far is not None else np.empty(0, dtype=np.int64)
        return cls(ptr=ptr, items=order, nbr=nbr)

    @cached_property
    def views(self) -> tuple[memoryview, memoryview]:
        """``ptr`` and ``nbr`` as memoryviews, for loops that read them an item at a time:
        contiguous memory read in place. Made once per CSR: numpy's buffer export costs
        several microseconds when its code is out of the CPU caches."""
        return self.ptr.data, self.nbr.data

    def of(self, key: int) -> IntArray:
        return self.items[self.ptr[key] : self.ptr[key + 1]]

    def positions(self, keys: IntArray) -> IntArray:
        """Where the keys' items sit in ``items`` (and ``nbr``), run after run."""
        starts = self.ptr[keys]
        ends = self.ptr[keys + 1]
        if len(keys) <= SMALL:
            runs = [np.arange(a, b) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
            return np.concatenate(runs) if runs else np.empty(0, dtype=np.int64)
        counts = ends - starts
        total = int(counts.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64)
        return np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)

    def gather(self, keys: IntArray) -> tuple[IntArray, IntArray]:
        """The items of every key in ``keys``, laid end to end, and which key each came from."""
        starts = self.ptr[keys]
        counts = self.ptr[keys + 1] - starts
        total = int(counts.sum())
        if total == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        owner = np.repeat(np.arange(len(keys), dtype=np.int64), counts)
        offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        return self.items[starts[owner] + offsets], owner


def bfs(
    csr: Csr,
    sources: IntArray,
    n: int,
    *,
    edge_ok: BoolArray | None = None,
) -> tuple[IntArray, IntArray]:
    """Level-synchronous BFS: (distance, edge that reached each node); -1 where unreached.

    ``csr`` groups edges by their near end and was built with their far ends. The parent
    is the lowest-numbered edge of the first level that reached the node, so paths are
    deterministic for a given graph.
    """
    dist = np.full(n, -1, dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    frontier = unique(sources)
    dist[frontier] = 0
    level = 0
    while len(frontier):
        at = csr.positions(frontier)
        edges, nxt = csr.items[at], csr.nbr[at]
        keep = dist[nxt] < 0
        if edge_ok is not None:
            keep &= edge_ok[edges]
        edges, nxt = edges[keep], nxt[keep]
        if not len(nxt):
            break
        # Keep the first (lowest) edge per newly reached node.
        order = np.lexsort((edges, nxt))
        edges, nxt = edges[order], nxt[order]
        first = np.ones(len(nxt), dtype=np.bool_)
        first[1:] = nxt[1:] != nxt[:-1]
        level += 1
        dist[nxt[first]] = level
        parent[nxt[first]] = edges[first]
        frontier = nxt[first]
    return dist, parent


def first_unseen(found: IntArray, seen: BoolArray, last: IntArray) -> IntArray:
    """The nodes of ``found`` not yet ``seen``, each once (in no set order), now marked seen.

    ``last`` is scratch as long as ``seen``. No sort: of a node's copies in ``found``, the
    last one written into ``last`` is the only one that reads its own index back.
    """
    idx = np.arange(len(found))
    last[found] = idx
    found = found[(last[found] == idx) > seen[found]]
    seen[found] = True
    return found


# Thresholds of reach(). A level's first numpy call costs tens of microseconds when numpy's
# code is out of the CPU caches (it is, for a closure asked between other work), and then a
# few microseconds a call; a node walked in Python costs a fraction of a microsecond.
SMALL_LEVEL = 64  # levels this small are walked in Python until numpy has been used ...
WARM_LEVEL = 32  # ... and from then on, only levels this small
HUB = 64  # a node with more edges than this has its run expanded with numpy


def reach(csr: Csr, sources: IntArray, n: int) -> BoolArray:
    """Nodes reachable from ``sources`` (sources included) over a CSR built with ``far``.

    Level by level; a small level (most closures an operator asks for are a server and the
    few dozen CIs on it) is expanded node by node in Python, which costs well under a
    microsecond a node, where a vectorised level is a dozen numpy calls whatever its size.
    Once a hub or a big level has paid for numpy's first calls, the next levels go to numpy
    sooner (``WARM_LEVEL``). Both kinds mark the same buffer: a bytearray for the Python
    loop, seen through numpy.
    """
    marks = bytearray(n)
    seen = np.frombuffer(marks, dtype=np.bool_)
    ptr, nbr = csr.views
    last: IntArray | None = None  # first_unseen's scratch, made at the first numpy level
    small = SMALL_LEVEL
    start: list[int] = []
    for v in sources.tolist():
        if not marks[v]:
            marks[v] = 1
            start.append(v)
    frontier: list[int] | IntArray = start
    while len(frontier):
        nxt: list[int] = []  # what the Python walk reached and marked
        if len(frontier) <= small:
            push = nxt.append
            hubs: list[IntArray] = []
            for v in frontier:
                a, b = ptr[v], ptr[v + 1]
                if b - a == 1:  # the usual CI (an app on one host): no slice to make
                    u = nbr[a]
                    if not marks[u]:
                        marks[u] = 1
                        push(u)
                    continue
                if b - a > HUB:  # a hub (a database many apps use): its run with numpy below
                    hubs.append(csr.nbr[a:b])
                    continue
                for u in nbr[a:b]:
                    if not marks[u]:
                        marks[u] = 1
                        push(u)
            if not hubs:
                frontier = nxt
                continue
            found = np.concatenate(hubs) if len(hubs) > 1 else hubs[0]
        else:
            keys = frontier if isinstance(frontier, np.ndarray) else np.array(frontier, np.int64)
            # The keys' runs laid end to end: the i-th item, in run k, is at i - (cs[k] - ends[k]).
            # (Subtractions only, and ptr[1:] rather than keys + 1: each kind of numpy call
            # costs several microseconds the first time in a closure, the CPU caches cold.)
            starts = csr.ptr[keys]
            ends = csr.ptr[1:][keys]
            counts = ends - starts
            cs = np.cumsum(counts)
            found = csr.nbr[np.arange(cs[-1]) - np.repeat(cs - ends, counts)]
        if last is None:
            last = np.empty(n, dtype=np.int64)
            small = WARM_LEVEL
        found = first_unseen(found, seen, last)
        if len(found) + len(nxt) <= small:
            nxt += found.tolist()
            frontier = nxt
        elif nxt:
            frontier = np.concatenate((found, np.array(nxt, dtype=np.int64)))
        else:
            frontier = found
    return seen


def topological_order(n: int, src: IntArray, dst: IntArray) -> IntArray | None:
    """Nodes with every edge's source before its target (Kahn, level by level), or None
    when there is a cycle. Cheaper than a strongly-connected pass for the usual DAG."""
    out = Csr.build(src, n, far=dst)
    indeg = np.bincount(dst, minlength=n) if len(dst) else np.zeros(n, dtype=np.int64)
    frontier = np.flatnonzero(indeg == 0)
    order = [frontier]
    done = len(frontier)
    while len(frontier):
        nxt = out.nbr[out.positions(frontier)]
        if not len(nxt):
            break
        hits = np.bincount(nxt, minlength=n)
        touched = np.flatnonzero(hits)
        indeg[touched] -= hits[touched]
        frontier = touched[indeg[touched] == 0]
        order.append(frontier)
        done += len(frontier)
    return np.concatenate(order) if done == n else None


def strongly_connected(n: int, src: IntArray, dst: IntArray) -> IntArray:
    """Component number per node (Tarjan, iterative); components come out in reverse
    topological order of the condensation: a component's successors have lower numbers."""
    out = Csr.build(src, n)
    ptr, items, succ = out.ptr.tolist(), out.items.tolist(), dst.tolist()
    index = [-1] * n
    low = [0] * n
    comp = [-1] * n
    on_stack = [False] * n
    stack: list[int] = []
    counter = n_comp = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        work: list[list[int]] = [[root, ptr[root]]]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            frame = work[-1]
            v, i = frame
            if i < ptr[v + 1]:
                frame[1] = i + 1
                w = succ[items[i]]
                if index[w] < 0:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append([w, ptr[w]])
                elif on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
                continue
            work.pop()
            if work:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
            if low[v] == index[v]:
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp[w] = n_comp
                    if w == v:
                        break
                n_comp += 1
    return np.array(comp, dtype=np.int64)
