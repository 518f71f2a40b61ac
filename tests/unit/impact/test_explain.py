"""Paths from cause to effect, and the customers a service touches."""

from __future__ import annotations

from impact.explain import Explainer, customers_of
from impact.propagate import propagate
from impact.severity import FailureMode
from tests.unit.impact.builders import topo

DOWN = FailureMode.DOWN


def test_diamond_gives_both_arms_shortest_first() -> None:
    g = topo(
        "s:Service a:Application b:Application m:Application db:Database",
        "s DEPENDS_ON a, s DEPENDS_ON b, a DEPENDS_ON db, b DEPENDS_ON m, m DEPENDS_ON db",
    )
    ex = Explainer(propagate(g, {"db": DOWN}))
    paths = ex.paths(g.pos["s"])
    assert [p.ci_ids for p in paths] == [["db", "a", "s"], ["db", "m", "b", "s"]]
    assert paths[0].types == ["DEPENDS_ON", "DEPENDS_ON"]
    assert paths[0].text == "db -> a (depends on it) -> s (depends on it)"
    assert ex.paths(g.pos["s"], k=1) == paths[:1]
    assert ex.paths(g.pos["db"]) == []  # a cause explains itself


def test_one_shortest_path_per_cause() -> None:
    g = topo(
        "s:Service a:Application x:Server y:Server",
        "s DEPENDS_ON a, a DEPENDS_ON x, s DEPENDS_ON y",
    )
    ex = Explainer(propagate(g, {"x": DOWN, "y": DOWN}))
    assert [p.cause for p in ex.paths(g.pos["s"])] == ["y", "x"]  # shortest first


def test_paths_carry_the_severity_they_explain() -> None:
    # s needs a (its cluster lost one of three: at risk) and db (down).
    g = topo(
        "s:Service c:Cluster v1:VirtualMachine v2:VirtualMachine v3:VirtualMachine "
        "db:Database h:Server",
        "s DEPENDS_ON c, v1 MEMBER_OF c, v2 MEMBER_OF c, v3 MEMBER_OF c, "
        "v1 HOSTED_ON h, db RUNS_ON h, s DEPENDS_ON db",
        extra={"c": {"redundancy": {"min_up": 2}}},
    )
    ex = Explainer(propagate(g, {"h": DOWN}))
    paths = ex.paths(g.pos["s"], k=3)
    # Only the path through the down database explains "down"; the at-risk detour
    # through the cluster does not.
    assert [p.ci_ids for p in paths] == [["h", "db", "s"]]


def test_customers_from_serves_details_and_sla() -> None:
    g = topo(
        "s:Service c1:Customer",
        "s SERVES c1",
        extra={
            "s": {
                "service": {
                    "customers": ["Retail"],
                    "sla": {"name": "gold", "availability_target": 99.9, "customers": ["B2B"]},
                }
            }
        },
    )
    assert customers_of(g, g.pos["s"]) == ["B2B", "Retail", "c1"]


def test_a_quorum_step_names_every_member_lost_and_the_quorum() -> None:
    # The sample's shape: a host under two of a quorum-2 cluster's three VMs.
    g = topo(
        "s:Service app:Application i1:ApplicationInstance i2:ApplicationInstance c:Cluster "
        "vm1:VirtualMachine vm2:VirtualMachine vm3:VirtualMachine h:Server",
        "s CONTAINS app, app CONTAINS i1, app CONTAINS i2, i1 RUNS_ON c, i2 RUNS_ON c, "
        "vm1 MEMBER_OF c, vm2 MEMBER_OF c, vm3 MEMBER_OF c, vm1 HOSTED_ON h, vm2 HOSTED_ON h",
        extra={"c": {"redundancy": {"min_up": 2}}},
    )
    ex = Explainer(propagate(g, {"h": DOWN}))
    path = ex.paths(g.pos["s"], k=1)[0]
    assert path.names == ["h", "vm1", "c", "i1", "app", "s"]  # one member, the lowest edge
    assert path.text == (
        "h -> vm1 (hosted on it) -> c (has member it) -> i1 (runs on it) -> app (contains it)"
        " -> s (contains it); c: 2 of 3 members needed, 1 left (vm1, vm2 down): below quorum;"
        " app: 1 of 2 replicas needed, 0 left (i1, i2 down): below quorum"
    )
    cluster, replicas = path.groups
    assert (cluster.name, cluster.kind, cluster.needed, cluster.left) == ("c", "cluster", 2, 1)
    assert cluster.named == ["vm1", "vm2"]
    assert (replicas.kind, replicas.members, replicas.down) == ("replicas", 2, 2)
    # A plain chain has no group to name.
    assert ex.paths(g.pos["vm2"])[0].groups == []


def test_a_grouping_is_explained_through_its_worst_nearest_members() -> None:
    g = topo(
        "ns:CloudResource db:KubernetesWorkload api:KubernetesWorkload web:KubernetesWorkload "
        "idle:KubernetesWorkload campus:Location site:Location",
        "ns CONTAINS db, ns CONTAINS api, ns CONTAINS web, ns CONTAINS idle, "
        "api DEPENDS_ON db, web DEPENDS_ON api, campus CONTAINS site",
    )
    ex = Explainer(propagate(g, {"db": DOWN, "site": DOWN}))
    paths = ex.paths(g.pos["ns"], k=2)
    assert [p.names for p in paths] == [["db", "ns"], ["db", "api", "ns"]]
    assert paths[0].types == ["CONTAINS"]
    assert paths[0].text == "db -> ns (contains it); ns: 3 of 4 members hit (db, api, web down)"
    assert [n.kind for n in paths[1].groups] == ["grouping"]
    assert len(ex.paths(g.pos["ns"], k=5)) == 3  # a path per hit member, the idle one not
    assert ex.paths(g.pos["campus"])[0].text == (
        "site -> campus (contains it); campus: 1 of 1 members hit (site down)"
    )
    # The grouping carries nothing on: no path from it into what depends on the members.
    assert all("ns" not in p.names for p in ex.paths(g.pos["web"], k=3))


def test_nested_groupings_chain_their_steps() -> None:
    g = topo(
        "campus:Location site:Location hall:Location",
        "campus CONTAINS site, site CONTAINS hall",
    )
    path = Explainer(propagate(g, {"hall": DOWN})).paths(g.pos["campus"])[0]
    assert path.names == ["hall", "site", "campus"]
    assert [n.name for n in path.groups] == ["site", "campus"]
    assert path.text.endswith("campus: 1 of 1 members hit (site degraded)")
