"""Agreements that hold each other up (cmdb/practice/agreements.py): the comparison target
by target, and the walk from a service to the agreements it rests on."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from cmdb.domain.changeset import ChangeSet
from cmdb.domain.model import LifecycleStatus
from cmdb.domain.service import SLA, Agreement, PortfolioState, Priority
from cmdb.practice.agreements import (
    agreement_findings,
    check_service,
    check_services,
    compare,
)
from cmdb.store.contract import GraphStore
from cmdb.store.embedded.store import EmbeddedStore
from impact.fetch import impact_walk
from tests.unit.impact.builders import subgraph

P1, P2, P3 = Priority.P1, Priority.P2, Priority.P3


def sla(**fields: Any) -> SLA:
    base: dict[str, Any] = {
        "name": "Shop SLA",
        "availability_target": 99.9,
        "response_minutes": {"P1": 15, "P2": 30},
        "resolution_minutes": {"P1": 240, "P2": 480},
    }
    return SLA.model_validate({**base, **fields})


def contract(**fields: Any) -> dict[str, Any]:
    return {"kind": "supplier_contract", "name": "Courier contract", "party": "Courier", **fields}


def agreement(**fields: Any) -> Agreement:
    return Agreement.model_validate(contract(**fields))


# -- the comparison ----------------------------------------------------------------------


def test_a_slower_resolution_for_one_priority_is_a_gap_with_both_figures() -> None:
    gaps = compare(sla(), agreement(resolution_minutes={"P1": 480, "P2": 480}))
    assert [(g.target, g.priority, g.agreement_value, g.sla_value) for g in gaps] == [
        ("resolution", P1, 480, 240)
    ]
    assert gaps[0].text == "P1 resolution 480 min vs 240 min"
    assert gaps[0].unit == "minutes"


def test_each_priority_and_each_clock_is_compared_on_its_own() -> None:
    gaps = compare(
        sla(),
        agreement(
            response_minutes={"P1": 10, "P2": 45},  # P1 faster: fine; P2 slower
            resolution_minutes={"P1": 240, "P2": 600},  # P1 equal: fine; P2 slower
        ),
    )
    assert [g.text for g in gaps] == [
        "P2 response 45 min vs 30 min",
        "P2 resolution 600 min vs 480 min",
    ]


def test_a_lower_availability_is_a_gap_and_an_equal_or_higher_one_is_not() -> None:
    (gap,) = compare(sla(), agreement(availability_target=99.5))
    assert (gap.target, gap.priority, gap.unit) == ("availability", None, "percent")
    assert (gap.agreement_value, gap.sla_value) == (99.5, 99.9)
    assert gap.text == "availability 99.5 % vs 99.9 %"
    assert compare(sla(), agreement(availability_target=99.9)) == []
    assert compare(sla(), agreement(availability_target=99.99)) == []


def test_a_target_missing_on_either_side_is_not_a_finding() -> None:
    # The agreement says nothing of availability nor of P2/P3; the SLA nothing of P3.
    assert compare(sla(), agreement(resolution_minutes={"P3": 99999})) == []
    assert compare(sla(), agreement()) == []
    bare = sla(response_minutes={}, resolution_minutes={})
    assert (
        compare(bare, agreement(response_minutes={"P1": 999}, resolution_minutes={"P1": 999})) == []
    )


# -- the walk ----------------------------------------------------------------------------


def shop(**agreements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The fields of the CIs in the pictures below: the shop's SLA and the agreements."""
    extra: dict[str, dict[str, Any]] = {
        "shop": {"service": {"kind": "customer_facing", "sla": sla().model_dump(mode="json")}}
    }
    for name, agreed in agreements.items():
        extra.setdefault(name, {})["agreements"] = agreed
    return extra


def test_an_agreement_two_levels_down_is_found_with_its_path() -> None:
    sub = subgraph(
        "shop:Service app:Application db:Database",
        "shop CONTAINS app, app DEPENDS_ON db",
        extra=shop(db=[contract(resolution_minutes={"P1": 480})]),
    )
    walk, _ = impact_walk([sub.nodes["shop"]], upstream=True)
    got = check_service(sub, sub.nodes["shop"], walk)
    assert got.sla == "Shop SLA" and got.findings == 1
    (check,) = got.agreements
    assert check.ci.name == "db" and not check.holds
    assert check.path.ci_ids == ["shop", "app", "db"]
    assert check.path.phrases == ["contains", "depends on"]
    assert check.path.text == "shop -(contains)-> app -(depends on)-> db"
    assert [g.text for g in check.gaps] == ["P1 resolution 480 min vs 240 min"]


def test_an_agreement_that_holds_is_listed_but_is_no_finding() -> None:
    sub = subgraph(
        "shop:Service db:Database",
        "shop DEPENDS_ON db",
        extra=shop(db=[contract(kind="ola", name="DB OLA", resolution_minutes={"P1": 60})]),
    )
    walk, _ = impact_walk([sub.nodes["shop"]], upstream=True)
    got = check_service(sub, sub.nodes["shop"], walk)
    assert got.findings == 0
    assert [(c.agreement.kind, c.agreement.name, c.holds) for c in got.agreements] == [
        ("ola", "DB OLA", True)
    ]


def test_what_rests_on_the_service_is_not_what_it_rests_on() -> None:
    # A front end that depends on the shop: a failure there never reaches the shop.
    sub = subgraph(
        "shop:Service front:Application",
        "front DEPENDS_ON shop",
        extra=shop(front=[contract(resolution_minutes={"P1": 9999})]),
    )
    walk, _ = impact_walk([sub.nodes["shop"]], upstream=True)
    assert check_service(sub, sub.nodes["shop"], walk).agreements == []


def test_a_cycle_is_walked_once() -> None:
    sub = subgraph(
        "shop:Service a:Application b:Application",
        "shop DEPENDS_ON a, a DEPENDS_ON b, b DEPENDS_ON a, b DEPENDS_ON shop",
        extra=shop(b=[contract(availability_target=99.0)]),
    )
    walk, _ = impact_walk([sub.nodes["shop"]], upstream=True)
    got = check_service(sub, sub.nodes["shop"], walk)
    assert [(c.ci.id, c.path.ci_ids) for c in got.agreements] == [("b", ["shop", "a", "b"])]


def test_the_services_own_agreement_is_checked_first() -> None:
    sub = subgraph(
        "shop:Service db:Database",
        "shop DEPENDS_ON db",
        extra=shop(
            shop=[contract(kind="ola", name="Shop desk OLA", response_minutes={"P1": 20})],
            db=[contract(response_minutes={"P2": 60})],
        ),
    )
    walk, _ = impact_walk([sub.nodes["shop"]], upstream=True)
    got = check_service(sub, sub.nodes["shop"], walk)
    assert [(c.ci.id, c.path.text, [g.text for g in c.gaps]) for c in got.agreements] == [
        ("shop", "shop", ["P1 response 20 min vs 15 min"]),
        ("db", "shop -(depends on)-> db", ["P2 response 60 min vs 30 min"]),
    ]


def test_a_service_without_an_sla_lists_its_agreements_and_compares_nothing() -> None:
    sub = subgraph(
        "notify:Service app:Application",
        "notify CONTAINS app",
        extra={"app": {"agreements": [contract(availability_target=90.0)]}},
    )
    walk, _ = impact_walk([sub.nodes["notify"]], upstream=True)
    got = check_service(sub, sub.nodes["notify"], walk)
    assert got.sla is None and got.findings == 0
    assert [(c.ci.id, c.gaps, c.holds) for c in got.agreements] == [("app", [], True)]


CLUSTER = "shop:Service app:ApplicationInstance cl:Cluster vm1:VirtualMachine vm2:VirtualMachine"
MEMBERS = "shop DEPENDS_ON app, app RUNS_ON cl, vm1 MEMBER_OF cl, vm2 MEMBER_OF cl"


def test_an_agreement_behind_a_redundant_cluster_is_shielded_not_a_finding() -> None:
    extra = shop(vm1=[contract(kind="ola", name="VM OLA", availability_target=99.0)])
    extra["cl"] = {"redundancy": {"min_up": 1}}  # either VM carries the cluster
    sub = subgraph(CLUSTER, MEMBERS, extra=extra)
    walk, _ = impact_walk([sub.nodes["shop"]], upstream=True)
    got = check_service(sub, sub.nodes["shop"], walk)
    (check,) = got.agreements
    assert check.shielded_by == "cl" and check.holds and check.gaps
    assert check.path.phrases == ["depends on", "runs on", "has member"]
    assert got.findings == 0


def test_a_cluster_that_needs_every_member_shields_nothing() -> None:
    extra = shop(vm1=[contract(kind="ola", name="VM OLA", availability_target=99.0)])
    extra["cl"] = {"redundancy": {"min_up": 2}}
    for cluster in (extra, shop(vm1=[contract(availability_target=99.0)])):  # none declared
        sub = subgraph(CLUSTER, MEMBERS, extra=cluster)
        walk, _ = impact_walk([sub.nodes["shop"]], upstream=True)
        (check,) = check_service(sub, sub.nodes["shop"], walk).agreements
        assert check.shielded_by is None and not check.holds


def test_a_ci_reached_directly_too_is_not_shielded() -> None:
    extra = shop(vm1=[contract(availability_target=99.0)])
    extra["cl"] = {"redundancy": {"min_up": 1}}
    # The shop also depends on vm1 itself, past the cluster.
    sub = subgraph(CLUSTER, MEMBERS + ", shop DEPENDS_ON vm1", extra=extra)
    walk, _ = impact_walk([sub.nodes["shop"]], upstream=True)
    (check,) = check_service(sub, sub.nodes["shop"], walk).agreements
    assert check.shielded_by is None and not check.holds
    assert check.path.ci_ids == ["shop", "vm1"]


# -- over a store ------------------------------------------------------------------------


def test_over_a_store_a_cycle_ends_and_each_service_gets_its_own_findings(
    tmp_path: Path,
) -> None:
    store = EmbeddedStore(tmp_path / "cmdb.db")
    svc = {"kind": "customer_facing", "sla": sla().model_dump(mode="json")}
    store.apply(
        ChangeSet(
            actor="t",
            source="manual",
            ci_upserts=[
                {"id": "shop", "class": "Service", "name": "Shop", "service": svc},
                {"id": "blog", "class": "Service", "name": "Blog"},
                {"id": "a", "class": "Application", "name": "a"},
                {
                    "id": "b",
                    "class": "Application",
                    "name": "b",
                    "agreements": [contract(resolution_minutes={"P1": 480})],
                },
            ],
            rel_upserts=[
                {"type": "DEPENDS_ON", "source": {"id": "shop"}, "target": {"id": "a"}},
                {"type": "DEPENDS_ON", "source": {"id": "a"}, "target": {"id": "b"}},
                {"type": "DEPENDS_ON", "source": {"id": "b"}, "target": {"id": "a"}},
                {"type": "DEPENDS_ON", "source": {"id": "blog"}, "target": {"id": "b"}},
            ],
        )
    )
    shop_ci, blog_ci = store.get_ci("shop"), store.get_ci("blog")
    (found,) = agreement_findings(store, [blog_ci, shop_ci])  # the blog has no SLA
    assert (found.service.name, found.sla, found.ci.name) == ("Shop", "Shop SLA", "b")
    assert found.path.names == ["Shop", "a", "b"]
    blog, shop_ = check_services(store, [blog_ci, shop_ci])
    assert (blog.sla, blog.findings, [c.path.names for c in blog.agreements]) == (
        None,
        0,
        [["Blog", "b"]],
    )
    assert shop_.findings == 1
    store.close()


def test_a_withdrawn_or_retired_service_has_no_sla_in_force() -> None:
    shop_ci = subgraph("shop:Service", "", extra=shop()).nodes["shop"]
    assert shop_ci.service is not None
    withdrawn = shop_ci.model_copy(update={"status": LifecycleStatus.WITHDRAWN})
    details = shop_ci.service.model_copy(update={"portfolio": PortfolioState.RETIRED})
    retired = shop_ci.model_copy(update={"service": details})
    assert agreement_findings(cast(GraphStore, _NoStore()), [withdrawn, retired]) == []


class _NoStore:
    """A store no finding may ask: nothing is in force, so nothing is fetched."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the store was asked for {name}")
