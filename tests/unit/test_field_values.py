"""CI.field_values and Relationship.field_values are written out by hand for speed; they
must stay exactly what pydantic's JSON dump of the same fields gives (history records and
compares these values, so a difference would be a spurious or a missed change)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from cmdb.domain.model import CI, CI_FIELDS, REL_FIELDS, Relationship
from cmdb.sample.load import load_sample
from cmdb.store.embedded.store import EmbeddedStore


def _generic(model: CI | Relationship, fields: tuple[str, ...]) -> dict[str, Any]:
    dumped = model.model_dump(mode="json", include=set(fields), by_alias=False)
    return {f: dumped.get(f) for f in fields}


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same JSON types all the way down (1 and 1.0 and True differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_the_sample_estate_dumps_alike(tmp_path: Any) -> None:
    store = EmbeddedStore(tmp_path / "s.db")
    try:
        load_sample(store, actor="test")
        cis = store.list_cis(limit=1000).items
        classes = {c.ci_class for c in cis}
        assert {"Service", "Cluster", "Server"} <= classes  # services, redundancy, plain
        assert any(c.service is not None and c.service.sla is not None for c in cis)
        assert any(c.agreements for c in cis)
        for ci in cis:
            assert _same(ci.field_values(), _generic(ci, CI_FIELDS)), ci.label()
            for n in store.neighbours(ci.id):
                rel = n.relationship
                assert _same(rel.field_values(), _generic(rel, REL_FIELDS)), rel.id
    finally:
        store.close()


@pytest.mark.parametrize(
    "attrs",
    [
        {},
        {"port": 5432, "ratio": 1.0, "on": True, "none": None, "text": "é"},
        {"nested": {"a": [1, 2.5, {"b": None}]}, "list": ["x", 1]},
        # YAML readers hand over dates and times; history keeps them as pydantic writes them.
        {"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "day": date(2026, 1, 2)},
    ],
)
def test_attributes_of_every_json_shape(attrs: dict[str, Any]) -> None:
    ci = CI.model_validate(
        {
            "id": "ci_1",
            "class": "Server",
            "name": "srv",
            "criticality": "high",
            "identifiers": [{"kind": "serial", "value": "X1"}],
            "attributes": attrs,
        }
    )
    assert _same(ci.field_values(), _generic(ci, CI_FIELDS))
    rel = Relationship(
        id="rel_1", type="DEPENDS_ON", source_id="ci_1", target_id="ci_2", attributes=attrs
    )
    assert _same(rel.field_values(), _generic(rel, REL_FIELDS))
