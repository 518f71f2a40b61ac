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
replica groups). A cone is the closure upstream of its service, so a cone is the same in
both graphs when each of its CIs is in both, has the same incoming impact edges (one
numpy comparison of the two graphs' edges), the same groups, and a document the engine
reads the same (``same_doc``, the caller's rule: the proposal diff's per-CI comparison).
Groups can only differ at a CI whose document differs or at an owner of one: those few
are compared group by group. A CI failing any of this is *touched*; the CIs whose cone
holds a touched CI are exactly those downstream of one: one closure over the outgoing
edges. A document that differs in nothing the engine reads (a note on a VM every service
uses) touches nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cmdb.domain.model import CI
from impact._arrays import BoolArray, Csr, IntArray, reach
from impact.graph import TYPE_NAMES, ImpactGraph


def _edge_keys(g: ImpactGraph, index: IntArray, width: int) -> IntArray:
    """Each impact edge of ``g`` as one integer: (source, target, type), with node numbers
    mapped by ``index`` into a numbering both graphs share."""
    src, dst = index[g.src], index[g.dst]
    keys: IntArray = (src * width + dst) * len(TYPE_NAMES) + g.etype
    return keys


def _groups(g: ImpactGraph, by_node: Csr, v: int) -> set[tuple[int, int, frozenset[str]]]:
    """``v``'s groups as (needed, kind, member ids): comparable across graphs."""
    ids, src, gm = g.ids, g.src, g.gmem
    return {
        (int(g.gk[k]), int(g.gkind[k]), frozenset(ids[int(src[e])] for e in gm.of(k).tolist()))
        for k in by_node.of(v).tolist()
    }


def touched_below(
    before: ImpactGraph, after: ImpactGraph, same_doc: Callable[[CI, CI], bool]
) -> BoolArray:
    """Over ``before``'s CIs: True where the cone may differ in ``after`` (a touched CI is
    in it, see the module docstring); False where it is certainly the same. ``same_doc``:
    whether the engine reads the same of two versions of a CI's document."""
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
    identity = np.arange(n, dtype=np.int64)
    keys_b = _edge_keys(before, identity, width)
    keys_a = _edge_keys(after, shared, width)
    odd = np.setxor1d(keys_b, keys_a)
    targets = (odd // len(TYPE_NAMES)) % width
    touched[targets[targets < n]] = True
    differ: list[tuple[int, int]] = []  # (in before, in after)
    for j, i in enumerate(shared.tolist()):
        if i < n:
            a, b = after.cis[j], before.cis[i]
            if a is not b and a != b:
                if same_doc(a, b):
                    differ.append((i, j))
                else:
                    touched[i] = True
    if differ:
        groups_b = Csr.build(before.gnode, n)
        groups_a = Csr.build(after.gnode, after.n)
        check: set[int] = set()  # in before's numbering: those differing and their owners
        for i, j in differ:
            check.add(i)
            check.update(before.out.nbr[before.out.ptr[i] : before.out.ptr[i + 1]].tolist())
            owners_a = shared[after.out.nbr[after.out.ptr[j] : after.out.ptr[j + 1]]]
            check.update(owners_a[owners_a < n].tolist())
        for i in check:
            if touched[i]:
                continue
            j = after.pos[before.ids[i]]
            if _groups(before, groups_b, i) != _groups(after, groups_a, j):
                touched[i] = True
    return reach(before.out, np.flatnonzero(touched), n)
