"""Cloud Custodian's recorded AWS replies (../shared/data/inventories/aws, read in place)
through the aws adapter and the reconciler into each store: counts, an instance's subnet and
VPC, a load balancer's members and quorum, placeholders; a wrong file writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.store.contract import Direction, GraphStore
from impact.fetch import impact_subgraph
from impact.graph import build_impact_graph
from impact.propagate import propagate
from impact.severity import FailureMode, Severity
from tests.contract.builders import key
from tests.fakes import FakeClock
from tests.reconcile_support import all_cis, edge_count, history_rows, inventory_path, run

BALANCED = "balanced-289865228.us-east-1.elb.amazonaws.com"
INSTANCE = "i-0d6fc89a578546fec"


def _files() -> list[Path]:
    return sorted(inventory_path("aws").iterdir())


def _one(store: GraphStore, ident: Identifier) -> str:
    found = store.find_by_identifier(ident)
    assert len(found) == 1, ident
    return found[0].id


def _cloud(store: GraphStore, value: str) -> str:
    return _one(store, Identifier(kind=IdentifierKind.CLOUD_ID, value=value))


def _names(store: GraphStore, ci_id: str, rtype: str, direction: Direction) -> set[str]:
    return {n.ci.name for n in store.neighbours(ci_id, direction=direction, types=[rtype])}


def test_all_replies_into_the_store(store: GraphStore, clock: FakeClock) -> None:
    report = run(store, "aws", *_files(), scope="account-644160558196")
    assert report.errors == 0 and not report.conflicts
    counts = store.counts()
    assert counts.by_class == {
        "VirtualMachine": 3,
        "CloudResource": 24,  # 2 VPCs, 8 subnets, 12 groups, 1 VPC and 1 group only named
        "LoadBalancer": 5,  # 3 ALBs, 1 classic ELB, 1 ALB only named by a target group
        "ApplicationInstance": 6,  # listeners
        "Cluster": 7,  # 2 target groups, 1 ELB's instances, 4 groups only named
        "Database": 2,
    }
    assert counts.relationships_by_type == {"HOSTED_ON": 29, "DEPENDS_ON": 27, "MEMBER_OF": 1}
    assert len(report.unresolved) == 7
    unresolved = {c.name for c in all_cis(store) if c.attributes.get("unresolved") is True}
    assert unresolved == {
        "alb-lambda",
        "test-tg",
        "test",
        "wqe",
        "testing",
        "vpc-0d4f819d13b730139",
        "sg-0552adcaeb62c7197",
    }
    # The same replies again: nothing new.
    before = (len(all_cis(store)), edge_count(store), history_rows(store))
    clock.advance(3600)
    again = run(store, "aws", *_files(), scope="account-644160558196")
    assert (len(again.created), len(again.updated)) == (0, 0)
    assert (len(all_cis(store)), edge_count(store), history_rows(store)) == before


def test_instance_subnet_vpc_and_load_balancer_quorum(store: GraphStore) -> None:
    run(store, "aws", *_files())
    inst = _cloud(store, INSTANCE)
    assert store.get_ci(inst).name == "BalancedInstance"
    assert _names(store, inst, "HOSTED_ON", Direction.OUT) == {"subnet-3a334610"}
    subnet = _cloud(store, "subnet-3a334610")
    assert _names(store, subnet, "HOSTED_ON", Direction.OUT) == {"Default"}
    assert store.get_ci(_cloud(store, "vpc-d2d616b5")).attributes["cidr_block"] == "172.31.0.0/16"

    lb = _one(store, Identifier(kind=IdentifierKind.FQDN, value=BALANCED))
    assert store.get_ci(lb).ci_class == "LoadBalancer"
    pool = _one(store, key(f"aws:elb:{BALANCED}#instances"))
    cluster = store.get_ci(pool)
    assert cluster.redundancy is not None and cluster.redundancy.min_up == 1
    assert _names(store, pool, "MEMBER_OF", Direction.IN) == {"BalancedInstance"}
    assert "balanced instances" in _names(store, lb, "DEPENDS_ON", Direction.OUT)

    # The engine reads it as a 1-of-1 group: the one member down takes the ELB down.
    graph = build_impact_graph(impact_subgraph(store, [inst]))
    g = graph.index(pool)
    assert g is not None
    [group] = [i for i, node in enumerate(graph.gnode.tolist()) if node == g]
    assert (int(graph.gk[group]), int(graph.gsize[group])) == (1, 1)
    hit = propagate(graph, {inst: FailureMode.DOWN})
    lb_at = graph.index(lb)
    assert lb_at is not None and int(hit.sev[lb_at]) == int(Severity.DOWN)


def test_target_group_names_an_alb_no_file_describes(store: GraphStore) -> None:
    run(store, "aws", *_files())
    tg = _cloud(
        store,
        "arn:aws:elasticloadbalancing:us-east-1:644160558196:targetgroup/test1target/05aed671d733ae95",
    )
    [user] = store.neighbours(tg, direction=Direction.IN, types=["DEPENDS_ON"])
    assert (user.ci.name, user.ci.ci_class) == ("testing", "LoadBalancer")
    assert user.ci.attributes["unresolved"] is True


def test_a_cyclonedx_file_among_them_writes_nothing(store: GraphStore) -> None:
    bom = sorted(inventory_path("sbom").iterdir())[0]
    with pytest.raises(InvalidInput) as err:
        run(store, "aws", *_files(), bom)
    assert err.value.where == str(bom)
    assert all_cis(store) == [] and edge_count(store) == 0 and history_rows(store) == 0
