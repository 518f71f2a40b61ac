"""AWS adapter: Cloud Custodian's recorded replies (real account data) and CLI-shaped edge
cases written here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import IdentifierKind
from cmdb.domain.relationships import check_allowed
from discovery.adapters.aws import read
from discovery.records import DiscoveredCI, DiscoveredRel, Inventory, Severity, collect

ROOT = Path(__file__).resolve().parents[3]
AWS = ROOT.parent / "shared" / "data" / "inventories" / "aws"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ELB = "arn:aws:elasticloadbalancing:us-east-1:644160558196"
TG_WEB = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/web/0123456789abcdef"


def _real() -> list[Path]:
    if not AWS.is_dir():
        pytest.skip(f"the shared real inventories are not checked out at {AWS}")
    return sorted(AWS.iterdir())


@pytest.fixture(scope="module")
def real() -> Inventory:
    return collect("aws", read(_real()))


def _out(inv: Inventory, key: str, rtype: str) -> set[str]:
    return {r.target for r in inv.rels if r.type == rtype and r.source == key}


def _in(inv: Inventory, key: str, rtype: str) -> set[str]:
    return {r.source for r in inv.rels if r.type == rtype and r.target == key}


def _ids(inv: Inventory, key: str, kind: IdentifierKind) -> set[str]:
    return {i.value for i in inv.ci(key).identifiers if i.kind is kind}


def test_real_replies_counts(real: Inventory) -> None:
    described = [c for c in real.cis if not c.unresolved]
    by_type: dict[str, int] = {}
    for c in described:
        t = str(c.attributes["aws_type"])
        by_type[t] = by_type.get(t, 0) + 1
    assert by_type == {
        "instance": 3,  # i-0d6fc89a578546fec is in two files: one CI
        "vpc": 2,
        "subnet": 8,
        "security_group": 12,
        "load_balancer": 3,
        "classic_load_balancer": 1,
        "classic_load_balancer_instances": 1,
        "listener": 6,
        "target_group": 2,
        "db_instance": 2,
    }
    assert real.stats["instances"] == 4  # as read, before merging
    classes = {c.key: c.ci_class for c in real.cis}
    for rel in real.rels:
        check_allowed(rel.type, classes[rel.source], classes[rel.target])


def test_real_instance_is_hosted_in_its_subnet_in_its_vpc(real: Inventory) -> None:
    inst = real.ci("aws:i-0d6fc89a578546fec")
    assert (inst.ci_class, inst.name) == ("VirtualMachine", "BalancedInstance")
    assert _ids(real, inst.key, IdentifierKind.CLOUD_ID) == {"i-0d6fc89a578546fec"}
    assert inst.attributes["launch_time"] == "2016-11-27T19:06:39"
    assert _out(real, inst.key, "HOSTED_ON") == {"aws:subnet-3a334610"}
    subnet = real.ci("aws:subnet-3a334610")
    assert not subnet.unresolved and subnet.attributes["cidr_block"] == "172.31.48.0/20"
    assert _out(real, subnet.key, "HOSTED_ON") == {"aws:vpc-d2d616b5"}
    vpc = real.ci("aws:vpc-d2d616b5")
    assert (vpc.name, vpc.unresolved, vpc.attributes["is_default"]) == ("Default", False, True)
    assert _out(real, inst.key, "DEPENDS_ON") == {"aws:sg-926a56e8"}
    assert real.ci("aws:sg-926a56e8").name == "launch-wizard-1"


def test_real_classic_elb_needs_one_of_its_one_instance(real: Inventory) -> None:
    lb = real.ci("aws:elb:balanced-289865228.us-east-1.elb.amazonaws.com")
    assert (lb.ci_class, lb.name) == ("LoadBalancer", "balanced")
    assert lb.attributes["listeners"] == ["HTTP:80->HTTP:80"]
    pool = f"{lb.key}#instances"
    assert _out(real, lb.key, "DEPENDS_ON") == {pool, "aws:sg-6c7fa917"}
    assert real.ci(pool).ci_class == "Cluster"
    assert real.ci(pool).fields["redundancy"] == {"min_up": 1}
    assert _in(real, pool, "MEMBER_OF") == {"aws:i-0d6fc89a578546fec"}
    assert _out(real, lb.key, "HOSTED_ON") == {"aws:vpc-d2d616b5"}


def test_real_albs_listeners_and_target_groups(real: Inventory) -> None:
    alb1 = f"aws:{ELB}:loadbalancer/app/alb-testing-1/9b007d8464b40d52"
    listeners = _in(real, alb1, "DEPENDS_ON")
    assert sorted(real.ci(k).name for k in listeners) == ["alb-testing-1:80", "alb-testing-1:81"]
    assert {real.ci(t).name for t in _out(real, alb1, "DEPENDS_ON")} == {
        "test",
        "test-tg",
        "default",  # sg-6c7fa917, the default VPC's default group
    }
    # Listeners forward to target groups that no file describes.
    assert real.ci(f"aws:{ELB}:targetgroup/test-tg/f5f92a41b7636f90").unresolved
    # A described target group names an ALB that no file describes.
    tg = f"aws:{ELB}:targetgroup/test1target/05aed671d733ae95"
    assert real.ci(tg).fields["redundancy"] == {"min_up": 1}
    (lb,) = _in(real, tg, "DEPENDS_ON")
    placeholder = real.ci(lb)
    assert (placeholder.ci_class, placeholder.name, placeholder.unresolved) == (
        "LoadBalancer",
        "testing",
        True,
    )
    assert {c.name for c in real.unresolved} == {
        "alb-lambda",
        "test-tg",
        "test",
        "wqe",
        "testing",
        "vpc-0d4f819d13b730139",
        "sg-0552adcaeb62c7197",
    }


def test_real_target_health_replies_name_no_group(real: Inventory) -> None:
    warnings = [p for p in real.problems if "target health" in p.message]
    assert len(warnings) == 2 and all(p.severity is Severity.WARNING for p in warnings)
    assert {Path(p.where.split(":")[0]).name for p in warnings} == {
        "custodian_asg_invalid_third_ami__elasticloadbalancing.DescribeTargetHealth_1.json",
        "custodian_asg_invalid_third_ami__elasticloadbalancing.DescribeTargetHealth_2.json",
    }
    assert len(real.problems) == 2


def test_real_db_instances(real: Inventory) -> None:
    db = real.ci("aws:arn:aws:rds:us-east-1:644160558196:db:c7n-data-index")
    assert (db.ci_class, db.name, db.fields["version"]) == ("Database", "c7n-data-index", "9.6.3")
    assert db.attributes["engine"] == "postgres"
    assert _ids(real, db.key, IdentifierKind.FQDN) == {
        "c7n-data-index.cz6wy8cci3uf.us-east-1.rds.amazonaws.com"
    }
    assert _out(real, db.key, "HOSTED_ON") == {"aws:vpc-d2d616b5"}
    assert _out(real, db.key, "DEPENDS_ON") == {"aws:sg-837620f1"}


def test_cli_shape_and_health_from_the_file_name() -> None:
    inv = collect(
        "aws",
        read(
            [
                FIXTURES / "aws_tg-0123456789abcdef-health.json",  # before its group: read last
                FIXTURES / "aws_cli_instances.json",
                FIXTURES / "aws_target_groups.json",
            ]
        ),
    )
    web1 = inv.ci("aws:i-0aaa000000000001")
    assert web1.attributes["account"] == "111122223333"
    assert web1.attributes["tags"] == {"Name": "web-1", "env": "prod"}
    assert web1.attributes["launch_time"] == "2024-03-01T09:30:00+00:00"
    assert _ids(inv, web1.key, IdentifierKind.IP) == {"10.1.1.10"}
    assert not _ids(inv, web1.key, IdentifierKind.FQDN)  # an empty public DNS name
    # Subnets and the VPC are only referred to: placeholders, linked as the instance says.
    assert inv.ci("aws:subnet-0cli0000000000001").unresolved
    assert _out(inv, "aws:subnet-0cli0000000000001", "HOSTED_ON") == {"aws:vpc-0cli000000000001"}
    # Healthy instance targets are members; the unhealthy one and the IP target are not.
    tg = f"aws:{TG_WEB}"
    assert _in(inv, tg, "MEMBER_OF") == {"aws:i-0aaa000000000001", "aws:i-0aaa000000000002"}
    assert inv.stats["targets_not_healthy"] == 1
    assert any(
        p.severity is Severity.UNSUPPORTED and "10.1.1.99" in p.message for p in inv.problems
    )
    # The instance without an id and the entry that is no object are problems, not crashes.
    errors = {
        p.where.rsplit(":", 1)[-1]: p.message for p in inv.problems if p.severity is Severity.ERROR
    }
    assert errors == {
        "Reservations[0].Instances[2]": "InstanceId is missing",
        "Reservations[0].Instances[3]": "an instance must be an object",
    }
    assert inv.stats["instances"] == 2


def test_health_names_its_group_by_arn() -> None:
    inv = collect("aws", read([FIXTURES / "aws_health_named.json"]))
    tg = "aws:arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/api/1111222233334444"
    assert _in(inv, tg, "MEMBER_OF") == {"aws:i-0aaa000000000009"}
    assert inv.ci(tg).unresolved and inv.ci(tg).ci_class == "Cluster"
    assert inv.ci("aws:i-0aaa000000000009").unresolved


def test_health_by_file_name_needs_exactly_one_group(tmp_path: Path) -> None:
    health = tmp_path / "health-0123456789abcdef.json"
    health.write_text((FIXTURES / "aws_tg-0123456789abcdef-health.json").read_text())
    alone = collect("aws", read([health]))
    assert not alone.rels
    assert [p.severity for p in alone.problems] == [Severity.WARNING]


def test_recorded_error_reply_is_a_problem() -> None:
    inv = collect("aws", read([FIXTURES / "aws_error_reply.json"]))
    assert not inv.cis
    assert [p.severity for p in inv.problems] == [Severity.ERROR]


@pytest.mark.parametrize(
    ("content", "place"),
    [
        ({"status_code": 200, "data": {"Buckets": []}}, ""),
        ([1, 2], ""),
        ({"Vpcs": {"VpcId": "vpc-1"}}, ":Vpcs"),
        ({"status_code": 200, "data": []}, ":data"),
    ],
)
def test_wrong_format_is_refused_naming_the_file(
    tmp_path: Path, content: object, place: str
) -> None:
    path = tmp_path / "reply.json"
    path.write_text(json.dumps(content))
    with pytest.raises(InvalidInput) as err:
        collect("aws", read([path]))
    assert err.value.where == f"{path}{place}"


def test_a_cyclonedx_bom_is_refused() -> None:
    bom = FIXTURES / "sbom_nested.json"
    with pytest.raises(InvalidInput, match="not an AWS describe reply") as err:
        collect("aws", read([bom]))
    assert err.value.where == str(bom)


def _revalidates(inv: Inventory) -> None:
    """The adapter builds records without pydantic's validation: each must pass it."""
    for ci in inv.cis:
        assert DiscoveredCI.model_validate(ci.model_dump()) == ci
    for rel in inv.rels:
        assert DiscoveredRel.model_validate(rel.model_dump()) == rel


def test_records_pass_validation(real: Inventory) -> None:
    _revalidates(real)


def test_benchmark_generator_writes_n_resources(tmp_path: Path) -> None:
    from bench.importer_gen import aws as gen

    inv = collect("aws", read(gen.generate(1000, tmp_path)))
    assert not inv.problems and not inv.unresolved
    assert len(inv.cis) == 1000
    _revalidates(inv)
    # 5 target groups, 18 healthy targets of 20 each.
    assert inv.stats["targets_healthy"] == 90 and inv.stats["targets_not_healthy"] == 10


@pytest.mark.parametrize(
    "value",
    ["10.1.2.3", "255.255.255.255", "0.0.0.0", "010.1.2.3", "256.1.1.1", "1.2.3", "::1",
     " 10.0.0.1", "1.2.3.4\n", "1.2.3.04", "fe80::1%eth0", ""],
)  # fmt: skip
def test_ip_shortcut_is_the_domain_normalisation(value: str) -> None:
    from cmdb.domain.identifiers import Identifier
    from discovery.adapters.aws import _ip

    try:
        expected: Identifier | None = Identifier(kind=IdentifierKind.IP, value=value)
    except ValueError:
        expected = None
    assert _ip(value) == expected


def test_health_named_after_a_group_only_a_listener_forwards_to(tmp_path: Path) -> None:
    listeners = (
        AWS / "custodian_appelb_delete_listener__elasticloadbalancing.DescribeListeners_2.json"
    )
    if not listeners.is_file():
        pytest.skip(f"the shared real inventories are not checked out at {AWS}")
    health = tmp_path / "test-tg_f5f92a41b7636f90.json"
    health.write_text(
        json.dumps(
            {
                "TargetHealthDescriptions": [
                    {"Target": {"Id": "i-0bbb000000000001"}, "TargetHealth": {"State": "healthy"}}
                ]
            }
        )
    )
    inv = collect("aws", read([health, listeners]))
    tg = f"aws:{ELB}:targetgroup/test-tg/f5f92a41b7636f90"
    assert _in(inv, tg, "MEMBER_OF") == {"aws:i-0bbb000000000001"}
    assert not inv.problems


def test_only_a_cluster_record_carries_redundancy() -> None:
    from pydantic import ValidationError

    DiscoveredCI(key="c", ci_class="Cluster", name="c", fields={"redundancy": {"min_up": 1}})
    with pytest.raises(ValidationError, match="only a Cluster"):
        DiscoveredCI(key="s", ci_class="Server", name="s", fields={"redundancy": {"min_up": 1}})


def test_a_truncated_arn_names_its_placeholder_by_its_whole_text(tmp_path: Path) -> None:
    """Found by the fuzzer: an ARN without a resource part made a CI with an empty name."""
    cut = "arn:aws:elasticloadbalancing:"
    groups = tmp_path / "groups.json"
    groups.write_text(
        json.dumps(
            {
                "TargetGroups": [
                    {"TargetGroupArn": TG_WEB, "TargetType": "instance", "LoadBalancerArns": [cut]}
                ]
            }
        )
    )
    inv = collect("aws", read([groups]))
    names = {c.name for c in inv.cis}
    assert cut in names and "" not in names


def test_a_resource_refused_midway_leaves_only_its_problem(tmp_path: Path) -> None:
    # The balancer's own record is made, then its instance pool's key is too long to be an
    # identifier: none of the balancer's records stay, the next balancer's all do.
    name = "b" * 1010
    reply = {
        "LoadBalancerDescriptions": [
            {"LoadBalancerName": name, "Instances": [{"InstanceId": "i-1"}]},
            {"LoadBalancerName": "web", "Instances": [{"InstanceId": "i-2"}]},
        ]
    }
    path = tmp_path / "elb.json"
    path.write_text(json.dumps(reply))
    inv = collect("aws", read([path]))
    assert [p.where for p in inv.problems] == [f"{path}:LoadBalancerDescriptions[0]"]
    assert "at most 1024 characters" in inv.problems[0].message
    assert not any(name in c.key for c in inv.cis)
    assert {c.key for c in inv.cis} >= {"aws:elb:web", "aws:elb:web#instances"}
    assert inv.stats["load_balancers"] == 1 and inv.stats["load_balancer_members"] == 1
