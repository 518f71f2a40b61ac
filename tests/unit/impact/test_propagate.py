"""Propagation on hand-drawn topologies: quorum at and around k, diamonds, cycles, caps."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from impact.graph import GroupKind
from impact.propagate import propagate
from impact.severity import FailureMode, Severity
from tests.unit.impact.builders import topo
from tests.unit.impact.strategies import Topology, topologies

DOWN, DEGRADED = FailureMode.DOWN, FailureMode.DEGRADED
UP, AT_RISK, DEG, DWN = Severity.UP, Severity.AT_RISK, Severity.DEGRADED, Severity.DOWN

# app runs on a cluster of three VMs that needs two up (the sample's shape).
CLUSTER = topo(
    "app:ApplicationInstance c:Cluster v1:VirtualMachine v2:VirtualMachine v3:VirtualMachine",
    "app RUNS_ON c, v1 MEMBER_OF c, v2 MEMBER_OF c, v3 MEMBER_OF c",
    extra={"c": {"redundancy": {"min_up": 2}}},
)


def sev(graph, failures, **kw):  # type: ignore[no-untyped-def]
    p = propagate(graph, failures, **kw)
    return {graph.ids[i]: Severity(int(p.sev[i])) for i in range(graph.n)}


def test_quorum_at_and_around_k() -> None:
    assert sev(CLUSTER, {})["app"] is UP
    one = sev(CLUSTER, {"v1": DOWN})
    assert one["c"] is AT_RISK and one["app"] is AT_RISK  # 2 of 3 up, 2 needed
    two = sev(CLUSTER, {"v1": DOWN, "v2": DOWN})
    assert two["c"] is DWN and two["app"] is DWN  # 1 of 3 up: below quorum
    assert sev(CLUSTER, {"v1": DOWN, "v2": DOWN, "v3": DOWN})["c"] is DWN


def test_reason_names_the_quorum_and_every_member_lost() -> None:
    p = propagate(CLUSTER, {"v1": DOWN})
    c = CLUSTER.pos["c"]
    assert p.reason(c) == "c: 2 of 3 members needed, 2 left (v1 down): redundancy reduced"
    p = propagate(CLUSTER, {"v1": DOWN, "v2": DOWN})
    assert p.reason(c) == "c: 2 of 3 members needed, 1 left (v1, v2 down): below quorum"
    assert p.reason(CLUSTER.pos["app"]) == "runs on c (down)"
    note = p.note(c)
    assert note is not None and note.kind == "cluster"
    assert (note.members, note.needed, note.left, note.down, note.hit) == (3, 2, 1, 2, 2)
    assert note.named == ["v1", "v2"] and note.text == p.reason(c)
    assert p.note(CLUSTER.pos["app"]) is None  # a plain dependency says it all
    mixed = propagate(CLUSTER, {"v1": DOWN, "v2": DEGRADED})
    assert mixed.reason(c) == (
        "c: 2 of 3 members needed, 2 left (v1 down; v2 degraded): quorum needs degraded members"
    )


def test_a_note_names_at_most_five_members_of_a_state() -> None:
    names = " ".join(f"i{n}:ApplicationInstance" for n in range(8))
    g = topo(
        f"app:Application {names}",
        ", ".join(f"app CONTAINS i{n}" for n in range(8)),
        extra={"app": {"attributes": {"min_replicas": 2}}},
    )
    p = propagate(g, {f"i{n}": DOWN for n in (7, 1, 2, 3, 4, 5, 6)})
    assert p.reason(g.pos["app"]) == (
        "app: 2 of 8 replicas needed, 1 left (i1, i2, i3, i4, i5 and 2 more down): below quorum"
    )


def test_open_incident_member_lets_a_second_failure_tip_the_quorum() -> None:
    assert sev(CLUSTER, {"v2": DOWN})["c"] is AT_RISK
    both = sev(CLUSTER, {"v2": DOWN}, already_down=["v1"])
    assert both["c"] is DWN and both["app"] is DWN
    p = propagate(CLUSTER, {"v2": DOWN}, already_down=["v1"])
    assert p.already_down == frozenset({"v1"}) and set(p.failed) == {"v2"}


def test_degraded_member_counts_as_up_with_slack_and_degrades_without() -> None:
    assert sev(CLUSTER, {"v1": DEGRADED})["c"] is AT_RISK  # slack: the cluster can shed it
    # One down, one degraded: quorum (2) holds only by counting the degraded one.
    mixed = sev(CLUSTER, {"v1": DOWN, "v2": DEGRADED})
    assert mixed["c"] is DEG and mixed["app"] is DEG
    # A plain dependency passes degradation on unchanged.
    assert sev(CLUSTER, {"c": DEGRADED})["app"] is DEG


def test_percent_quorum_rounds_up() -> None:
    g = topo(
        "c:Cluster a:Server b:Server d:Server",
        "a MEMBER_OF c, b MEMBER_OF c, d MEMBER_OF c",
        extra={"c": {"redundancy": {"min_up_percent": 50}}},  # 50 % of 3 is 2
    )
    assert sev(g, {"a": DOWN})["c"] is AT_RISK
    assert sev(g, {"a": DOWN, "b": DOWN})["c"] is DWN


def test_cluster_without_redundancy_needs_every_member() -> None:
    g = topo("c:Cluster a:Server b:Server", "a MEMBER_OF c, b MEMBER_OF c")
    assert sev(g, {"a": DOWN})["c"] is DWN


def test_quorum_above_the_members_is_capped_and_warned() -> None:
    g = topo("c:Cluster a:Server", "a MEMBER_OF c", extra={"c": {"redundancy": {"min_up": 3}}})
    assert g.warnings and "needs 3 members up but has 1" in g.warnings[0]
    assert sev(g, {})["c"] is UP and sev(g, {"a": DOWN})["c"] is DWN


def test_diamond_reaches_once_and_both_arms_explain() -> None:
    g = topo(
        "s:Service a:Application b:Application db:Database",
        "s DEPENDS_ON a, s DEPENDS_ON b, a DEPENDS_ON db, b DEPENDS_ON db",
    )
    assert sev(g, {"db": DOWN}) == {"s": DWN, "a": DWN, "b": DWN, "db": DWN}


def test_cycles_reach_a_fixpoint_and_untouched_cycles_stay_up() -> None:
    g = topo(
        "a:Server b:Server c:Server x:Server y:Server",
        "a DEPENDS_ON b, b DEPENDS_ON c, c DEPENDS_ON a, x DEPENDS_ON y, y DEPENDS_ON x",
    )
    got = sev(g, {"b": DOWN})
    assert got["a"] is DWN and got["c"] is DWN and got["x"] is UP and got["y"] is UP
    # A quorum inside a cycle: the cluster feeds a member of itself.
    g2 = topo(
        "c:Cluster m1:Server m2:Server m3:Server",
        "m1 MEMBER_OF c, m2 MEMBER_OF c, m3 MEMBER_OF c, m1 DEPENDS_ON c",
        extra={"c": {"redundancy": {"min_up": 2}}},
    )
    assert sev(g2, {"m2": DOWN})["c"] is AT_RISK  # m1 only at risk: quorum holds
    assert sev(g2, {"m2": DOWN, "m3": DOWN})["m1"] is DWN


def test_retired_cis_and_edges_and_no_flow_types_are_ignored() -> None:
    g = topo(
        "app:Application old:Server new:Server team:Team",
        "app DEPENDS_ON old, app DEPENDS_ON new, app OWNED_BY team",
        extra={"old": {"status": "withdrawn"}},
    )
    assert "old" not in g.pos and g.ignored == ["old"]
    assert sev(g, {"team": DOWN})["app"] is UP  # ownership carries no impact
    p = propagate(g, {"old": DOWN})
    assert p.unknown == ["old"] and not p.impacted().size
    from impact.graph import build_impact_graph
    from tests.unit.impact.builders import rel, subgraph

    sub = subgraph("app:Application s:Server", [rel("app", "DEPENDS_ON", "s", status="retired")])
    assert build_impact_graph(sub).n_groups == 0


def test_replica_groups_on_and_off() -> None:
    spec = "app:Application i1:ApplicationInstance i2:ApplicationInstance"
    edges = "app CONTAINS i1, app CONTAINS i2"
    g = topo(spec, edges)
    assert [GroupKind(int(k)) for k in g.gkind] == [GroupKind.REPLICAS]
    assert sev(g, {"i1": DOWN})["app"] is AT_RISK
    assert sev(g, {"i1": DOWN, "i2": DOWN})["app"] is DWN
    strict = topo(spec, edges, replica_groups=False)
    assert sev(strict, {"i1": DOWN})["app"] is DWN
    two = topo(spec, edges, extra={"app": {"attributes": {"min_replicas": 2}}})
    assert sev(two, {"i1": DOWN})["app"] is DWN
    tiers = topo(
        spec + " i3:ApplicationInstance",
        edges + ", app CONTAINS i3",
        extra={"i1": {"attributes": {"tier": "web"}}, "i2": {"attributes": {"tier": "web"}},
               "i3": {"attributes": {"tier": "api"}}},
    )  # fmt: skip
    assert sev(tiers, {"i1": DOWN})["app"] is AT_RISK  # another web copy is up
    assert sev(tiers, {"i3": DOWN})["app"] is DWN  # the only api copy


def test_member_and_serves_flow_source_to_target() -> None:
    g = topo("s:Service cust:Customer", "s SERVES cust")
    assert sev(g, {"s": DOWN})["cust"] is DWN
    assert sev(g, {"cust": DOWN})["s"] is UP


def test_caps_and_frontier_come_from_the_subgraph() -> None:
    g = topo(
        "a:Server b:VirtualMachine c:ApplicationInstance",
        "b HOSTED_ON a, c RUNS_ON b",
        roots=["a"],
        truncated_by_depth=True,
        depth_reached=1,
    )
    assert g.truncated_by_depth and not g.truncated_by_nodes
    assert [g.ids[i] for i in range(g.n) if g.frontier[i]] == ["b", "c"]


# -- properties ----------------------------------------------------------------------------


def _all(t: Topology, failures: dict[str, FailureMode]) -> list[int]:
    from impact.graph import build_impact_graph

    g = build_impact_graph(t.subgraph())
    p = propagate(g, failures)
    return [int(p.sev[g.pos[t.name(i)]]) for i in range(len(t.classes))]


@settings(max_examples=150, deadline=None)
@given(topologies(), st.data())
def test_adding_a_failure_never_lowers_any_severity(t: Topology, data: st.DataObject) -> None:
    n = len(t.classes)
    modes = st.sampled_from([DOWN, DEGRADED])
    base = data.draw(st.dictionaries(st.integers(0, n - 1), modes, max_size=3))
    extra_ci = data.draw(st.integers(0, n - 1))
    extra_mode = data.draw(modes)
    before = {t.name(i): m for i, m in base.items()}
    after = dict(before)
    # Adding a failure, or making an existing one worse (degraded -> down).
    old = after.get(t.name(extra_ci))
    after[t.name(extra_ci)] = DOWN if old is DOWN else extra_mode
    lo, hi = _all(t, before), _all(t, after)
    assert all(h >= x for h, x in zip(hi, lo, strict=True)), (lo, hi)


@settings(max_examples=100, deadline=None)
@given(topologies())
def test_nothing_failed_means_everything_up_and_every_impacted_ci_is_reachable(
    t: Topology,
) -> None:
    assert _all(t, {}) == [0] * len(t.classes)
    from impact._arrays import reach
    from impact.graph import build_impact_graph

    g = build_impact_graph(t.subgraph())
    p = propagate(g, {g.ids[0]: DOWN})
    import numpy as np

    reached = reach(g.out, np.array([0]), g.n)
    # Impacted (worse than up) is exactly "reachable in the impact direction".
    assert ((p.sev > 0) == reached).all()


# -- groupings: a namespace, a compose project, a Terraform module, a site ------------------

# A namespace (a CloudResource) contains an api and the database it needs, and a worker;
# the storefront service is made of the api; a server sits in a hall of a site.
NAMESPACE = topo(
    "ns:CloudResource api:KubernetesWorkload z-db:KubernetesWorkload worker:KubernetesWorkload "
    "shop:Service",
    "ns CONTAINS api, ns CONTAINS z-db, ns CONTAINS worker, api DEPENDS_ON z-db, shop CONTAINS api",
)


def test_a_grouping_is_affected_with_its_members_hit_never_down() -> None:
    p = propagate(NAMESPACE, {"z-db": DOWN})
    ns = NAMESPACE.pos["ns"]
    got = sev(NAMESPACE, {"z-db": DOWN})
    assert got["ns"] is DEG  # not down: the worker it also groups is fine
    assert got["api"] is DWN and got["shop"] is DWN  # a service is made of what it contains
    assert p.reason(ns) == "ns: 2 of 3 members hit (z-db, api down)"  # what failed first
    note = p.note(ns)
    assert note is not None and note.kind == "grouping"
    assert (note.members, note.needed, note.hit, note.down, note.left) == (3, 0, 2, 2, 1)
    # Every member down is still an affected grouping, not an outage.
    assert sev(NAMESPACE, {"z-db": DOWN, "worker": DOWN})["ns"] is DEG
    # Its grade is its worst member's: an at-risk member makes it at risk.
    g = topo(
        "ns:CloudResource app:Application i1:ApplicationInstance i2:ApplicationInstance",
        "ns CONTAINS app, app CONTAINS i1, app CONTAINS i2",
    )
    assert sev(g, {"i1": DOWN})["ns"] is AT_RISK
    # A grouping that fails itself is down, and what depends on it with it.
    assert sev(NAMESPACE, {"ns": DOWN})["ns"] is DWN


def test_what_a_grouping_gets_from_its_members_goes_no_further() -> None:
    g = topo(
        "site:Location hall1:Location hall2:Location s1:Server s2:Server campus:Location",
        "site CONTAINS hall1, site CONTAINS hall2, s1 LOCATED_IN hall1, s2 LOCATED_IN site, "
        "campus CONTAINS site",
    )
    assert g.n_groups == 2 and len(g.grp_src) == 3  # memberships are no impact edges
    got = sev(g, {"hall1": DOWN})
    assert got["s1"] is DWN  # in the hall that failed
    assert got["site"] is DEG and got["campus"] is DEG  # nested: the site's site too
    assert got["s2"] is UP  # in the site, not in the hall: the site did not fail
    assert sev(g, {"site": DOWN})["s2"] is DWN
    p = propagate(g, {"hall1": DOWN})
    assert p.reason(g.pos["campus"]) == "campus: 1 of 1 members hit (site degraded)"
    assert int(p.spread[g.pos["site"]]) == 0


def test_groupings_are_decided_by_class() -> None:
    from cmdb.domain.classes import is_grouping

    assert is_grouping("Location") and is_grouping("CloudResource")
    assert not any(map(is_grouping, ("Service", "Application", "KubernetesWorkload", "Cluster")))
    # An Application is made of what it contains: one part down takes it down.
    g = topo("app:Application pkg:SoftwarePackage", "app CONTAINS pkg")
    assert sev(g, {"pkg": DOWN})["app"] is DWN


@settings(max_examples=100, deadline=None)
@given(topologies(), st.data())
def test_groupings_change_nothing_else_and_are_never_down_for_their_members(
    t: Topology, data: st.DataObject
) -> None:
    from cmdb.store.contract import Subgraph
    from impact.graph import build_impact_graph
    from tests.unit.impact.builders import ci, rel

    n = len(t.classes)
    groupings = data.draw(
        st.lists(st.sets(st.integers(0, n - 1), min_size=1), min_size=1, max_size=3)
    )
    failures = {
        t.name(i): m
        for i, m in data.draw(
            st.dictionaries(st.integers(0, n - 1), st.sampled_from([DOWN, DEGRADED]), max_size=3)
        ).items()
    }
    plain = build_impact_graph(t.subgraph())
    base = t.subgraph()
    extra_cis = [ci(f"g{j}", "CloudResource") for j in range(len(groupings))]
    extra_rels = [rel(f"g{j}", "CONTAINS", t.name(i)) for j, ms in enumerate(groupings) for i in ms]
    grouped = build_impact_graph(
        Subgraph(
            roots=base.roots,
            nodes={**base.nodes, **{c.id: c for c in extra_cis}},
            edges=[*base.edges, *extra_rels],
            depth_reached=1,
        )
    )
    a, b = propagate(plain, failures), propagate(grouped, failures)
    for i in range(n):
        assert a.severity(t.name(i)) == b.severity(t.name(i))
    for j, members in enumerate(groupings):
        worst = max(a.severity(t.name(i)) for i in members)
        assert b.severity(f"g{j}") == min(worst, DEG)
