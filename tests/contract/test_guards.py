"""Guarded writes (cmdb/store/guards.py) on both stores: a change set whose guard still
holds the value read is applied and moves it on; one whose guard moved is refused whole."""

from __future__ import annotations

import pytest

from cmdb.domain.changeset import ChangeSet, Guard
from cmdb.domain.errors import WriteConflict
from cmdb.store.contract import CIFilter, GraphStore


def _server(name: str, guard: Guard | None) -> ChangeSet:
    return ChangeSet.model_validate(
        {
            "actor": "tester",
            "source": "manual",
            "ci_upserts": [
                {"class": "Server", "name": name, "identifiers": [{"kind": "key", "value": name}]}
            ],
            "guard": guard,
        }
    )


def test_a_guarded_write_applies_once_per_reading(store: GraphStore) -> None:
    assert store.guard_value("alerts") == 0
    store.apply(_server("a", Guard(name="alerts", expect=0)))
    assert store.guard_value("alerts") == 1
    assert store.guard_value("other") == 0  # guards are counted by name
    # A second writer that read 0 too is refused, and nothing of its batch is written.
    with pytest.raises(WriteConflict) as err:
        store.apply(_server("b", Guard(name="alerts", expect=0)))
    assert err.value.where == "guard" and "read again" in err.value.message
    assert [c.name for c in store.list_cis(CIFilter()).items] == ["a"]
    assert store.guard_value("alerts") == 1
    # Reading again and writing with what it read succeeds; unguarded writes leave it.
    store.apply(_server("b", Guard(name="alerts", expect=store.guard_value("alerts"))))
    store.apply(_server("c", None))
    assert store.guard_value("alerts") == 2
    assert sorted(c.name for c in store.list_cis(CIFilter()).items) == ["a", "b", "c"]


def test_a_guard_name_is_checked() -> None:
    with pytest.raises(ValueError, match="name"):
        Guard(name="Bad Name!", expect=0)
