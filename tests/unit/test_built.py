"""cmdb.domain.built: model_construct's result, cheaper, for trusted values."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from cmdb.domain.built import built
from cmdb.domain.identifiers import Identifier, IdentifierKind
from discovery.records import DiscoveredCI, DiscoveredRel, Placeholder, Stat

PH = Placeholder(ci_class="Server", name="srv-1")
CASES: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (Identifier, {"kind": IdentifierKind.IP, "value": "10.0.0.1"}),
    (DiscoveredCI, {"key": "k", "ci_class": "Server", "name": "srv-1"}),
    (
        DiscoveredCI,
        {
            "key": "k",
            "ci_class": "Server",
            "name": "srv-1",
            "identifiers": (Identifier(kind=IdentifierKind.HOSTNAME, value="srv-1"),),
            "fields": {"owner": "ops"},
            "attributes": {"os": "linux"},
            "where": "f.json:3",
        },
    ),
    (
        DiscoveredRel,
        {"type": "HOSTED_ON", "source": "a", "target": "b", "target_placeholder": PH},
    ),
    (Stat, {"name": "hosts_up"}),
]


@pytest.mark.parametrize(("cls", "values"), CASES)
def test_built_equals_model_construct_and_validation(
    cls: type[BaseModel], values: dict[str, Any]
) -> None:
    made = built(cls, **values)
    assert type(made) is cls
    assert made == cls.model_construct(**values)
    assert made == cls.model_validate(values)
    assert made.model_fields_set == set(values)
    assert made.model_dump() == cls.model_validate(values).model_dump()
    assert made.model_dump_json() == cls.model_validate(values).model_dump_json()


def test_defaults_are_fresh_per_record() -> None:
    a = built(DiscoveredCI, key="a", ci_class="Server", name="a")
    b = built(DiscoveredCI, key="b", ci_class="Server", name="b")
    assert a.attributes == {} and a.attributes is not b.attributes


def test_frozen_records_stay_frozen_and_hashable() -> None:
    rel = built(DiscoveredRel, type="HOSTED_ON", source="a", target="b")
    with pytest.raises(ValueError, match="frozen"):
        rel.source = "c"  # type: ignore[misc]
    ident = built(Identifier, kind=IdentifierKind.IP, value="10.0.0.1")
    assert {ident: 1}[Identifier(kind=IdentifierKind.IP, value="10.0.0.1")] == 1


def test_a_missing_or_unknown_field_is_refused() -> None:
    with pytest.raises(TypeError, match="name is required"):
        built(DiscoveredCI, key="k", ci_class="Server")
    with pytest.raises(TypeError, match="no fields"):
        built(Stat, name="x", colour="red")


def test_every_field_in_order_marks_the_given_ones() -> None:
    values = {
        "key": "k",
        "ci_class": "Server",
        "name": "srv-1",
        "identifiers": (),
        "fields": {},
        "attributes": {},
        "unresolved": False,
        "where": None,
    }
    given = frozenset({"key", "ci_class", "name"})
    made = built(DiscoveredCI, given, **values)
    expected = DiscoveredCI.model_validate({k: values[k] for k in given})
    assert made == expected and made.model_fields_set == given
    assert made.model_dump_json() == expected.model_dump_json()
    # Out of order, the model's order still rules the dump.
    shuffled = built(DiscoveredCI, **dict(reversed(values.items())))
    assert shuffled.model_dump_json() == DiscoveredCI.model_validate(values).model_dump_json()


def test_a_records_fields_set_never_changes_with_anothers() -> None:
    every = {"type": "HOSTED_ON", "source": "a", "target": "b", "confidence": 1.0}
    every |= {"attributes": {}, "target_placeholder": None, "source_placeholder": None}
    given = frozenset({"type", "source", "target"})
    a = built(DiscoveredRel, given, **every, where="x")
    b = built(DiscoveredRel, given, **every, where="y")
    c = a.model_copy(update={"where": "z"})
    assert c.model_fields_set == given | {"where"}
    assert a.model_fields_set == b.model_fields_set == given

    class Loose(BaseModel):  # not frozen: assignment marks a field set, on its own set
        a: int = 0
        b: int = 0

    x, y = built(Loose, a=1, b=2), built(Loose, a=3, b=4)
    object.__setattr__(x, "__pydantic_fields_set__", {"a"})
    x.b = 5
    assert x.model_fields_set == {"a", "b"} and y.model_fields_set == {"a", "b"}
    z = built(Loose, frozenset({"a"}), a=1, b=2)
    z.b = 3
    assert built(Loose, frozenset({"a"}), a=1, b=2).model_fields_set == {"a"}
