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
