"""The pure parts of reconciliation: identification rules, digests, the policy file, and
the hook that filters discrepancies by approved changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from cmdb.domain.changeset import Precedence
from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.domain.model import CI
from cmdb.domain.records import Change, ChangeState
from discovery.reconcile.digest import combined, record_digest
from discovery.reconcile.policy import load_precedence, parse_precedence
from discovery.reconcile.report import Discrepancy, unauthorised
from discovery.reconcile.rules import compatible, contradicts, corroborates, rules_for
from discovery.records import DiscoveredCI, DiscoveredRel


def i(kind: str, value: str) -> Identifier:
    return Identifier(kind=IdentifierKind(kind), value=value)


def names(ci_class: str) -> list[str]:
    return [r.name for r in rules_for(ci_class)]


def test_rules_are_ordered_and_inherited() -> None:
    assert names("VirtualMachine")[:6] == [
        "serial",
        "cloud_id",
        "fqdn",
        "hostname+domain",
        "mac",
        "key",
    ]
    assert names("Pod")[:5] == names("Server")[:5]  # Pod < Container < Compute
    assert names("KubernetesWorkload")[:2] == ["key", "k8s_uid"]
    assert names("CloudResource")[:2] == ["cloud_id", "key"]
    assert names("SoftwarePackage")[:2] == ["purl", "key"]
    assert names("Database")[0] == "key"
    # Every unique kind is a last resort for every class, once.
    for cls in ("Server", "Team", "LoadBalancer"):
        got = names(cls)
        assert len(got) == len(set(got))
        assert {"serial", "fqdn", "mac", "cloud_id", "k8s_uid", "purl", "asset_tag"} <= set(got)


def test_families_and_contradictions() -> None:
    assert compatible("Server", "VirtualMachine") and compatible("Pod", "Server")
    assert not compatible("Server", "ApplicationInstance")
    assert not compatible("Database", "Server")
    assert contradicts([i("serial", "A")], [i("serial", "B"), i("mac", "00:00:00:00:00:01")])
    assert not contradicts([i("serial", "A")], [i("serial", "A"), i("serial", "B")])
    assert not contradicts([i("serial", "A")], [i("fqdn", "x.example")])
    # Several MACs or cloud ids (an id and an ARN) are normal: never a contradiction.
    assert not contradicts([i("mac", "00:00:00:00:00:01")], [i("mac", "00:00:00:00:00:02")])


def test_a_hostname_needs_an_address_or_a_domain() -> None:
    ci = CI.model_validate(
        {
            "id": "ci_1",
            "class": "Server",
            "name": "web01",
            "identifiers": [i("fqdn", "web01.corp.example"), i("ip", "10.0.0.5")],
        }
    )
    assert corroborates({"web01"}, {"10.0.0.5"}, set(), ci)
    assert corroborates({"web01"}, set(), {"corp.example"}, ci)
    assert not corroborates({"web01"}, set(), set(), ci)  # a bare hostname is never enough
    assert not corroborates({"web01"}, {"10.9.9.9"}, {"other.example"}, ci)
    assert not corroborates({"db01"}, {"10.0.0.5"}, set(), ci)  # same address, other name


def _ci(**kw: object) -> DiscoveredCI:
    base: dict[str, object] = {
        "key": "k",
        "ci_class": "Server",
        "name": "n",
        "attributes": {"a": 1, "b": [1, 2]},
    }
    return DiscoveredCI.model_validate({**base, **kw})


def test_digest_is_stable_and_says_what_the_record_says() -> None:
    r1 = DiscoveredRel(type="DEPENDS_ON", source="k", target="x")
    r2 = DiscoveredRel(type="DEPENDS_ON", source="k", target="y")
    d = record_digest(_ci(), [r1, r2])
    assert d == record_digest(_ci(attributes={"b": [1, 2], "a": 1}, where="f:9"), [r2, r1])
    assert d != record_digest(_ci(attributes={"a": 2, "b": [1, 2]}), [r1, r2])
    assert d != record_digest(_ci(), [r1])
    assert d != record_digest(_ci(unresolved=True), [r1, r2])
    assert combined([d]) == d
    assert combined(["x", "y"]) == combined(["y", "x"]) != combined(["x"])


def test_policy_file(tmp_path: Path) -> None:
    good = tmp_path / "p.yaml"
    good.write_text(
        "owners:\n  attributes.os_version: [ansible, nmap]\n  attributes.*: [terraform]\n"
        "  owner: [backstage]\ndefault: [terraform]\n",
        encoding="utf-8",
    )
    policy = load_precedence(good)
    assert policy.rank("attributes.os_version", "nmap") == 1
    assert policy.rank("attributes.cpu", "terraform") == 0  # through attributes.*
    assert policy.rank("attributes.cpu", "ansible") is None
    assert policy.rank("location", "terraform") == 0  # the default
    assert policy.ranking("owner") == ["backstage"]
    for text, needle in (
        ("- a\n- b\n", "a mapping"),
        ("owners:\n  os: [a]\n", "attributes.<key>"),
        ("owners: {}\nextra: 1\n", "extra"),
        ("owners:\n  owner: nmap\n", "owners"),
    ):
        with pytest.raises(InvalidInput) as exc:
            parse_precedence(yaml.safe_load(text), where="p.yaml")
        assert needle in str(exc.value) and "p.yaml" in str(exc.value), str(exc.value)


def test_approved_changes_filter_discrepancies_by_ci_and_window() -> None:
    t = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    found = [
        Discrepancy(ci_id=c, name=c, field="attributes.os", before="a", after="b", observed_at=t)
        for c in ("ci_1", "ci_2", "ci_3")
    ]
    hour = timedelta(hours=1)
    changes = [
        Change(id="RFC-1", title="t", state=ChangeState.AUTHORISED, ci_ids=["ci_1"]),
        Change(  # approved, but its window is over
            id="RFC-2",
            title="t",
            state=ChangeState.SCHEDULED,
            ci_ids=["ci_2"],
            planned_start=t - 3 * hour,
            planned_end=t - hour,
        ),
        Change(id="RFC-3", title="t", state=ChangeState.DRAFT, ci_ids=["ci_3"]),  # not approved
    ]
    assert [d.ci_id for d in unauthorised(found, changes)] == ["ci_2", "ci_3"]
    assert [d.ci_id for d in unauthorised(found, [])] == ["ci_1", "ci_2", "ci_3"]
    assert all(d.why.startswith("no approved change covers") for d in unauthorised(found, []))


def test_precedence_ranks() -> None:
    p = Precedence(owners={"attributes.*": ["a"], "attributes.x": ["b", "a"]}, default=["c"])
    assert (p.rank("attributes.x", "a"), p.rank("attributes.y", "a")) == (1, 0)
    assert p.rank("name", "c") == 0 and p.rank("name", "a") is None
