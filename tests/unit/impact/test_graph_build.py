"""The impact view's build (vectorised with numpy) against the rules written out plainly;
and each CI's worst group (found for all CIs at once) against the loop per CI.

``reference`` below reads the links one by one into dicts, as the module docstring of
impact/graph.py states the rules: hard edges, cluster memberships, replica groups by
(parent, class, tier), grouping memberships; where two links join one pair the first
link wins; groups ordered hard (by source, target), clusters (by cluster, member), then
replica groups (by parent, class, tier, member). Random subgraphs mix every class kind,
link type, duplicate pairs, self-links, links to CIs not fetched and retired CIs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cmdb.domain.classes import is_a, is_grouping
from cmdb.domain.model import RETIRED_STATUSES
from cmdb.domain.relationships import REGISTRY, ImpactFlow
from cmdb.store.contract import Link, Subgraph
from impact.graph import (
    REPLICA_CLASSES,
    TYPE_CODE,
    GroupKind,
    build_impact_graph,
)
from impact.propagate import _grade, propagate
from impact.severity import FailureMode
from tests.unit.impact.builders import ci
from tests.unit.impact.strategies import Topology, topologies

CLASSES = (
    "Server",
    "VirtualMachine",
    "Cluster",
    "Application",
    "ApplicationInstance",
    "KubernetesWorkload",
    "Pod",
    "Container",
    "Location",
    "Service",
)
# Weighted towards the types that make groups, so that clusters, replica sets of mixed
# tiers and groupings of several members come up often.
TYPES = (*REGISTRY, "NOT_A_TYPE", *["CONTAINS"] * 8, *["MEMBER_OF"] * 3)


def reference(sub: Subgraph, replica_groups: bool = True) -> dict[str, Any]:
    live = {i: c for i, c in sub.nodes.items() if c.status not in RETIRED_STATUSES}
    ids = sorted(live)
    pos = {x: i for i, x in enumerate(ids)}
    cis = [live[x] for x in ids]
    hard: dict[tuple[int, int], int] = {}
    clusters: dict[int, dict[int, int]] = {}
    replicas: dict[tuple[int, str, str], dict[int, int]] = {}
    grouping: dict[tuple[int, int], int] = {}
    for link in sub.ends():
        rtype = REGISTRY.get(link.type)
        if rtype is None or rtype.impact is ImpactFlow.NONE:
            continue
        s, t = pos.get(link.source_id), pos.get(link.target_id)
        if s is None or t is None:
            continue
        u, v = (t, s) if rtype.impact is ImpactFlow.TARGET_TO_SOURCE else (s, t)
        if u == v:
            continue
        code, contains = TYPE_CODE[link.type], link.type == "CONTAINS"
        v_class, u_class = cis[v].ci_class, cis[u].ci_class
        if rtype.redundancy_membership and is_a(v_class, "Cluster"):
            clusters.setdefault(v, {}).setdefault(u, code)
        elif contains and is_grouping(v_class):
            grouping.setdefault((u, v), code)
        elif (
            replica_groups
            and contains
            and (is_a(v_class, "Application") or is_a(v_class, "KubernetesWorkload"))
            and u_class in REPLICA_CLASSES
        ):
            tier = str(cis[u].attributes.get("tier", ""))
            replicas.setdefault((v, u_class, tier), {}).setdefault(u, code)
        else:
            hard.setdefault((u, v), code)
    e_src, e_dst, e_type, e_group = [], [], [], []
    g_node, g_k, g_size, g_kind = [], [], [], []
    warnings: list[str] = []

    def group(v: int, members: dict[int, int], k: int, kind: GroupKind) -> None:
        g_node.append(v)
        g_k.append(k)
        g_size.append(len(members))
        g_kind.append(int(kind))
        for u, code in sorted(members.items()):
            e_src.append(u)
            e_dst.append(v)
            e_type.append(code)
            e_group.append(len(g_node) - 1)

    for (u, v), code in sorted(hard.items()):
        group(v, {u: code}, 1, GroupKind.HARD)
    for v, members in sorted(clusters.items()):
        red, n = cis[v].redundancy, len(members)
        k = n if red is None else red.required(n)
        if k > n:
            warnings.append(
                f"{cis[v].name} needs {k} members up but has {n}: treated as needing all"
            )
            k = n
        group(v, members, k, GroupKind.CLUSTER)
    for (v, _cls, _tier), members in sorted(replicas.items()):
        if len(members) == 1:
            group(v, members, 1, GroupKind.HARD)
            continue
        raw = cis[v].attributes.get("min_replicas", 1)
        if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
            warnings.append(
                f"{cis[v].name}: attributes.min_replicas {raw!r} is not a count; using 1"
            )
            k = 1
        else:
            k = min(raw, len(members))
        group(v, members, k, GroupKind.REPLICAS)
    memberships = sorted(grouping.items(), key=lambda m: (m[0][1], m[0][0]))
    return {
        "ids": ids,
        "src": e_src,
        "dst": e_dst,
        "etype": e_type,
        "egroup": e_group,
        "gnode": g_node,
        "gk": g_k,
        "gsize": g_size,
        "gkind": g_kind,
        "grp_src": [u for (u, _v), _c in memberships],
        "grp_dst": [v for (_u, v), _c in memberships],
        "grp_type": [c for _m, c in memberships],
        "warnings": warnings,
        "ignored": sorted(set(sub.nodes) - set(live)),
    }


@st.composite
def subgraphs(draw: st.DrawFn) -> Subgraph:
    n = draw(st.integers(1, 12))
    nodes = []
    for i in range(n):
        cls = draw(st.sampled_from((*CLASSES, "Application", "ApplicationInstance", "Pod")))
        fields: dict[str, Any] = {}
        if draw(st.integers(0, 5)) == 0:
            fields["status"] = draw(st.sampled_from(sorted(RETIRED_STATUSES)))
        attributes: dict[str, Any] = {}
        tier = draw(st.sampled_from([None, "web", "api", "api", 1, "1"]))
        if tier is not None:
            attributes["tier"] = tier
        if cls in ("Application", "KubernetesWorkload"):
            replicas = draw(st.sampled_from([None, 1, 2, 5, 0, "two", True]))
            if replicas is not None:
                attributes["min_replicas"] = replicas
        if cls == "Cluster" and draw(st.booleans()):
            fields["redundancy"] = {"min_up": draw(st.integers(1, 4))}
        nodes.append(ci(f"c{i:02d}", cls, attributes=attributes, **fields))
    # Ends past n name CIs that were not fetched.
    end = st.integers(0, n)
    links = draw(
        st.lists(st.tuples(st.sampled_from(TYPES), end, end), max_size=40).map(
            lambda ls: [Link(t, f"c{a:02d}", f"c{b:02d}") for t, a, b in ls]
        )
    )
    # Links that make groups, on purpose: parents containing several replicas (of one
    # tier or several), clusters with several members, groupings of several CIs.
    classes = [c.ci_class for c in nodes]

    def of(*names: str) -> list[int]:
        return [i for i, c in enumerate(classes) if c in names] or [n]

    parents = of("Application", "KubernetesWorkload")
    copies = of("ApplicationInstance", "Pod", "Container")
    for _ in range(draw(st.integers(0, 4))):
        p = draw(st.sampled_from(parents))
        for c in draw(st.lists(st.sampled_from(copies), min_size=1, max_size=4)):
            links.append(Link("CONTAINS", f"c{p:02d}", f"c{c:02d}"))
    for kind, into in (("MEMBER_OF", of("Cluster")), ("CONTAINS", of("Location"))):
        for _ in range(draw(st.integers(0, 3))):
            v = draw(st.sampled_from(into))
            for u in draw(st.lists(end, min_size=1, max_size=4)):
                a, b = (u, v) if kind == "MEMBER_OF" else (v, u)
                links.append(Link(kind, f"c{a:02d}", f"c{b:02d}"))
    # In the stores' order (by type, then ends), duplicates kept; sometimes unsorted.
    if draw(st.booleans()):
        links.sort()
    return Subgraph(
        roots=[nodes[0].id],
        nodes={c.id: c for c in nodes},
        edges=[],
        links=links,
        depth_reached=1,
    )


@settings(max_examples=200, deadline=None)
@given(sub=subgraphs(), replica_groups=st.booleans())
def test_the_built_view_follows_the_rules(sub: Subgraph, replica_groups: bool) -> None:
    want = reference(sub, replica_groups)
    g = build_impact_graph(sub, replica_groups=replica_groups)
    got = {
        "ids": g.ids,
        "src": g.src.tolist(),
        "dst": g.dst.tolist(),
        "etype": g.etype.tolist(),
        "egroup": g.egroup.tolist(),
        "gnode": g.gnode.tolist(),
        "gk": g.gk.tolist(),
        "gsize": g.gsize.tolist(),
        "gkind": g.gkind.tolist(),
        "grp_src": g.grp_src.tolist(),
        "grp_dst": g.grp_dst.tolist(),
        "grp_type": g.grp_type.tolist(),
        "warnings": g.warnings,
        "ignored": g.ignored,
    }
    assert got == want
    for arr in (g.src, g.dst, g.etype, g.egroup, g.gnode, g.gk, g.gsize, g.gkind, g.grp_type):
        assert arr.dtype == np.int64
    # The members of each group are the sources of its edges, by group.
    for grp in range(g.n_groups):
        members = [want["src"][e] for e, x in enumerate(want["egroup"]) if x == grp]
        assert g.members(grp) == members


@settings(max_examples=150, deadline=None)
@given(t=topologies(), data=st.data())
def test_the_worst_group_of_each_ci_is_its_first_worst_edge(t: Topology, data: Any) -> None:
    # Propagation finds each CI's worst group for all CIs at once; the rule, CI by CI: of
    # the edges into it (by edge number), the first whose group grades it worst.
    g = build_impact_graph(t.subgraph())
    failed = data.draw(st.sets(st.integers(0, g.n - 1), min_size=1, max_size=3))
    prop = propagate(g, {g.ids[i]: FailureMode.DOWN for i in failed})
    grades = _grade(g.gsize, g.gk, prop.down_count, prop.degraded_count, prop.any_count)
    for v in range(g.n):
        worst, best = 0, -1
        for e in g.inc.of(v).tolist():
            if grades[g.egroup[e]] > worst:
                worst, best = int(grades[g.egroup[e]]), e
        want = (int(g.egroup[best]), best) if best >= 0 else (-1, -1)
        assert prop.worst_group(v) == want
