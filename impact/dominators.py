"""Immediate dominators (Cooper, Harvey and Kennedy's iterative algorithm, on int arrays).

``d`` dominates ``v`` when every path from the root to ``v`` passes through ``d``. The
engine runs it on a service's dependency cone with the service as root and edges from each
CI to what it needs: the immediate dominator of a CI is then the nearest CI through which
*all* of its impact on the service flows (its "funnel"). See :mod:`impact.spof` for why
that is an explanation of a single point of failure rather than the test for one.
"""

from __future__ import annotations

import numpy as np

from impact._arrays import Csr, IntArray


def immediate_dominators(n: int, src: IntArray, dst: IntArray, root: int) -> IntArray:
    """``idom[v]`` for every node reachable from ``root`` (``idom[root] == root``), else -1."""
    succ = Csr.build(src, n)
    pred = Csr.build(dst, n)
    s_ptr, s_items, s_far = succ.ptr.tolist(), succ.items.tolist(), dst.tolist()
    p_ptr, p_items, p_far = pred.ptr.tolist(), pred.items.tolist(), src.tolist()

    # Post-order numbers from an iterative depth-first walk.
    po = [-1] * n
    order: list[int] = []
    visited = [False] * n
    visited[root] = True
    stack = [(root, s_ptr[root])]
    while stack:
        v, i = stack[-1]
        if i < s_ptr[v + 1]:
            stack[-1] = (v, i + 1)
            w = s_far[s_items[i]]
            if not visited[w]:
                visited[w] = True
                stack.append((w, s_ptr[w]))
            continue
        stack.pop()
        po[v] = len(order)
        order.append(v)

    idom = [-1] * n
    idom[root] = root
    rpo = order[::-1]
    changed = True
    while changed:
        changed = False
        for v in rpo:
            if v == root:
                continue
            new = -1
            for k in range(p_ptr[v], p_ptr[v + 1]):
                p = p_far[p_items[k]]
                if idom[p] < 0:
                    continue  # not processed yet (or unreachable)
                if new < 0:
                    new = p
                    continue
                a, b = p, new
                while a != b:
                    while po[a] < po[b]:
                        a = idom[a]
                    while po[b] < po[a]:
                        b = idom[b]
                new = a
            if new >= 0 and idom[v] != new:
                idom[v] = new
                changed = True
    return np.array(idom, dtype=np.int64)
