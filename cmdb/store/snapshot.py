"""JSON Lines snapshots of a whole CMDB: the "recent copy" continuity plans ask for.

A snapshot is written and read through the ``GraphStore`` Protocol only, so it moves a
CMDB between stores (embedded <-> Neo4j) as well as between machines. Layout, one JSON
document per line::

    {"format": "graph-cmdb-snapshot", "version": 1, "store": ..., "exported_at": ...,
     "counts": {"cis": n, "relationships": n, "changes": n, "incidents": n,
                "problems": n, "history": n}}
    {"kind": "ci", "data": {...}}            every CI, any status
    {"kind": "rel", "data": {...}}           every relationship, retired ones too
    {"kind": "change", "data": {...}}
    {"kind": "incident", "data": {...}}
    {"kind": "problem", "data": {...}}        (absent from snapshots made before problems)
    {"kind": "proposal", "data": {...}}       every version of every what-if proposal, in
                                             version order (absent from older snapshots)
    {"kind": "history", "data": {...}}       every history row, in seq order

Sections come in that order (a relationship's ends are known before it is read).

Import is validate-then-write: the whole file is read and checked first (every line, the
cross references, among them each CI a proposal's edit names, which is in the snapshot or
added by an earlier edit of the same version, and the header's counts, so a truncated file
is refused), and nothing is written unless all of it is good. The rows are then handed to
``store.restore``. Up to ``max_batch_rows`` rows that is one call, hence one transaction,
of the rows the check parsed. A bigger snapshot is read again and restored in consecutive
calls of at most that many rows, to bound memory: only a store failure (disk full, a lost
connection) can then stop it part-way, the error says so, and the partly filled store must
be emptied (delete the embedded file) before importing again.
Proposal versions are added after each batch's rows (``save_proposal``, which only appends
the next version), so a store failure can stop an import between the two as well.

Export is not a point-in-time read: take it while nobody writes, or accept that CIs,
relationships and history may be from slightly different moments.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import orjson
from pydantic import BaseModel, ValidationError

from cmdb.domain.errors import InvalidInput, StoreUnavailable
from cmdb.domain.history import EntityKind, HistoryEntry
from cmdb.domain.model import CI, Relationship, relationship_id, utcnow
from cmdb.domain.proposals import Proposal
from cmdb.domain.records import Change, Incident, Problem, Record
from cmdb.store.contract import DocumentKind, GraphStore, SnapshotBatch
from cmdb.store.gcpause import gc_paused

FORMAT = "graph-cmdb-snapshot"
VERSION = 1
MAX_BATCH_ROWS = 100_000
_SPOOL_BYTES = 64 * 1024 * 1024

# line kind -> (model, SnapshotBatch field, header count name); dict order = section order
_KINDS: dict[str, tuple[type[BaseModel], str]] = {
    "ci": (CI, "cis"),
    "rel": (Relationship, "relationships"),
    "change": (Change, "changes"),
    "incident": (Incident, "incidents"),
    "problem": (Problem, "problems"),
    "proposal": (Proposal, "proposals"),
    "history": (HistoryEntry, "history"),
}
_ORDER = {k: i for i, k in enumerate(_KINDS)}


def _line(kind: str, model: BaseModel) -> bytes:
    # pydantic-core writes the model's JSON itself: the same document as orjson over
    # model_dump(mode="json"), without building the dict in between.
    return _wrap(kind, model.__pydantic_serializer__.to_json(model, by_alias=True))


def _wrap(kind: str, data: bytes | str) -> bytes:
    body = data.encode() if isinstance(data, str) else data
    return b'{"kind":"' + kind.encode() + b'","data":' + body + b"}\n"


def _iter_proposals(store: GraphStore) -> Iterator[Proposal]:
    for latest in store.list_proposals():
        yield from store.proposal_versions(latest.id)


# Streamed page by page: nothing is kept, and no reference cycles are made, so reference
# counting frees each page; with the cyclic collector running, its passes over the page
# in hand were about half of reading 100k CIs (bench/store.py, "read every CI").
@gc_paused()
def export(store: GraphStore, fh: IO[bytes]) -> dict[str, int]:
    """Write the whole CMDB to ``fh``; return the counts the header carries."""
    counts = dict.fromkeys((name for _, name in _KINDS.values()), 0)
    # The header comes first but its counts are known only at the end: spool the body.
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as body:
        # CIs and relationships are copied as the store wrote their documents (the same
        # dump of the same models): decoding and encoding 100k CIs and their edges was
        # most of an export's time.
        for kind, docs in (
            ("ci", store.iter_documents(DocumentKind.CI)),
            ("rel", store.iter_documents(DocumentKind.REL)),
        ):
            name = _KINDS[kind][1]
            for doc in docs:
                body.write(_wrap(kind, doc))
                counts[name] += 1
        sections: list[tuple[str, Any]] = [
            ("change", store.list_changes()),
            ("incident", store.list_incidents()),
            ("problem", store.list_problems()),
            ("proposal", _iter_proposals(store)),
            ("history", store.iter_history()),
        ]
        for kind, rows in sections:
            name = _KINDS[kind][1]
            for row in rows:
                body.write(_line(kind, row))
                counts[name] += 1
        header = {
            "format": FORMAT,
            "version": VERSION,
            "store": store.kind,
            "exported_at": utcnow().isoformat(),
            "counts": counts,
        }
        fh.write(orjson.dumps(header) + b"\n")
        body.seek(0)
        shutil.copyfileobj(body, fh)
    return counts


def _loc(err: Any) -> str:
    return ".".join(str(p) for p in err["loc"])


def _msg(err: Any) -> str:
    msg = str(err["msg"]).removeprefix("Value error, ")
    # Some domain validators already name their field ("class: unknown CI class ...").
    return msg.removeprefix(f"{err['loc'][-1]}: ") if err["loc"] else msg


def _bad(line_no: int, message: str, fld: str | None = None) -> InvalidInput:
    where = f"line {line_no}" if not fld else f"line {line_no}, field {fld}"
    return InvalidInput(message, where=where)


@dataclass
class _Checker:
    """Cross-line rules; keeps only ids, so a large file is checked in little memory."""

    counts: dict[str, int] = field(default_factory=lambda: {n: 0 for _, n in _KINDS.values()})
    ci_ids: set[str] = field(default_factory=set)
    idents: dict[tuple[str, str], str] = field(default_factory=dict)
    rel_ids: set[str] = field(default_factory=set)
    record_ids: dict[str, set[str]] = field(
        default_factory=lambda: {"change": set(), "incident": set(), "problem": set()}
    )
    last_seq: int = 0
    section: int = 0
    proposal_versions: dict[str, int] = field(default_factory=dict)

    def check(self, n: int, kind: str, row: BaseModel) -> None:
        if _ORDER[kind] < self.section:
            raise _bad(n, f"a {kind!r} line after the {list(_KINDS)[self.section]!r} section")
        self.section = _ORDER[kind]
        self.counts[_KINDS[kind][1]] += 1
        if isinstance(row, CI):
            self._ci(n, row)
        elif isinstance(row, Relationship):
            self._rel(n, row)
        elif isinstance(row, Change | Incident | Problem):
            self._record(n, kind, row)
        elif isinstance(row, HistoryEntry):
            self._history(n, row)
        elif isinstance(row, Proposal):
            self._proposal(n, row)

    def _proposal(self, n: int, p: Proposal) -> None:
        if p.id not in self.record_ids["change"]:
            raise _bad(n, f"a proposal of change {p.id}, not in the snapshot", "data.id")
        expected = self.proposal_versions.get(p.id, 0) + 1
        if p.version != expected:
            raise _bad(
                n, f"version {p.version} of {p.id}'s proposal; expected {expected}", "data.version"
            )
        self.proposal_versions[p.id] = p.version
        self._proposal_cis(n, p)

    def _proposal_cis(self, n: int, p: Proposal) -> None:
        """Each CI an edit names is in the snapshot or added by an earlier edit of the
        same version: a merge or a check of the imported proposal would find it nowhere."""
        added: set[str] = set()
        for i, e in enumerate(p.edits):
            if e.ci is not None:
                added.add(e.ci.id)
                continue
            for name in ("ci_id", "source_id", "target_id"):
                ci_id = getattr(e, name)
                if ci_id is not None and ci_id not in self.ci_ids and ci_id not in added:
                    raise _bad(
                        n,
                        f"proposal {p.id} version {p.version}, edits[{i}] ({e.op.value}) names"
                        f" CI {ci_id}, which is neither in the snapshot nor added by an earlier"
                        " edit",
                        f"data.edits.{i}.{name}",
                    )

    def _ci(self, n: int, ci: CI) -> None:
        if ci.id in self.ci_ids:
            raise _bad(n, f"CI {ci.id} appears twice", "data.id")
        self.ci_ids.add(ci.id)
        for ident in ci.identifiers:
            if not ident.unique:
                continue
            key = (ident.kind.value, ident.value)
            other = self.idents.setdefault(key, ci.id)
            if other != ci.id:
                raise _bad(n, f"{ident} also belongs to CI {other}", "data.identifiers")

    def _rel(self, n: int, rel: Relationship) -> None:
        if rel.id in self.rel_ids:
            raise _bad(n, f"relationship {rel.id} appears twice", "data.id")
        for end in ("source_id", "target_id"):
            if getattr(rel, end) not in self.ci_ids:
                raise _bad(n, f"no CI {getattr(rel, end)} in the snapshot", f"data.{end}")
        if rel.id != relationship_id(rel.type, rel.source_id, rel.target_id):
            raise _bad(n, "the id does not match its type, source and target", "data.id")
        self.rel_ids.add(rel.id)

    def _record(self, n: int, kind: str, rec: Record) -> None:
        if rec.id in self.record_ids[kind]:
            raise _bad(n, f"{kind} {rec.id} appears twice", "data.id")
        self.record_ids[kind].add(rec.id)
        for name in ("ci_ids", "service_ids"):
            for ci_id in getattr(rec, name):
                if ci_id not in self.ci_ids:
                    raise _bad(n, f"no CI {ci_id} in the snapshot", f"data.{name}")

    def _history(self, n: int, h: HistoryEntry) -> None:
        if h.seq <= self.last_seq:
            raise _bad(n, f"seq {h.seq} is not after {self.last_seq}", "data.seq")
        self.last_seq = h.seq
        known = {
            EntityKind.CI: self.ci_ids,
            EntityKind.REL: self.rel_ids,
            EntityKind.CHANGE: self.record_ids["change"],
            EntityKind.INCIDENT: self.record_ids["incident"],
            EntityKind.PROBLEM: self.record_ids["problem"],
        }[h.entity_kind]
        if h.entity_id not in known:
            raise _bad(
                n, f"history of {h.entity_kind.value} {h.entity_id}, not in the snapshot", "data"
            )


def _parse(n: int, raw: bytes) -> tuple[str, BaseModel]:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _bad(n, f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise _bad(n, "expected a JSON object")
    kind = doc.get("kind")
    if kind not in _KINDS:
        raise _bad(n, f"unknown kind {kind!r}; expected one of {', '.join(_KINDS)}", "kind")
    if set(doc) != {"kind", "data"}:
        raise _bad(n, "a row has exactly the keys 'kind' and 'data'")
    model = _KINDS[kind][0]
    try:
        return kind, model.model_validate(doc["data"])
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = _loc(err)
        raise _bad(n, _msg(err), f"data.{loc}" if loc else "data") from exc


def _header(raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        raise _bad(1, "the file is empty; expected a graph-cmdb-snapshot header")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _bad(1, f"not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _bad(1, f"not a {FORMAT} header", "format")
    if doc.get("version") != VERSION:
        raise _bad(
            1, f"unsupported version {doc.get('version')!r}; this reads {VERSION}", "version"
        )
    counts = doc.get("counts")
    if isinstance(counts, dict):
        # Snapshots written before problems (or proposals) were kept carry no count of
        # them: none.
        counts.setdefault("problems", 0)
        counts.setdefault("proposals", 0)
    names = [name for _, name in _KINDS.values()]
    if not isinstance(counts, dict) or any(
        not isinstance(counts.get(k), int) or isinstance(counts.get(k), bool) for k in names
    ):
        raise _bad(1, f"counts must give an integer for each of {', '.join(names)}", "counts")
    return doc


def _rows(fh: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines after the header, numbered as a text editor numbers them."""
    for n, raw in enumerate(fh, start=1):
        if n == 1 or not raw.strip():
            continue
        yield n, raw


def validate(fh: IO[bytes]) -> dict[str, int]:
    """Check a whole snapshot without writing anything; return its counts."""
    return _check(fh, keep=0)[0]


def _check(
    fh: IO[bytes], *, keep: int
) -> tuple[dict[str, int], list[tuple[str, BaseModel]] | None]:
    """``validate``, also handing back the parsed rows when the file holds at most ``keep``
    of them (None otherwise): what one restore call takes is then parsed only once."""
    fh.seek(0)
    first = fh.readline()
    header = _header(first if first.strip() else None)
    fh.seek(0)
    checker = _Checker()
    kept: list[tuple[str, BaseModel]] | None = [] if keep > 0 else None
    last = 1
    for n, raw in _rows(fh):
        kind, row = _parse(n, raw)
        checker.check(n, kind, row)
        if kept is not None:
            kept.append((kind, row))
            if len(kept) > keep:
                kept = None  # too many to hold: the rows are read again, a batch at a time
        last = n
    for name, expected in header["counts"].items():
        got = checker.counts.get(name)
        if got is not None and got != expected:
            raise _bad(
                last,
                f"the header promises {expected} {name} but the file holds {got}"
                " (truncated or edited?)",
                f"counts.{name}",
            )
    return checker.counts, kept


def _seekable(fh: IO[bytes]) -> IO[bytes]:
    if fh.seekable():
        return fh
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
    shutil.copyfileobj(fh, spool)
    spool.seek(0)
    return spool


def import_(
    store: GraphStore, fh: IO[bytes], *, max_batch_rows: int = MAX_BATCH_ROWS
) -> dict[str, int]:
    """Validate the whole snapshot, then restore it into an empty store; return counts."""
    if max_batch_rows < 1:
        raise InvalidInput("max_batch_rows must be at least 1", where="max_batch_rows")
    if not store.is_empty():
        raise InvalidInput(
            "the store already holds data; import a snapshot only into an empty store",
            where="store",
        )
    src = _seekable(fh)
    counts, parsed = _check(src, keep=max_batch_rows)
    if parsed is None:
        src.seek(0)
        rows: Iterable[tuple[str, BaseModel]] = (_parse(n, raw) for n, raw in _rows(src))
    else:
        rows = parsed
    batch = SnapshotBatch()
    size = done = 0
    for kind, row in rows:
        getattr(batch, _KINDS[kind][1]).append(row)
        size += 1
        if size >= max_batch_rows:
            done = _restore(store, batch, done)
            batch, size = SnapshotBatch(), 0
    if size:
        _restore(store, batch, done)
    return counts


def _restore(store: GraphStore, batch: SnapshotBatch, done: int) -> int:
    rows = sum(len(getattr(batch, name)) for _, name in _KINDS.values())
    try:
        store.restore(batch.model_copy(update={"proposals": []}))
        for p in batch.proposals:  # in version order, as exported and checked
            store.save_proposal(p)
    except Exception as exc:
        if done:
            raise StoreUnavailable(
                f"the store failed after {done} rows had been restored ({exc}); it now holds"
                " a partial import: empty it before importing again",
                where="store",
            ) from exc
        raise
    return done + rows
