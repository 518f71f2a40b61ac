"""A snapshot's proposal edits name only CIs it holds (issue 17): importing one whose edit
names a CI id that is neither in the snapshot nor added by an earlier edit of the same
proposal version is refused before anything is written, naming the proposal, the version
and the edit. On both stores (the import target).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.store.contract import GraphStore
from cmdb.store.embedded.store import EmbeddedStore
from cmdb.store.snapshot import export, import_
from tests.fakes import FakeClock
from tests.integration.test_proposal_snapshot import _with_proposals


def _exported(tmp_path: Path) -> list[dict[str, Any]]:
    clock = FakeClock()
    source = EmbeddedStore(tmp_path / "source.db", clock=clock)
    try:
        _with_proposals(source, clock)
        buf = io.BytesIO()
        export(source, buf)
    finally:
        source.close()
    return [orjson.loads(line) for line in buf.getvalue().splitlines()]


def _file(docs: list[dict[str, Any]]) -> io.BytesIO:
    return io.BytesIO(b"\n".join(orjson.dumps(d) for d in docs) + b"\n")


def _proposal(docs: list[dict[str, Any]], pid: str, version: int) -> dict[str, Any]:
    return next(
        d["data"]
        for d in docs
        if d.get("kind") == "proposal" and (d["data"]["id"], d["data"]["version"]) == (pid, version)
    )


def _line_of(docs: list[dict[str, Any]], row: dict[str, Any]) -> int:
    return next(n for n, d in enumerate(docs, start=1) if d.get("data") is row)


def test_an_edit_naming_a_ci_the_snapshot_lacks_is_refused(
    tmp_path: Path, store: GraphStore
) -> None:
    docs = _exported(tmp_path)
    # RFC-1's first version adds vm-db-03 and hosts it on srv-01 (a CI of the snapshot);
    # point that relationship at a CI id nothing holds.
    first = _proposal(docs, "RFC-1", 1)
    assert [e["op"] for e in first["edits"]] == ["add_ci", "add_rel"]
    first["edits"][1]["target_id"] = "ci_not_there"

    with pytest.raises(InvalidInput) as err:
        import_(store, _file(docs))

    message = err.value.message
    assert "proposal RFC-1 version 1, edits[1]" in message and "ci_not_there" in message
    assert err.value.where == f"line {_line_of(docs, first)}, field data.edits.1.target_id"
    assert store.is_empty() and store.list_proposals() == []


def test_a_ci_added_by_an_earlier_edit_is_not_a_missing_one(
    tmp_path: Path, store: GraphStore
) -> None:
    """RFC-2 was withdrawn: the CI its edit adds is not in the snapshot, and an edit
    after it may name that CI; one before it may not (the order is the proposal's)."""
    docs = _exported(tmp_path)
    withdrawn = _proposal(docs, "RFC-2", 1)
    (add,) = withdrawn["edits"]
    new_id = add["ci"]["id"]
    retire = {"op": "retire_ci", "ci_id": new_id}

    withdrawn["edits"] = [retire, add]
    with pytest.raises(InvalidInput, match=rf"proposal RFC-2 version 1, edits\[0\].*{new_id}"):
        import_(store, _file(docs))
    assert store.is_empty() and store.list_proposals() == []

    withdrawn["edits"] = [add, retire]
    import_(store, _file(docs))
    assert store.get_proposal("RFC-2", version=1).edits[1].ci_id == new_id
