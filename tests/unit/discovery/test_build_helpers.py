"""The adapters' record helpers make what validating the models would, only cheaper."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cmdb.domain.errors import ForbiddenRelationship
from cmdb.domain.identifiers import Identifier, IdentifierKind
from discovery.adapters._build import Ref, edge
from discovery.adapters._coerce import as_identifier, stripped_text
from discovery.records import DiscoveredRel

VM = Ref("a", "VirtualMachine", "a", (Identifier(kind=IdentifierKind.HOSTNAME, value="a"),))
SERVER = Ref("b", "Server", "b")


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (IdentifierKind.IP, "10.0.0.1"),
        (IdentifierKind.IP, " 10.0.0.1 "),
        (IdentifierKind.IP, "010.0.0.1"),
        (IdentifierKind.IP, "::FFFF:10.0.0.1"),
        (IdentifierKind.MAC, "AA-BB-CC-DD-EE-FF"),
        (IdentifierKind.MAC, "zz"),
        (IdentifierKind.FQDN, "Web.Example.COM."),
        (IdentifierKind.FQDN, "..."),
        (IdentifierKind.HOSTNAME, "   "),
        (IdentifierKind.PURL, ""),
        (IdentifierKind.KEY, "x" * 1024),
        (IdentifierKind.KEY, "x" * 1025),
        (IdentifierKind.KEY, " " + "x" * 1024),  # too long as given, though not stripped
        (IdentifierKind.SERIAL, 42),
        (IdentifierKind.SERIAL, None),
    ],
)
def test_as_identifier_is_validation(kind: IdentifierKind, value: Any) -> None:
    try:
        expected: Identifier | None = Identifier(kind=kind, value=value)
    except ValidationError:
        expected = None
    got = as_identifier(kind, value)
    assert got == expected
    if expected is not None and got is not None:
        assert got.model_fields_set == expected.model_fields_set
        assert got.model_dump_json() == expected.model_dump_json()


@pytest.mark.parametrize("value", ["x", " x ", "", "  ", None, 3, "\tx\n"])
def test_stripped_text(value: object) -> None:
    expected = value.strip() if isinstance(value, str) and value.strip() else None
    assert stripped_text(value) == expected


@pytest.mark.parametrize(
    ("rtype", "kwargs"),
    [
        ("HOSTED_ON", {}),
        ("hosted on", {}),  # a spelling the registry reads: stored as its name
        ("HOSTED_ON", {"confidence": 0.5, "attributes": {"via": "x", "n": [1]}}),
        ("HOSTED_ON", {"confidence": 1}),  # an int: validated, as before
    ],
)
def test_edge_is_the_validated_relationship(rtype: str, kwargs: dict[str, Any]) -> None:
    got = edge(rtype, VM, SERVER, "f.json:1", **kwargs)
    expected = DiscoveredRel(
        type=rtype,
        source="a",
        target="b",
        confidence=kwargs.get("confidence", 1.0),
        attributes=kwargs.get("attributes") or {},
        source_placeholder=VM.placeholder(),
        target_placeholder=SERVER.placeholder(),
        where="f.json:1",
    )
    assert got == expected
    assert got.model_fields_set == expected.model_fields_set
    assert got.model_dump_json() == expected.model_dump_json()
    assert DiscoveredRel.model_validate(got.model_dump()) == got
    if "attributes" in kwargs:
        assert got.attributes is not kwargs["attributes"]  # a copy, as validation makes


def test_edge_refuses_as_validation_does() -> None:
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        edge("HOSTED_ON", VM, SERVER, "w", confidence=2.0)
    with pytest.raises(ValidationError, match="valid string"):
        edge("HOSTED_ON", VM, SERVER, "w", attributes={1: "x"})  # type: ignore[dict-item]
    with pytest.raises(ForbiddenRelationship):
        edge("HOSTED_ON", SERVER, Ref("c", "Location", "c"), "w")


def test_compact_drops_what_was_not_said() -> None:
    from collections import OrderedDict

    from discovery.adapters._coerce import compact

    values: list[Any] = [None, {}, [], OrderedDict(), "", 0, 0.0, False, (), set(), "x", [0]]
    values += [{"a": None}, 1, True]
    attrs = {f"k{i}": v for i, v in enumerate(values)}
    expected = {k: v for k, v in attrs.items() if v is not None and v != {} and v != []}
    assert compact(attrs) == expected and list(compact(attrs)) == list(expected)
