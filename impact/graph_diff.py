"""Which CIs' dependency cones can differ between two impact graphs of one estate.

A what-if proposal's diff compares each service's cone before and after the edits (its
CIs, impact edges, quorum groups and what the engine reads of each CI). Done service by
service that is a walk of every cone twice; on a 100k estate a proposal reaches hundreds
of services, most of whose cones hold nothing the proposal touches. :func:`touched_below`
answers for all of them at once, soundly: a CI it leaves out has the same cone in both
graphs.

Why that holds. How ``build_impact_graph`` treats a CI ``o`` (its incoming impact edges,
their types, how they are grouped and each group's quorum) depends only on ``o``'s
document, the relationships into it, and its members' documents (class and tier make
replica groups). So ``o`` can differ only if it is in one graph alone, its document
differs, an incoming impact edge differs, or a member's document differs. Call the first
three *touched*; the fourth makes ``o`` downstream of a touched CI (its member, in before,
or through an edge into ``o`` that only after has, which makes ``o`` touched). A cone is
the closure upstream of its service; if none of its CIs is touched, walking it in the
other graph meets the same CIs with the same edges and groups, so it is the same cone.
The CIs whose cone holds a touched CI are exactly those downstream of one: one closure
over the outgoing edges.
"""

from __future__ import annotations

import numpy as np

from impact._arrays import BoolArray, IntArray, reach
from impact.graph import TYPE_NAMES, ImpactGraph


def _edge_keys(g: ImpactGraph, index: IntArray, width: int) -> IntArray:
    """Each impact edge of ``g`` as one integer: (source, target, type), with node numbers
    mapped by ``index`` into a numbering both graphs share."""
    src, dst = index[g.src], index[g.dst]
    keys: IntArray = (src * width + dst) * len(TYPE_NAMES) + g.etype
    return keys


def touched_below(before: ImpactGraph, after: ImpactGraph) -> BoolArray:
    """Over ``before``'s CIs: True where the cone may differ in ``after`` (a touched CI is
    in it, see the module docstring); False where it is certainly the same."""
    n = before.n
    touched = np.zeros(n, dtype=np.bool_)
    # after's numbering -> before's; CIs only in after get numbers from n upwards.
    shared = np.array([before.pos.get(i, -1) for i in after.ids], dtype=np.int64)
    new = np.flatnonzero(shared < 0)
    shared[new] = n + np.arange(len(new), dtype=np.int64)
    width = n + len(new)
    in_after = np.zeros(n, dtype=np.bool_)
    in_after[shared[shared < n]] = True
    touched[~in_after] = True  # gone from after (retired or removed)
    # A document that differs; its owners are downstream of it in before, and an owner
    # only after has an edge from it that before lacks: both are reached below.
    for j, i in enumerate(shared.tolist()):
        if i < n:
            a, b = after.cis[j], before.cis[i]
            if a is not b and a != b:
                touched[i] = True
    identity = np.arange(n, dtype=np.int64)
    keys_b = _edge_keys(before, identity, width)
    keys_a = _edge_keys(after, shared, width)
    odd = np.setxor1d(keys_b, keys_a)
    targets = (odd // len(TYPE_NAMES)) % width
    touched[targets[targets < n]] = True
    return reach(before.out, np.flatnonzero(touched), n)
