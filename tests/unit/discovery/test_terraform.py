"""Terraform state adapter: the real states in the shared inventories, and edge fixtures."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.domain.relationships import check_allowed
from discovery.adapters.terraform import classify, parse_address, read
from discovery.records import DiscoveredRel, Inventory, Item, Severity, Stat, collect

ROOT = Path(__file__).resolve().parents[3]
TERRAFORM = ROOT.parent / "shared" / "data" / "inventories" / "terraform"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

needs_inventories = pytest.mark.skipif(
    not TERRAFORM.is_dir(),
    reason=f"the shared real inventories are not checked out at {TERRAFORM}",
)


def _inv(path: Path) -> Inventory:
    return collect("terraform", read([path]))


def _ids(inv: Inventory, key: str, kind: IdentifierKind) -> set[str]:
    return {i.value for i in inv.ci(key).identifiers if i.kind is kind}


def _check_every_edge_allowed(inv: Inventory) -> None:
    classes = {c.key: c.ci_class for c in inv.cis}
    for rel in inv.rels:
        check_allowed(rel.type, classes[rel.source], classes[rel.target])


def _rels(items: list[Item], origin: str) -> list[DiscoveredRel]:
    return [
        i
        for i in items
        if isinstance(i, DiscoveredRel)
        and i.type == "DEPENDS_ON"
        and i.attributes["origin"] == origin
    ]


# -- the real states ------------------------------------------------------------------------


@needs_inventories
def test_repeated_modules_has_exactly_the_70_recorded_dependencies() -> None:
    path = TERRAFORM / "inframap_repeated_modules.tfstate.json"
    # Count independently of the adapter, straight from the JSON.
    doc = json.loads(path.read_text())
    recorded = sum(
        len(inst.get("dependencies", [])) for res in doc["resources"] for inst in res["instances"]
    )
    assert recorded == 70
    items = list(read([path]))
    from_dependencies = _rels(items, "dependencies")
    assert len(from_dependencies) == 70
    assert all(r.confidence == 1.0 for r in from_dependencies)
    inv = collect("terraform", items)
    assert len([r for r in inv.rels if r.attributes["origin"] == "dependencies"]) == 70
    _check_every_edge_allowed(inv)


@needs_inventories
def test_repeated_modules_instances_modules_and_placeholders() -> None:
    inv = _inv(TERRAFORM / "inframap_repeated_modules.tfstate.json")
    defined = [c for c in inv.cis if not c.unresolved]
    assert len(defined) == 16
    vms = {c.key for c in defined if c.ci_class == "VirtualMachine"}
    assert vms == {
        "tf:module.ec2_openvpn.module.ec2_bastion.aws_instance.this[0]",
        "tf:module.ec2_redhat_a.aws_instance.this[0]",
        "tf:module.ec2_redhat_b.aws_instance.this[0]",
        "tf:module.ec2_ubuntu_a[0].aws_instance.this[0]",
        "tf:module.ec2_ubuntu_a[1].aws_instance.this[0]",
        "tf:module.ec2_ubuntu_b[0].aws_instance.this[0]",
        "tf:module.ec2_ubuntu_b[1].aws_instance.this[0]",
    }
    bastion = "tf:module.ec2_openvpn.module.ec2_bastion.aws_instance.this[0]"
    assert _ids(inv, bastion, IdentifierKind.CLOUD_ID) == {"i-0a21b3e118e0ba2ef"}
    assert _ids(inv, bastion, IdentifierKind.KEY) == {bastion}
    assert inv.ci(bastion).attributes["module"] == "module.ec2_openvpn.module.ec2_bastion"
    # Named in dependencies but absent from the state: kept as unresolved placeholders.
    assert {c.key for c in inv.unresolved} == {
        "tf:module.vpc.aws_vpc.this",
        "tf:module.all_sg.aws_security_group.this",
        "tf:module.ec2_openvpn.module.bastion_sg.aws_security_group.this",
        "tf:aws_key_pair.key_pair",
        "tf:module.vpc.aws_subnet.public",
        "tf:module.vpc.aws_subnet.private",
        "tf:module.vpc.aws_vpc_ipv4_cidr_block_association.this",
        "tf:tls_private_key.private_key",
    }
    # A dependency on a resource that does exist lands on its instance, index and all.
    assert (
        "tf:module.vpc.aws_nat_gateway.this[0]",
        "tf:module.vpc.aws_eip.nat[0]",
    ) in {(r.source, r.target) for r in inv.rels}
    assert inv.problems == []


@needs_inventories
def test_version_3_state_modules_classes_and_depends_on() -> None:
    inv = _inv(TERRAFORM / "inframap_version_3_state.tfstate.json")
    classes = {c.key: c.ci_class for c in inv.cis}
    assert classes["tf:module.cycloid.aws_alb.front"] == "LoadBalancer"
    assert classes["tf:module.cycloid.aws_db_instance.website"] == "Database"
    assert classes["tf:module.cycloid.aws_ebs_volume.flux"] == "StorageVolume"
    assert classes["tf:module.cycloid.aws_instance.batch"] == "VirtualMachine"
    assert classes["tf:module.cycloid.aws_s3_bucket.medias"] == "CloudResource"
    assert len(inv.cis) == 12 and not inv.unresolved
    edges = {(r.source, r.target) for r in inv.rels}
    assert (
        "tf:module.cycloid.aws_cloudfront_distribution.cdn",
        "tf:module.cycloid.aws_s3_bucket.medias",
    ) in edges
    assert (
        "tf:module.cycloid.aws_ebs_volume.flux",
        "tf:module.cycloid.aws_instance.batch",
    ) in edges
    # 13 depends_on entries, every one resolved inside the module. The attribute references
    # (security_groups, vpc_security_group_ids) only repeat them, so none is added twice.
    assert len(inv.rels) == 13
    assert all(r.attributes["origin"] == "dependencies" for r in inv.rels)
    # v3 flattened attributes: security group ids are not kept as attributes.
    batch = inv.ci("tf:module.cycloid.aws_instance.batch")
    assert batch.attributes["provider"] == "aws"
    assert not any(k.startswith("vpc_security_group_ids") for k in batch.attributes)
    _check_every_edge_allowed(inv)


@needs_inventories
def test_version_1_state_is_refused_naming_the_file() -> None:
    path = TERRAFORM / "terraform-inventory_example_v1.tfstate"
    with pytest.raises(InvalidInput, match="unsupported state version 1") as err:
        list(read([path]))
    assert err.value.where == str(path)


@needs_inventories
def test_azure_state() -> None:
    inv = _inv(TERRAFORM / "inframap_azure.tfstate")
    vm = inv.ci("tf:azurerm_linux_virtual_machine.myterraformvm")
    assert vm.ci_class == "VirtualMachine"
    assert vm.name == "myVM"
    assert _ids(inv, vm.key, IdentifierKind.CLOUD_ID) == {
        "/subscriptions/508f906f-b287-4882-b038-c653fe001aa0/resourceGroups/myResourceGroup"
        "/providers/Microsoft.Compute/virtualMachines/myVM"
    }
    assert vm.attributes["provider"] == "azurerm"
    assert inv.ci("tf:azurerm_virtual_network.myterraformnetwork").ci_class == "CloudResource"
    assert len([c for c in inv.cis if not c.unresolved]) == 5
    assert len(inv.unresolved) == 8  # nics, subnets, resource group, storage, random_id, tls key
    # 7 + 7 + 1 + 1 + 3 recorded dependencies.
    assert len(inv.rels) == 19
    # The peering points at the second network by id: already a recorded dependency.
    assert not [r for r in inv.rels if r.attributes["origin"] == "inferred"]
    _check_every_edge_allowed(inv)


@needs_inventories
def test_tfstate_lookup_data_sources_index_keys_and_zero_instances() -> None:
    inv = _inv(TERRAFORM / "tfstate-lookup_test.tfstate")
    keys = {c.key for c in inv.cis}
    assert {
        'tf:module.logs.aws_cloudwatch_log_group.main["app"]',
        'tf:module.logs.aws_cloudwatch_log_group.main["web"]',
        "tf:aws_iam_role_policy_attachment.ec2[0]",
        "tf:aws_iam_role_policy_attachment.ec2[1]",
        'tf:aws_iam_user.users["foo.bar"]',
        'tf:data.aws_lb_target_group.app["dev1"]',
        "tf:data.aws_caller_identity.current",
        "tf:module.webapp.module.ecs_task_roles.aws_iam_role.task_execution_role",
    } <= keys
    assert len(inv.cis) == 17
    # module.example.aws_vpc.example has no instance: a Stat, not a CI.
    assert inv.stats["zero_instance_resources"] == 1
    assert not any("aws_vpc" in k for k in keys)
    data = inv.ci('tf:data.aws_lb_target_group.app["dev2"]')
    assert data.attributes["mode"] == "data" and data.attributes["index_key"] == "dev2"
    user = inv.ci('tf:aws_iam_user.users["foo.bar"]')
    assert user.attributes["index_key"] == "foo.bar"
    # A short provider id ("foo.bar") is no cloud_id; the ARN is.
    assert _ids(inv, user.key, IdentifierKind.CLOUD_ID) == {
        "arn:aws:iam::xxxxxxxxxxxx:user/foo.bar"
    }
    # A login session's ARN names nothing lasting.
    assert not _ids(inv, "tf:data.aws_caller_identity.current", IdentifierKind.CLOUD_ID)
    subnet = inv.ci("tf:module.subnets.aws_subnet.main[0]")
    assert subnet.attributes["region"] == "ap-northeast-1"
    assert subnet.attributes["availability_zone"] == "ap-northeast-1a"
    # terraform_remote_state outputs are another state's values: never copied.
    remote = inv.ci("tf:data.terraform_remote_state.remote")
    assert "outputs" not in remote.attributes
    assert "kms_key" not in remote.model_dump_json()


@needs_inventories
def test_no_private_blob_from_the_real_states() -> None:
    for path in sorted(TERRAFORM.iterdir()):
        if "v1" in path.name:
            continue
        dump = "".join(i.model_dump_json() for i in read([path]))
        assert "bnVsbA==" not in dump, path  # the 'private' value used throughout these files


# -- fixtures -------------------------------------------------------------------------------


def test_fixture_index_keys_modules_and_classes() -> None:
    inv = _inv(FIXTURES / "tf_edges.tfstate")
    keys = {c.key for c in inv.cis if not c.unresolved}
    assert keys == {
        "tf:aws_vpc.main",
        "tf:aws_subnet.private[0]",
        "tf:aws_subnet.private[1]",
        "tf:aws_security_group.web",
        "tf:aws_kms_key.disk",
        'tf:module.app["blue"].aws_instance.web[0]',
        'tf:module.app["green"].aws_instance.web[0]',
        "tf:aws_lb.front",
        'tf:aws_iam_user.users["alice.smith"]',
        "tf:data.aws_ami.ubuntu",
        "tf:aws_ebs_volume.data",
    }
    assert inv.ci("tf:aws_lb.front").ci_class == "LoadBalancer"
    assert inv.ci("tf:aws_ebs_volume.data").ci_class == "StorageVolume"
    assert inv.ci("tf:aws_subnet.private[1]").attributes["index_key"] == 1
    assert inv.ci('tf:aws_iam_user.users["alice.smith"]').attributes["index_key"] == "alice.smith"
    assert inv.ci("tf:aws_vpc.main").name == "main-vpc"
    assert inv.ci("tf:aws_vpc.main").attributes["tags"] == {"Name": "main-vpc", "env": "test"}
    assert inv.ci("tf:data.aws_ami.ubuntu").attributes["mode"] == "data"
    assert inv.stats["zero_instance_resources"] == 1
    _check_every_edge_allowed(inv)


def test_fixture_instance_identifiers_are_normalised() -> None:
    inv = _inv(FIXTURES / "tf_edges.tfstate")
    blue = 'tf:module.app["blue"].aws_instance.web[0]'
    assert inv.ci(blue).ci_class == "VirtualMachine"
    assert inv.ci(blue).name == "web-blue"
    assert inv.ci(blue).attributes["tainted"] is True
    assert _ids(inv, blue, IdentifierKind.IP) == {"10.0.0.5"}  # public_ip "" is no address
    assert _ids(inv, blue, IdentifierKind.FQDN) == {"ip-10-0-0-5.eu-west-1.compute.internal"}
    assert _ids(inv, blue, IdentifierKind.CLOUD_ID) == {"i-0ccccccccccccccc1"}
    green = 'tf:module.app["green"].aws_instance.web[0]'
    assert _ids(inv, green, IdentifierKind.IP) == {"10.0.0.6", "203.0.113.6"}


def test_fixture_dependencies_and_inferred_edges() -> None:
    items = list(read([FIXTURES / "tf_edges.tfstate"]))
    recorded = {(r.source, r.target) for r in _rels(items, "dependencies")}
    blue = 'tf:module.app["blue"].aws_instance.web[0]'
    green = 'tf:module.app["green"].aws_instance.web[0]'
    assert recorded == {
        ("tf:aws_subnet.private[0]", "tf:aws_vpc.main"),
        ("tf:aws_security_group.web", "tf:aws_vpc.main"),
        # A dependency names a resource, so it reaches every instance of it ...
        (blue, "tf:aws_subnet.private[0]"),
        (blue, "tf:aws_subnet.private[1]"),
        (blue, "tf:aws_security_group.web"),
        (blue, "tf:aws_key_pair.absent"),
        # ... and, written without module keys, every instance of the module.
        ("tf:aws_lb.front", blue),
        ("tf:aws_lb.front", green),
    }
    inferred = {(r.source, r.target): r for r in _rels(items, "inferred")}
    assert {k: r.attributes["evidence"] for k, r in inferred.items()} == {
        ("tf:aws_subnet.private[1]", "tf:aws_vpc.main"): "vpc_id",
        (green, "tf:aws_subnet.private[1]"): "subnet_id",
        (green, "tf:aws_security_group.web"): "vpc_security_group_ids",
        ("tf:aws_lb.front", "tf:aws_subnet.private[0]"): "subnets",
        ("tf:aws_lb.front", "tf:aws_subnet.private[1]"): "subnets",
        ("tf:aws_lb.front", "tf:aws_security_group.web"): "security_groups",
        ("tf:aws_ebs_volume.data", "tf:aws_kms_key.disk"): "kms_key_id",
    }
    assert {r.confidence for r in inferred.values()} == {0.7}
    inv = collect("terraform", items)
    absent = inv.ci("tf:aws_key_pair.absent")
    assert absent.unresolved and absent.ci_class == "CloudResource"
    _check_every_edge_allowed(inv)


def test_fixture_reports_what_it_does_not_model() -> None:
    items = list(read([FIXTURES / "tf_edges.tfstate"]))
    inv = collect("terraform", items)
    by_severity = {(p.severity, p.message.split(" ")[0]) for p in inv.problems}
    assert (Severity.UNSUPPORTED, "deposed") in by_severity
    assert (Severity.ERROR, "resource") in by_severity  # the one without type and name
    assert any("'ephemeral'" in p.message for p in inv.problems)
    assert not any("aws_instance.old" in c.key for c in inv.cis)
    # The dependency on a zero-instance resource has nothing to point at: counted, no edge.
    assert inv.stats["dependencies_on_empty_resources"] == 1
    assert not any("unused" in r.target for r in inv.rels)
    # The rest of the file still came through.
    assert len([c for c in inv.cis if not c.unresolved]) == 11


def test_secrets_never_reach_a_record() -> None:
    items = list(read([FIXTURES / "tf_secrets.tfstate"]))
    dump = "\n".join(i.model_dump_json() for i in items)
    secrets = [
        "PLAIN-SECRET-5f3a",  # password, listed in sensitive_attributes
        "SENSITIVE-NAME-8d1f",  # an allow-listed attribute that is marked sensitive
        "TAG-SECRET-91c2",  # a tag whose key looks secret
        "NESTED-SECRET-77",  # inside master_user_secret
        "CONN-SECRET-12",  # connection_string
        "KEY-SECRET-3e4d",  # private_key_pem
        "USERDATA-SECRET-6a7b",  # user_data is not on the allow-list
        "PWDATA-SECRET-4e4e",  # password_data
        "VALUE-SECRET-0c0c",  # key material pasted into an ordinary tag
        "OUTPUT-SECRET-9e9e",  # outputs are never read
        "UFJJVkFURS1CTE9CLVNFQ1JFVC0yYjE5",  # the 'private' blob ...
        base64.b64decode("UFJJVkFURS1CTE9CLVNFQ1JFVC0yYjE5").decode(),  # ... and its content
    ]
    for secret in secrets:
        assert secret not in dump, secret
    inv = collect("terraform", items)
    db = inv.ci("tf:aws_db_instance.main")
    assert db.ci_class == "Database"
    assert db.name == "main-db"  # the sensitive 'name' is not used as the name either
    assert db.attributes["engine"] == "postgres" and db.attributes["tags"] == {"Name": "main-db"}


def test_version_3_counts_data_sources_and_relative_depends_on() -> None:
    inv = _inv(FIXTURES / "tf_v3_counts.tfstate")
    keys = {c.key for c in inv.cis}
    assert keys == {
        "tf:aws_instance.web[0]",
        "tf:aws_instance.web[1]",
        "tf:aws_eip.web",
        "tf:data.aws_ami.ubuntu",
        "tf:module.net.aws_subnet.main",
    }
    edges = {(r.source, r.target, r.attributes["origin"]) for r in inv.rels}
    assert ("tf:aws_eip.web", "tf:aws_instance.web[0]", "dependencies") in edges  # web.*
    assert ("tf:aws_eip.web", "tf:aws_instance.web[1]", "dependencies") in edges
    assert ("tf:aws_instance.web[0]", "tf:data.aws_ami.ubuntu", "dependencies") in edges
    assert ("tf:aws_instance.web[0]", "tf:module.net.aws_subnet.main", "inferred") in edges
    web0 = inv.ci("tf:aws_instance.web[0]")
    assert web0.name == "web-0" and web0.attributes["tags"] == {"Name": "web-0"}
    assert inv.ci("tf:aws_instance.web[1]").attributes["tainted"] is True
    messages = " | ".join(p.message for p in inv.problems)
    assert "deposed" in messages and "module-level depends_on" in messages
    assert "'module.net'" in messages  # a dependency on a whole module is reported
    assert all(p.severity is Severity.UNSUPPORTED for p in inv.problems)
    assert "V3-SECRET-1a1a" not in inv.model_dump_json()


def test_version_2_is_unsupported() -> None:
    path = FIXTURES / "tf_v2.tfstate"
    with pytest.raises(InvalidInput, match="unsupported state version 2") as err:
        list(read([path]))
    assert err.value.where == str(path)


def test_truncated_json_names_file_and_line() -> None:
    path = FIXTURES / "tf_truncated.tfstate"
    with pytest.raises(InvalidInput, match="invalid JSON") as err:
        list(read([path]))
    assert err.value.where is not None
    match = re.fullmatch(re.escape(str(path)) + r":(\d+):(\d+)", err.value.where)
    assert match is not None and int(match.group(1)) > 1


@pytest.mark.parametrize(
    "doc",
    [[1, 2], {"serial": 1}, {"version": "4"}, {"version": 5, "resources": []}],
)
def test_not_a_supported_state(tmp_path: Path, doc: object) -> None:
    path = tmp_path / "x.tfstate"
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidInput) as err:
        list(read([path]))
    assert err.value.where == str(path)


@pytest.mark.parametrize(
    "bad",
    [
        "not an object",
        {"type": "aws_instance", "name": "a", "instances": [{"attributes": [1, 2]}]},
        {"type": "aws_instance", "name": "a", "instances": [{"index_key": 1.5, "attributes": {}}]},
        {"type": "aws_instance", "name": "a", "module": 5, "instances": []},
        {"type": "aws_instance", "name": "a", "instances": "none"},
        {
            "type": "aws_instance",
            "name": "a",
            "instances": [{"attributes": {}, "dependencies": [1, "???"]}],
        },
    ],
)
def test_a_bad_resource_is_a_problem_and_the_rest_proceeds(tmp_path: Path, bad: object) -> None:
    good = {
        "mode": "managed",
        "type": "aws_instance",
        "name": "good",
        "instances": [{"attributes": {"id": "i-0123456789abcdef0", "private_ip": "10.9.0.1"}}],
    }
    path = tmp_path / "state.tfstate"
    path.write_text(json.dumps({"version": 4, "resources": [bad, good]}))
    inv = _inv(path)
    assert inv.problems and all(p.where.startswith(str(path)) for p in inv.problems)
    assert _ids(inv, "tf:aws_instance.good", IdentifierKind.IP) == {"10.9.0.1"}


def test_records_stream_per_file() -> None:
    # The good file's records arrive before the bad file is even opened.
    stream = read([FIXTURES / "tf_v3_counts.tfstate", FIXTURES / "tf_v2.tfstate"])
    first = next(stream)
    assert not isinstance(first, Stat)
    with pytest.raises(InvalidInput):
        list(stream)


# -- helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tf_type", "ci_class"),
    [
        ("aws_instance", "VirtualMachine"),
        ("google_compute_instance", "VirtualMachine"),
        ("azurerm_windows_virtual_machine", "VirtualMachine"),
        ("azurerm_virtual_machine_extension", "CloudResource"),
        ("aws_db_instance", "Database"),
        ("google_sql_database_instance", "Database"),
        ("azurerm_mssql_database", "Database"),
        ("azurerm_mssql_server_firewall_rule", "CloudResource"),
        ("aws_lb", "LoadBalancer"),
        ("aws_elb", "LoadBalancer"),
        ("azurerm_lb", "LoadBalancer"),
        ("aws_lb_target_group", "CloudResource"),
        ("aws_ebs_volume", "StorageVolume"),
        ("google_compute_disk", "StorageVolume"),
        ("azurerm_managed_disk", "StorageVolume"),
        ("aws_volume_attachment", "CloudResource"),
        ("aws_s3_bucket", "CloudResource"),
    ],
)
def test_classify(tf_type: str, ci_class: str) -> None:
    assert classify(tf_type) == ci_class


def test_parse_address_keeps_bracketed_dots() -> None:
    addr = parse_address('module.a["x.y"].module.b[0].data.aws_ami.z["k.1"]')
    assert addr is not None
    assert addr.module == 'module.a["x.y"].module.b[0]'
    assert (addr.mode, addr.tf_type, addr.name, addr.index) == ("data", "aws_ami", "z", '["k.1"]')
    assert addr.config == "module.a.module.b.data.aws_ami.z"
    whole_module = parse_address("module.net")
    assert whole_module is not None and whole_module.tf_type == ""
    assert parse_address("not an address!") is None


def test_key_identifier_is_the_resource_address() -> None:
    inv = _inv(FIXTURES / "tf_edges.tfstate")
    for ci in inv.cis:
        assert Identifier(kind=IdentifierKind.KEY, value=ci.key) in ci.identifiers


# -- early v4: module-relative depends_on ----------------------------------------------------


def test_early_v4_depends_on_resolves_inside_the_module_first() -> None:
    # Terraform 0.12 wrote an instance's depends_on relative to its module.
    items = list(read([FIXTURES / "tf_v4_relative_depends_on.tfstate"]))
    rule = "tf:module.all_sg.aws_security_group_rule.ingress[0]"
    app_sg = "tf:module.app[0].aws_security_group.app"
    vm = "tf:module.app[0].aws_instance.this[0]"
    recorded = {
        (r.source, r.target): r.attributes["reference"] for r in _rels(items, "dependencies")
    }
    assert recorded == {
        # The module's own security group, not the root one of the same name.
        (rule, "tf:module.all_sg.aws_security_group.this"): "aws_security_group.this",
        # A data source is relative too.
        (app_sg, "tf:module.app[0].data.aws_vpc.default"): "data.aws_vpc.default",
        # Named by both fields (absolute and relative): one edge, the absolute spelling.
        (vm, app_sg): "module.app.aws_security_group.app",
        # The module holds no key pair, the root does.
        (vm, "tf:aws_key_pair.key_pair"): "aws_key_pair.key_pair",
        # Neither holds it: the placeholder is the module's resource it names.
        (vm, "tf:module.app[0].aws_eip.missing"): "aws_eip.missing",
    }
    # What Terraform recorded already says it: no weaker inferred duplicate of those edges.
    assert _rels(items, "inferred") == []
    inv = collect("terraform", items)
    assert [c.key for c in inv.unresolved] == ["tf:module.app[0].aws_eip.missing"]
    assert not any(c.key == "tf:data.aws_vpc.default" for c in inv.cis)
    assert [p.message for p in inv.problems] == [
        "dependency 'module.all_sg' names no resource; not modelled"
    ]
    _check_every_edge_allowed(inv)


def test_early_v4_relative_name_falls_back_to_the_root_only_when_the_module_lacks_it(
    tmp_path: Path,
) -> None:
    def state(module_has_sg: bool) -> Path:
        sg = {"mode": "managed", "type": "aws_security_group", "name": "x"}
        resources = [
            {**sg, "instances": [{"attributes": {"id": "sg-root"}}]},
            {
                "module": "module.m",
                "mode": "managed",
                "type": "aws_instance",
                "name": "vm",
                "instances": [
                    {"attributes": {"id": "i-1"}, "depends_on": ["aws_security_group.x"]}
                ],
            },
        ]
        if module_has_sg:
            resources.append(
                {**sg, "module": "module.m", "instances": [{"attributes": {"id": "sg-m"}}]}
            )
        path = tmp_path / f"s{module_has_sg}.tfstate"
        path.write_text(
            json.dumps({"version": 4, "terraform_version": "0.12.2", "resources": resources})
        )
        return path

    def targets(path: Path) -> list[str]:
        return [r.target for r in _rels(list(read([path])), "dependencies")]

    assert targets(state(module_has_sg=True)) == ["tf:module.m.aws_security_group.x"]
    assert targets(state(module_has_sg=False)) == ["tf:aws_security_group.x"]


@needs_inventories
def test_repeated_modules_no_phantom_placeholders_and_no_duplicate_edges() -> None:
    path = TERRAFORM / "inframap_repeated_modules.tfstate.json"
    doc = json.loads(path.read_text())
    held = [
        ".".join(p for p in (res.get("module"), res["type"], res["name"]) if p)
        for res in doc["resources"]
    ]
    items = list(read([path]))
    edges = [(i.source, i.target) for i in items if isinstance(i, DiscoveredRel)]
    assert len(edges) == len(set(edges)) == 70
    inv = collect("terraform", items)
    placeholders = [c.key.removeprefix("tf:") for c in inv.unresolved]
    assert len(placeholders) == 8
    # A phantom would be a name the state holds under some module (a relative reference
    # put at the wrong level); these are all absent from this trimmed state altogether.
    for name in placeholders:
        assert not any(h == name or h.endswith(f".{name}") for h in held), name
