"""Single points of failure ranked by what a failure costs (impact/spof_rank.py): the
services and customers each one takes down, its kind, what would remove it, the cut."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from cmdb.domain.model import CI
from cmdb.domain.records import Incident
from impact.evidence import Records
from impact.graph import ImpactGraph
from impact.score import tightness
from impact.spof import SpofResult, single_points_of_failure
from impact.spof_rank import REMEDIES, WEIGHTS, Fetch, cut, likelihood, rank
from tests.unit.impact.builders import topo

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def sla(target: float, *customers: str) -> dict[str, object]:
    return {
        "kind": "customer_facing",
        "customers": list(customers),
        "sla": {"name": "sla", "availability_target": target},
    }


# Two customer-facing services: "shop" (99.9 %, two customers) rests on app1, "pay"
# (99.95 %, one customer) on app2. Both apps run on one VM host h (a Server) in site dc;
# app1 also needs db; sw connects h. A supporting service "auth" (no SLA) under both.
ESTATE = topo(
    "shop:Service pay:Service auth:Service app1:Application app2:Application "
    "i1:ApplicationInstance i2:ApplicationInstance a1:ApplicationInstance "
    "h:Server db:Database sw:NetworkDevice dc:Location vendor:Supplier",
    "shop CONTAINS app1, pay CONTAINS app2, shop DEPENDS_ON auth, pay DEPENDS_ON auth, "
    "app1 CONTAINS i1, app2 CONTAINS i2, auth CONTAINS a1, "
    "i1 RUNS_ON h, i2 RUNS_ON h, i1 DEPENDS_ON db, a1 RUNS_ON h, "
    "h CONNECTS_TO sw, h LOCATED_IN dc, h SUPPLIED_BY vendor",
    extra={
        "shop": {"service": sla(99.9, "A", "B"), "criticality": "critical"},
        "pay": {"service": sla(99.95, "B", "C"), "criticality": "high"},
        "auth": {"service": {"kind": "supporting"}, "criticality": "high"},
        "a1": {"attributes": {"availability": 99.99}},  # declared: fails less than h
    },
)


def fetcher(graph: ImpactGraph, calls: list[tuple[list[str], bool]]) -> Fetch:
    """The whole estate for every question (a superset of any walk: the answers are the
    same), recording what was asked."""

    def fetch(roots: Sequence[CI], upstream: bool) -> ImpactGraph:
        calls.append(([c.id for c in roots], upstream))
        return graph

    return fetch


def ranked(
    graph: ImpactGraph = ESTATE,
    service: str = "shop",
    *,
    down: Sequence[str] = (),
    records: Records | None = None,
) -> SpofResult:
    found = single_points_of_failure(graph, service, already_down=down)
    return rank(found, graph, fetcher(graph, []), already_down=down, records=records)


def row(r: SpofResult, name: str):  # type: ignore[no-untyped-def]
    return next(s for s in r.spofs if s.name == name)


def test_a_spof_counts_every_service_it_takes_down() -> None:
    r = ranked()
    assert {s.name for s in r.spofs} == {"app1", "i1", "db", "auth", "a1", "h", "sw", "dc",
                                         "vendor"}  # fmt: skip
    lost = {s.name: sorted(x.name for x in s.services_lost) for s in r.spofs}
    # db is shop's alone; h (under both apps and auth) takes all three services.
    assert lost["db"] == ["shop"] and lost["i1"] == ["shop"]
    assert lost["h"] == ["auth", "pay", "shop"]
    assert lost["auth"] == ["auth", "pay", "shop"]
    assert row(r, "h").customers_lost == ["A", "B", "C"]
    assert row(r, "db").customers_lost == ["A", "B"]
    # Customer-facing services first, then by criticality.
    assert [x.name for x in row(r, "h").services_lost] == ["shop", "pay", "auth"]


def test_the_cost_is_recomputable_from_its_parts() -> None:
    r = ranked()
    h = row(r, "h")
    assert h.cost is not None
    w = 1.0 + 0.75 + 0.75  # critical shop, high pay, high auth
    assert h.cost.services == pytest.approx(w / (w + 1), abs=1e-4)
    assert h.cost.customers == pytest.approx(3 / 4, abs=1e-4)
    assert h.cost.sla_tightness == pytest.approx(tightness(99.95), abs=1e-4)
    assert h.minutes_down == pytest.approx((1 - 0.999) * 365.25 * 24 * 60, abs=0.1)
    assert h.cost.failure == pytest.approx(likelihood(h.minutes_down), abs=1e-4)
    parts = (h.cost.services, h.cost.customers, h.cost.sla_tightness, h.cost.failure)
    value = 100 * sum(wt * p for wt, p in zip(WEIGHTS.values(), parts, strict=True))
    assert h.cost.value == pytest.approx(value, abs=0.06)
    assert h.failure_rate_source == "default" and "default for Server" in h.failure_rate_basis


def test_ranked_costliest_first_with_ranks_in_order() -> None:
    r = ranked()
    costs = [s.cost.value for s in r.spofs if s.cost]
    assert costs == sorted(costs, reverse=True)
    assert [s.rank for s in r.spofs] == list(range(1, len(r.spofs) + 1))
    # The host takes every service and fails most: first. The db only takes shop.
    assert r.spofs[0].name == "h"
    assert row(r, "h").rank < row(r, "db").rank
    # Equal consequences, the one down longer first: a server (99.9 %) before a switch.
    assert row(r, "h").rank < row(r, "sw").rank
    assert r.total == len(r.spofs) == 9 and r.left_out == 0


def test_a_logical_ci_fails_only_through_its_parts() -> None:
    auth = row(ranked(), "auth")
    assert auth.failure_rate == 0 and auth.minutes_down == 0
    assert auth.cost is not None and auth.cost.failure == 0
    assert auth.failure_rate_basis == "fails only through what it rests on"


def test_kinds_and_groups() -> None:
    r = ranked()
    kinds = {s.name: s.kind for s in r.spofs}
    assert kinds["dc"] == "location" and kinds["vendor"] == "supplier"
    assert kinds["h"] == kinds["db"] == kinds["auth"] == "infrastructure"
    groups = {g.kind: g for g in r.groups}
    assert [g.kind for g in r.groups] == ["infrastructure", "supplier", "location"]
    assert groups["infrastructure"].found == 7 and groups["supplier"].found == 1
    assert groups["location"].costliest == "dc"


def test_a_ci_bought_in_under_a_supplier_contract_is_a_supplier_risk() -> None:
    contract = {"kind": "supplier_contract", "name": "gw", "party": "Acme"}
    g = topo(
        "s:Service pay:Service",
        "s DEPENDS_ON pay",
        extra={"pay": {"agreements": [contract]}},
    )
    p = row(ranked(g, "s"), "pay")
    assert p.kind == "supplier" and p.remedy == REMEDIES["supplier"]


def test_what_would_remove_it_follows_relationships_then_class() -> None:
    g = topo(
        "svc:Service app:Application i1:ApplicationInstance i2:ApplicationInstance c:Cluster "
        "v1:VirtualMachine v2:VirtualMachine v3:VirtualMachine h1:Server h2:Server "
        "db:Database lb:LoadBalancer vol:StorageVolume solo:Cluster sv:VirtualMachine "
        "one:Application only:ApplicationInstance",
        "svc CONTAINS app, app CONTAINS i1, app CONTAINS i2, i1 RUNS_ON c, i2 RUNS_ON c, "
        "v1 MEMBER_OF c, v2 MEMBER_OF c, v3 MEMBER_OF c, v1 HOSTED_ON h1, v2 HOSTED_ON h1, "
        "v3 HOSTED_ON h2, i1 DEPENDS_ON db, i2 DEPENDS_ON db, db DEPENDS_ON vol, "
        "svc DEPENDS_ON lb, svc CONTAINS one, one CONTAINS only, only RUNS_ON solo, "
        "sv MEMBER_OF solo",
        extra={"c": {"redundancy": {"min_up": 2}}},
    )
    r = ranked(g, "svc")
    remedy = {s.name: s.remedy for s in r.spofs}
    assert remedy["h1"] == REMEDIES["spread"].format(group="c", m=2, n=3)
    assert remedy["sv"] == REMEDIES["cluster_single"].format(group="solo")
    assert remedy["only"] == REMEDIES["single_replica"].format(group="one")
    assert remedy["db"] == REMEDIES["Database"] == "a standby or replica"
    assert remedy["lb"] == REMEDIES["LoadBalancer"]
    assert remedy["vol"] == REMEDIES["StorageVolume"]
    assert remedy["c"] == REMEDIES["Cluster"]
    # h2 carries one VM of three: not a single point of failure at all.
    assert "h2" not in remedy and "v1" not in remedy


def test_a_cluster_that_needs_all_its_members_asks_for_slack() -> None:
    g = topo(
        "svc:Service c:Cluster a:VirtualMachine b:VirtualMachine",
        "svc DEPENDS_ON c, a MEMBER_OF c, b MEMBER_OF c",
    )
    r = ranked(g, "svc")
    assert row(r, "a").remedy == REMEDIES["cluster_all"].format(group="c", n=2)


def test_every_remedy_comes_from_the_table() -> None:
    prefixes = [p.split("{")[0] for p in REMEDIES.values()]
    for s in ranked().spofs:
        assert any(s.remedy.startswith(p) for p in prefixes), s.remedy


def test_only_the_service_asked_about_reached_means_one_more_fetch() -> None:
    g = topo("svc:Service db:Database", "svc DEPENDS_ON db")
    calls: list[tuple[list[str], bool]] = []
    found = single_points_of_failure(g, "svc")
    r = rank(found, g, fetcher(g, calls))
    assert calls == [(["db"], False)]  # what db's failure reaches; no other cone to read
    assert [x.name for x in r.spofs[0].services_lost] == ["svc"]
    calls.clear()
    rank(single_points_of_failure(ESTATE, "shop"), ESTATE, fetcher(ESTATE, calls))
    assert [up for _roots, up in calls] == [False, True]
    assert sorted(calls[1][0]) == ["auth", "pay"]  # the other services' cones


def test_a_service_already_down_is_not_lost_again() -> None:
    # pay is down already (its app's only instance in an open incident): h takes shop and
    # auth only.
    r = ranked(down=["i2"])
    assert sorted(x.name for x in row(r, "h").services_lost) == ["auth", "shop"]


def test_observed_outages_raise_a_ci_above_its_twin() -> None:
    g = topo(
        "svc:Service a:Database b:Database",
        "svc DEPENDS_ON a, svc DEPENDS_ON b",
    )
    quiet = ranked(g, "svc")
    assert [s.name for s in quiet.spofs] == ["a", "b"]  # equal: by name
    outage = Incident(
        id="INC-1",
        title="b down",
        ci_ids=["b"],
        opened_at=NOW - timedelta(days=30),
        resolved_at=NOW - timedelta(days=30) + timedelta(hours=10),
    )
    start = Incident(id="INC-0", title="first record", opened_at=NOW - timedelta(days=360))
    loud = ranked(g, "svc", records=Records([start, outage], [], NOW))
    assert [s.name for s in loud.spofs] == ["b", "a"]
    b = row(loud, "b")
    assert b.failure_rate_source == "observed" and "1 failure" in b.failure_rate_basis
    assert b.minutes_down > row(loud, "a").minutes_down


def test_the_cut_limits_and_says_what_it_left_out() -> None:
    r = ranked()
    top = cut(r, limit=3)
    assert [s.name for s in top.spofs] == [s.name for s in r.spofs[:3]]
    assert top.total == 9 and top.left_out == 6
    by_kind = {g.kind: g for g in top.groups}
    assert sum(g.shown for g in top.groups) == 3
    assert sum(g.left_out for g in top.groups) == 6
    assert by_kind["supplier"].costliest == "vendor"
    assert cut(r, limit=None).spofs == r.spofs


def test_a_scoped_view_prices_each_spof_over_the_services_it_sees() -> None:
    r = ranked().model_copy(update={"warnings": ["cap hit near pay"]})
    seen = {"shop", "h", "db", "app1", "i1"}
    mine = cut(r, keep=seen.__contains__)
    assert {s.name for s in mine.spofs} == {"h", "db", "app1", "i1"}
    h = row(mine, "h")
    assert [x.name for x in h.services_lost] == ["shop"]
    assert h.customers_lost == ["A", "B"]
    assert h.cost is not None and h.cost.value < (row(r, "h").cost.value)  # type: ignore[union-attr]
    assert mine.warnings == []
    assert [s.rank for s in mine.spofs] == [1, 2, 3, 4]


def test_a_service_already_down_has_nothing_to_rank() -> None:
    r = ranked(down=["db"])
    assert r.already_down and r.spofs == [] and r.total == 0
    assert all(g.found == 0 for g in r.groups)
