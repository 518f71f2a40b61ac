"""Early v4 Terraform states (module-relative ``depends_on``) reconciled into each store:
edges land on the module's resources, no phantom root-level placeholder, no duplicate edge."""

from __future__ import annotations

from pathlib import Path

from cmdb.store.contract import GraphStore
from tests.reconcile_support import all_cis, inventory_path, run

RELATIVE = (
    Path(__file__).resolve().parents[2]
    / "unit/discovery/fixtures/tf_v4_relative_depends_on.tfstate"
)


def _unresolved(store: GraphStore) -> set[str]:
    return {c.name for c in all_cis(store) if c.attributes.get("unresolved") is True}


def test_relative_depends_on_lands_in_the_module(store: GraphStore) -> None:
    report = run(store, "terraform", RELATIVE)
    assert report.relationships["created"] == 5
    assert store.counts().relationships_by_type == {"DEPENDS_ON": 5}
    assert _unresolved(store) == {"module.app[0].aws_eip.missing"}
    names = {c.name for c in all_cis(store)}
    assert "data.aws_vpc.default" not in names


def test_repeated_modules_placeholders_are_the_eight_absent_resources(store: GraphStore) -> None:
    path = inventory_path("terraform", "inframap_repeated_modules.tfstate.json")
    run(store, "terraform", path)
    assert store.counts().relationships_by_type == {"DEPENDS_ON": 70}
    assert _unresolved(store) == {
        "module.vpc.aws_vpc.this",
        "module.vpc.aws_subnet.public",
        "module.vpc.aws_subnet.private",
        "module.vpc.aws_vpc_ipv4_cidr_block_association.this",
        "module.all_sg.aws_security_group.this",
        "module.ec2_openvpn.module.bastion_sg.aws_security_group.this",
        "aws_key_pair.key_pair",
        "tls_private_key.private_key",
    }
