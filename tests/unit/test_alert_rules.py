"""The alert mapping rules: ports stripped, rules read from YAML or JSON, bad files refused
naming the file and the field, and the lookup over a store holding the demo estate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import IdentifierKind
from cmdb.domain.records import Level
from cmdb.practice.alert_rules import DEFAULT_RULES, host_of, load_rules, map_labels
from cmdb.sample.load import load_sample
from cmdb.store.embedded.store import EmbeddedStore


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    s = EmbeddedStore(tmp_path_factory.mktemp("alert-rules") / "cmdb.db")
    load_sample(s, actor="test")
    yield s
    s.close()


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("vm-app-01:9100", "vm-app-01"),
        ("10.20.1.11:9100", "10.20.1.11"),
        ("[2001:db8::1]:9100", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("vm-app-01", "vm-app-01"),
        (" web:80 ", "web"),
    ],
)
def test_host_of_drops_the_port(value: str, host: str) -> None:
    assert host_of(value) == host


def test_no_file_means_the_shipped_rules() -> None:
    assert load_rules(None) is DEFAULT_RULES
    assert [r.label for r in DEFAULT_RULES.labels][:2] == ["instance", "node"]


def test_rules_from_yaml_and_json(tmp_path: Path) -> None:
    yml = tmp_path / "rules.yaml"
    yml.write_text(
        "labels:\n  - {label: box, kinds: [hostname], strip_port: true}\nmax_hops: 1\n"
        "urgency: {sev1: high}\n"
    )
    rules = load_rules(yml)
    assert rules.labels[0].kinds == [IdentifierKind.HOSTNAME] and rules.max_hops == 1
    assert rules.urgency_of({"severity": "SEV1"}) is Level.HIGH
    assert rules.urgency_of({"severity": "other"}) is Level.MEDIUM
    js = tmp_path / "rules.json"
    js.write_text(json.dumps({"labels": [{"label": "job", "names": True}]}))
    assert load_rules(js).labels[0].names is True


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("labels: [{label: x, kinds: [shoe_size]}]", "labels.0.kinds.0"),
        ("labels: []\nmax_hops: 99", "max_hops"),
        ("labels: [{label: x, colour: red}]", "labels.0.colour"),
        ("labels: [unclosed", "not valid YAML"),
    ],
)
def test_a_bad_rules_file_names_the_file_and_the_field(
    tmp_path: Path, text: str, where: str
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInput) as err:
        load_rules(path)
    assert err.value.where == str(path) and where in err.value.message


def test_a_missing_rules_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        load_rules(tmp_path / "nope.yaml")
    assert err.value.where == str(tmp_path / "nope.yaml")


def test_labels_name_demo_cis_by_identifier_then_name(store: EmbeddedStore) -> None:
    got = map_labels(
        store,
        DEFAULT_RULES,
        {
            "instance": "vm-app-01.gullhaven.saltmarsh.example:9100",
            "job": "Booking Web",
            "node": "vm-app-01",  # the same VM again: named once
        },
    )
    assert [(m.label, m.how, m.ci.name) for m in got] == [
        ("instance", "fqdn=vm-app-01.gullhaven.saltmarsh.example", "vm-app-01"),
        ("job", "name=Booking Web", "Booking Web"),
    ]
    assert map_labels(store, DEFAULT_RULES, {"instance": "nowhere:1", "other": "srv-01"}) == []


def test_classes_keep_only_those_classes(store: EmbeddedStore, tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("labels:\n  - {label: job, names: true, classes: [Service]}\n")
    rules = load_rules(path)
    assert map_labels(store, rules, {"job": "Booking Web"}) == []
    (m,) = map_labels(store, rules, {"job": "Online Ferry Booking"})
    assert m.ci.ci_class == "Service"
