"""JSON Lines snapshots: round trip, and nothing written when any line is bad."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from cmdb.domain.changeset import ChangeSet, CIRef, CIRetire, CIUpsert, RelRetire, RelUpsert
from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import Identifier
from cmdb.domain.model import LifecycleStatus
from cmdb.domain.records import Change, Incident
from cmdb.sample.load import load_sample, natural_key
from cmdb.store import snapshot
from cmdb.store.contract import Direction
from cmdb.store.embedded.store import EmbeddedStore


class StepClock:
    """A clock that moves one second per call, so as-of instants are easy to pick."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


NewStore = Callable[[str], EmbeddedStore]


@pytest.fixture
def new_store(tmp_path: Path) -> Iterator[NewStore]:
    stores: list[EmbeddedStore] = []

    def make(name: str) -> EmbeddedStore:
        s = EmbeddedStore(tmp_path / f"{name}.db", clock=StepClock())
        stores.append(s)
        return s

    yield make
    for s in stores:
        s.close()


def _cs(**ops: Any) -> ChangeSet:
    return ChangeSet(actor="tester", source="manual", request_id="req-1", **ops)


def _key(cls: str, name: str) -> CIRef:
    return CIRef(identifier=natural_key(cls, name))


@pytest.fixture
def full(new_store: NewStore) -> EmbeddedStore:
    """A store with the sample estate plus updates, retirements, a change and an incident."""
    s = new_store("source")
    load_sample(s, actor="tester")
    s.apply(
        _cs(
            ci_upserts=[
                CIUpsert.model_validate(
                    {
                        "class": "Server",
                        "name": "srv-01",
                        "identifiers": [natural_key("Server", "srv-01")],
                        "status": "under_change",
                        "attributes": {"note": "fan", "rack": None},
                    }
                )
            ]
        )
    )
    s.apply(
        _cs(
            ci_retires=[
                CIRetire(ref=_key("VirtualMachine", "vm-int-01"), status=LifecycleStatus.DISPOSED)
            ],
            rel_retires=[
                RelRetire(
                    type="RUNS_ON",
                    source=_key("ApplicationInstance", "notifier-1"),
                    target=_key("VirtualMachine", "vm-int-01"),
                )
            ],
            rel_upserts=[
                RelUpsert(
                    type="DEPENDS_ON",
                    source=_key("Application", "Notifier"),
                    target=_key("Database", "bookings-db"),
                    confidence=0.4,
                )
            ],
        )
    )
    srv = s.find_by_identifier(Identifier.parse("serial=IBX7-40117"))[0]
    svc = s.find_by_identifier(natural_key("Service", "Online Ferry Booking"))[0]
    s.apply(
        _cs(
            changes=[Change(id="RFC-2026-0001", title="Replace fan", ci_ids=[srv.id])],
            incidents=[
                Incident(
                    id="INC-000001",
                    title="Slow bookings",
                    ci_ids=[srv.id],
                    service_ids=[svc.id],
                    opened_at=datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
                )
            ],
        )
    )
    return s


def _export(store: EmbeddedStore) -> list[bytes]:
    buf = io.BytesIO()
    snapshot.export(store, buf)
    return buf.getvalue().splitlines()


def test_round_trip_gives_identical_content(full: EmbeddedStore, new_store: NewStore) -> None:
    first = _export(full)
    header = orjson.loads(first[0])
    assert header["format"] == "graph-cmdb-snapshot" and header["version"] == 1
    assert header["store"] == "embedded"
    assert header["counts"]["cis"] == 47 and header["counts"]["relationships"] == 94
    assert header["counts"]["changes"] == 1 and header["counts"]["incidents"] == 1
    assert header["counts"]["history"] == len(first) - 1 - 47 - 94 - 2

    copy = new_store("copy")
    counts = snapshot.import_(copy, io.BytesIO(b"\n".join(first) + b"\n"))
    assert counts == header["counts"]
    again = _export(copy)
    assert again[1:] == first[1:]
    assert copy.counts() == full.counts()


def test_round_trip_keeps_as_of_and_later_writes(full: EmbeddedStore, new_store: NewStore) -> None:
    copy = new_store("copy")
    snapshot.import_(copy, io.BytesIO(b"\n".join(_export(full))))
    srv = copy.find_by_identifier(Identifier.parse("serial=IBX7-40117"))[0]
    created = copy.history(srv.id)[0].at
    assert copy.get_ci(srv.id, as_of=created).status.value == "live"
    assert copy.get_ci(srv.id).status.value == "under_change"
    sub = copy.subgraph([srv.id], direction=Direction.IN, max_depth=2)
    assert sub == full.subgraph([srv.id], direction=Direction.IN, max_depth=2)
    last_seq = max(h.seq for h in copy.iter_history())
    copy.apply(
        _cs(ci_upserts=[CIUpsert.model_validate({"id": srv.id, "class": "Server", "name": "x"})])
    )
    assert copy.history(srv.id)[-1].seq > last_seq


def test_chunked_import_and_unseekable_input(full: EmbeddedStore, new_store: NewStore) -> None:
    lines = _export(full)

    class Pipe(io.BytesIO):
        def seekable(self) -> bool:
            return False

    copy = new_store("copy")
    snapshot.import_(copy, Pipe(b"\n".join(lines)), max_batch_rows=7)
    assert _export(copy)[1:] == lines[1:]


@pytest.mark.parametrize(("max_rows", "reads"), [(snapshot.MAX_BATCH_ROWS, 1), (7, 2)])
def test_a_snapshot_that_fits_one_batch_is_parsed_once(
    full: EmbeddedStore,
    new_store: NewStore,
    monkeypatch: pytest.MonkeyPatch,
    max_rows: int,
    reads: int,
) -> None:
    """Checked whole, then written: one that fits one restore call is written from the rows
    the check parsed; a bigger one is read again, a batch at a time, to bound memory."""
    lines = _export(full)
    parsed: list[int] = []
    real = snapshot._parse

    def counting(n: int, raw: bytes) -> Any:
        parsed.append(n)
        return real(n, raw)

    monkeypatch.setattr(snapshot, "_parse", counting)
    copy = new_store("copy")
    snapshot.import_(copy, io.BytesIO(b"\n".join(lines)), max_batch_rows=max_rows)
    assert len(parsed) == reads * (len(lines) - 1)
    assert _export(copy)[1:] == lines[1:]


def _broken(lines: list[bytes], n: int, new: bytes) -> io.BytesIO:
    out = list(lines)
    out[n - 1] = new
    return io.BytesIO(b"\n".join(out))


def _edit(line: bytes, **data: object) -> bytes:
    doc = orjson.loads(line)
    doc["data"].update(data)
    return orjson.dumps(doc)


@pytest.mark.parametrize(
    ("line_no", "mutate", "expect"),
    [
        (3, lambda ln: b"{not json", "line 3: not JSON"),
        (4, lambda ln: _edit(ln, **{"class": "Spaceship"}), "line 4, field data.class"),
        (5, lambda ln: _edit(ln, status="lost"), "line 5, field data.status"),
        (2, lambda ln: b'{"kind": "cat", "data": {}}', "line 2, field kind"),
        (60, lambda ln: _edit(ln, source_id="ci_nowhere"), "line 60, field data.source_id"),
        (60, lambda ln: _edit(ln, id="rel_made_up"), "line 60, field data.id"),
        (3, "steal-identifiers", "line 3, field data.identifiers"),
        (1, lambda ln: ln.replace(b"graph-cmdb-snapshot", b"other"), "line 1, field format"),
        (1, lambda ln: ln.replace(b'"version":1', b'"version":2'), "line 1, field version"),
    ],
)
def test_a_bad_line_is_named_and_nothing_is_written(
    full: EmbeddedStore,
    new_store: NewStore,
    line_no: int,
    mutate: Callable[[bytes], bytes] | str,
    expect: str,
) -> None:
    lines = _export(full)
    copy = new_store("copy")
    if mutate == "steal-identifiers":  # line 3 claims the unique identifiers of line 2
        new = _edit(lines[2], identifiers=orjson.loads(lines[1])["data"]["identifiers"])
    else:
        assert callable(mutate)
        new = mutate(lines[line_no - 1])
    with pytest.raises(InvalidInput) as err:
        snapshot.import_(copy, _broken(lines, line_no, new))
    assert str(err.value).startswith(expect), str(err.value)
    assert copy.is_empty()


def test_a_bad_line_late_in_a_chunked_import_writes_nothing(
    full: EmbeddedStore, new_store: NewStore
) -> None:
    lines = _export(full)
    copy = new_store("copy")
    bad = _broken(lines, len(lines), _edit(lines[-1], seq=1))
    with pytest.raises(InvalidInput, match=rf"line {len(lines)}, field data.seq"):
        snapshot.import_(copy, bad, max_batch_rows=5)
    assert copy.is_empty()


def test_a_truncated_file_is_refused(full: EmbeddedStore, new_store: NewStore) -> None:
    lines = _export(full)
    copy = new_store("copy")
    with pytest.raises(InvalidInput, match=r"header promises .* history but the file holds"):
        snapshot.import_(copy, io.BytesIO(b"\n".join(lines[:-3])))
    assert copy.is_empty()


def test_sections_out_of_order_are_refused(new_store: NewStore) -> None:
    small = new_store("small")
    up = [
        CIUpsert.model_validate(
            {"class": "Server", "name": n, "identifiers": [natural_key("Server", n)]}
        )
        for n in ("a", "b")
    ]
    small.apply(
        _cs(
            ci_upserts=up,
            rel_upserts=[
                RelUpsert(
                    type="CONNECTS_TO", source=_key("Server", "a"), target=_key("Server", "b")
                )
            ],
        )
    )
    lines = _export(small)  # header, 2 CIs, 1 relationship, 3 history rows
    assert [orjson.loads(x)["kind"] for x in lines[1:]] == [
        "ci",
        "ci",
        "rel",
        "history",
        "history",
        "history",
    ]
    moved = [*lines[:3], lines[4], lines[3], *lines[5:]]
    with pytest.raises(InvalidInput, match="line 5: a 'rel' line after the 'history' section"):
        snapshot.import_(new_store("copy"), io.BytesIO(b"\n".join(moved)))


def test_empty_file_and_non_empty_store_are_refused(
    full: EmbeddedStore, new_store: NewStore
) -> None:
    with pytest.raises(InvalidInput, match="line 1: the file is empty"):
        snapshot.import_(new_store("copy"), io.BytesIO(b""))
    with pytest.raises(InvalidInput, match="already holds data"):
        snapshot.import_(full, io.BytesIO(b"\n".join(_export(full))))


def test_an_empty_store_round_trips(new_store: NewStore) -> None:
    lines = _export(new_store("empty"))
    assert len(lines) == 1
    copy = new_store("copy")
    assert snapshot.import_(copy, io.BytesIO(lines[0]))["cis"] == 0
    assert copy.is_empty()
