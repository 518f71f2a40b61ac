"""Expected availability: series, parallel, k-of-n, shared components, bounds, breach odds."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings

from impact.availability import (
    at_least,
    component_availability,
    service_availability,
)
from impact.breach import breach_probability
from impact.graph import build_impact_graph
from impact.propagate import propagate
from impact.severity import FailureMode, Severity
from tests.unit.impact.builders import ci, topo
from tests.unit.impact.strategies import Topology, clustered, topologies


def av(value: float) -> dict[str, dict[str, float]]:
    return {"attributes": {"availability": value}}


def test_series_parallel_and_k_of_n_known_answers() -> None:
    series = topo(
        "s:Service a:Server b:Server",
        "s DEPENDS_ON a, s DEPENDS_ON b",
        extra={"a": av(0.9), "b": av(0.8)},
    )
    r = service_availability(series, "s")
    assert r.availability == pytest.approx(0.72) and r.exact and r.method == "series-parallel"

    parallel = topo(
        "s:Service c:Cluster a:Server b:Server",
        "s DEPENDS_ON c, a MEMBER_OF c, b MEMBER_OF c",
        extra={"c": {"redundancy": {"min_up": 1}}, "a": av(0.9), "b": av(0.8)},
    )
    assert service_availability(parallel, "s").availability == pytest.approx(1 - 0.1 * 0.2)

    two_of_three = topo(
        "s:Service c:Cluster a:Server b:Server d:Server",
        "s DEPENDS_ON c, a MEMBER_OF c, b MEMBER_OF c, d MEMBER_OF c",
        extra={"c": {"redundancy": {"min_up": 2}}, "a": av(0.9), "b": av(0.9), "d": av(0.9)},
    )
    p = 0.9
    assert service_availability(two_of_three, "s").availability == pytest.approx(
        3 * p**2 * (1 - p) + p**3
    )


def test_shared_host_is_factored_exactly() -> None:
    # Two of three cluster VMs share one host: the sample's planted weakness.
    g = topo(
        "s:Service c:Cluster v1:VirtualMachine v2:VirtualMachine v3:VirtualMachine "
        "h1:Server h2:Server",
        "s DEPENDS_ON c, v1 MEMBER_OF c, v2 MEMBER_OF c, v3 MEMBER_OF c, "
        "v1 HOSTED_ON h1, v2 HOSTED_ON h1, v3 HOSTED_ON h2",
        extra={
            "c": {"redundancy": {"min_up": 2}},
            **{v: av(0.99) for v in ("v1", "v2", "v3")},
            "h1": av(0.95),
            "h2": av(0.95),
        },
    )
    r = service_availability(g, "s")
    assert r.method == "factoring" and r.exact
    # By hand: h1 down -> at most one VM up -> down. h1 up: v1, v2 up with 0.99 each, v3 up
    # with 0.95 * 0.99; two of three needed.
    a, c3 = 0.99, 0.95 * 0.99
    two_of = a * a + 2 * a * (1 - a) * c3
    assert r.availability == pytest.approx(0.95 * two_of)
    assert r.lower <= r.availability <= r.upper


def test_defaults_and_overrides() -> None:
    assert component_availability(ci("x", "Server")) == (0.999, "default for Server")
    assert component_availability(ci("x", "Pod")) == (0.999, "default for Pod")
    assert component_availability(ci("x", "Application")) == (1.0, "default for Application")
    assert component_availability(ci("x", "Server", attributes={"availability": 99.5})) == (
        0.995,
        "attribute",
    )
    assert component_availability(ci("x", "Server", attributes={"availability": 0.9})) == (
        0.9,
        "attribute",
    )
    assert (
        component_availability(ci("x", "Server", attributes={"availability": "high"}))[1]
        != "attribute"
    )


def test_bounds_when_factoring_runs_out() -> None:
    g = topo(
        "s:Service c:Cluster v1:VirtualMachine v2:VirtualMachine v3:VirtualMachine "
        "h1:Server h2:Server",
        "s DEPENDS_ON c, v1 MEMBER_OF c, v2 MEMBER_OF c, v3 MEMBER_OF c, "
        "v1 HOSTED_ON h1, v2 HOSTED_ON h1, v3 HOSTED_ON h2",
        extra={"c": {"redundancy": {"min_up": 2}}},
    )
    exact = service_availability(g, "s").availability
    r = service_availability(g, "s", max_factorings=1)
    assert r.method == "bounds" and not r.exact
    assert r.lower <= exact <= r.upper and r.lower <= r.availability <= r.upper


def test_at_least_matches_enumeration() -> None:
    probs = [0.9, 0.7, 0.5, 0.99]
    for k in range(0, 6):
        want = sum(
            math.prod(p if up else 1 - p for p, up in zip(probs, state, strict=True))
            for state in itertools.product([0, 1], repeat=4)
            if sum(state) >= k
        )
        assert at_least(k, probs) == pytest.approx(want)


def test_breach_probability_behaves() -> None:
    assert breach_probability(1.0, 99.9, 40_000, 60) == 0
    # No allowance: any outage breaches, P = 1 - P(no outage).
    assert breach_probability(0.999, 100.0, 40_000, 60) == pytest.approx(
        1 - math.exp(-0.001 * 40_000 / 60)
    )
    values = [breach_probability(a, 99.9, 40_000, 60) for a in (0.9999, 0.9995, 0.999, 0.995, 0.99)]
    assert values == sorted(values) and values[-1] > 0.95 and values[0] < 0.05


# -- properties: exactness by enumeration, and removing a member never helps ----------------


def _enumerate(t: Topology, service: int) -> float:
    g = build_impact_graph(t.subgraph())
    s = g.ids[g.pos[t.name(service)]]
    random = [i for i in range(g.n) if component_availability(g.cis[i])[0] < 1]
    total = 0.0
    for state in itertools.product([True, False], repeat=len(random)):
        down = {g.ids[i]: FailureMode.DOWN for i, up in zip(random, state, strict=True) if not up}
        if propagate(g, down).severity(s) is Severity.DOWN:
            continue
        total += math.prod(
            component_availability(g.cis[i])[0] if up else 1 - component_availability(g.cis[i])[0]
            for i, up in zip(random, state, strict=True)
        )
    return total


@settings(max_examples=60, deadline=None)
@given(topologies(max_n=8, acyclic=True))
def test_factoring_equals_enumeration(t: Topology) -> None:
    service = len(t.classes) - 1
    g = build_impact_graph(t.subgraph())
    r = service_availability(g, t.name(service))
    assert r.exact
    assert r.availability == pytest.approx(_enumerate(t, service), abs=1e-12)
    assert r.lower - 1e-12 <= r.availability <= r.upper + 1e-12


@settings(max_examples=80, deadline=None)
@given(clustered())
def test_removing_a_cluster_member_never_raises_availability(tc: tuple[Topology, int]) -> None:
    t, cluster = tc
    member = next(a for a, b in t.edges if b == cluster)
    service = len(t.classes) - 1
    before = service_availability(build_impact_graph(t.subgraph()), t.name(service))
    after = service_availability(
        build_impact_graph(t.subgraph(drop={(member, cluster)})), t.name(service)
    )
    assert after.availability <= before.availability + 1e-12
