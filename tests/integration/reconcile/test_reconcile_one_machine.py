"""The same machine seen by nmap, Ansible and Terraform ends as one CI, in any order."""

from __future__ import annotations

from itertools import permutations

import pytest

from cmdb.domain.classes import is_a
from cmdb.store.contract import CIFilter, Direction, GraphStore
from tests.fakes import FakeClock
from tests.reconcile_support import FIXTURES, all_cis, run

MACHINE = FIXTURES / "one_machine"
FILES = {"nmap": "nmap.xml", "ansible": "ansible.json", "terraform": "terraform.tfstate"}


@pytest.mark.parametrize("order", list(permutations(FILES)), ids="-".join)
def test_three_sources_one_machine(
    store: GraphStore, clock: FakeClock, order: tuple[str, ...]
) -> None:
    for fmt in order:
        clock.advance(60)
        report = run(store, fmt, MACHINE / FILES[fmt], clock=clock)
        assert not report.conflicts, report.conflicts
    machines = all_cis(store, CIFilter(ci_class="Compute"))
    assert len(machines) == 1, [m.label() for m in machines]
    m = machines[0]
    assert is_a(m.ci_class, "Compute")
    assert set(m.sources) == set(FILES)
    held = {str(i) for i in m.identifiers}
    assert {
        "serial=ec2e1916-9099-7caf-fd21-0123456789ab",
        "cloud_id=i-0abc123def4567890",
        "fqdn=ip-10-0-1-15.eu-west-1.compute.internal",
        "hostname=ip-10-0-1-15",
        "mac=0a:1b:2c:3d:4e:5f",
        "ip=10.0.1.15",
        "key=tf:aws_instance.web",
    } <= held
    # What each source knows sits on the one CI.
    assert m.attributes["os_version"] == "9.3"  # Ansible
    assert m.attributes["instance_type"] == "t3.medium"  # Terraform
    assert m.attributes["os_match"] == "Linux 5.X"  # nmap
    # nmap's open ports run on that CI, keyed through it; Terraform's subnet is a dependency.
    runs = store.neighbours(m.id, direction=Direction.IN, types=["RUNS_ON"])
    assert sorted(n.ci.identifier("key") or "" for n in runs) == [
        f"{m.id}:tcp/22",
        f"{m.id}:tcp/443",
    ]
    deps = store.neighbours(m.id, direction=Direction.OUT, types=["DEPENDS_ON"])
    assert [n.ci.name for n in deps] == ["aws_subnet.app"]
    assert len(all_cis(store)) == 4  # the machine, two ports, the subnet


def test_second_round_changes_nothing(store: GraphStore, clock: FakeClock) -> None:
    for fmt in FILES:
        run(store, fmt, MACHINE / FILES[fmt], clock=clock)
    before = len(list(store.iter_history()))
    for fmt in FILES:
        clock.advance(60)
        report = run(store, fmt, MACHINE / FILES[fmt], clock=clock)
        assert report.summary()["created"] == report.summary()["updated"] == 0
    assert len(list(store.iter_history())) == before
    assert len(all_cis(store)) == 4
