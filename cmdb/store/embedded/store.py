"""The embedded store: a SQLite file (WAL) as the truth, an in-memory index for traversals.

One writer at a time (``BEGIN IMMEDIATE`` takes SQLite's write lock, across processes too),
any number of readers. Every apply bumps a generation counter; an index that sees a newer
generation than its own reads only the relationships written since, so several processes
can share one file and still traverse what the others wrote.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import backoff
import orjson
from pydantic import TypeAdapter

from cmdb.domain.changeset import ApplyResult, ChangeSet, Guard
from cmdb.domain.classes import search_ranks
from cmdb.domain.errors import IdentityConflict, InvalidInput, NotFound, StoreUnavailable
from cmdb.domain.events import WebhookRule
from cmdb.domain.history import EntityKind, HistoryEntry
from cmdb.domain.identifiers import Identifier
from cmdb.domain.model import (
    CI,
    LifecycleStatus,
    Relationship,
    RelationshipStatus,
    Sighting,
    relationship_id,
    utcnow,
)
from cmdb.domain.records import Change, DiscoveryRun, Incident, IncidentState, Problem
from cmdb.domain.relationships import get_type
from cmdb.store import asof, decode, guards, neighbours, search
from cmdb.store import cursor as cursors
from cmdb.store.asof import Replayed
from cmdb.store.contract import (
    CIFilter,
    Counts,
    Direction,
    DocumentKind,
    Link,
    Neighbour,
    Page,
    RelPage,
    SightingHit,
    SnapshotBatch,
    Subgraph,
    split_walk,
)
from cmdb.store.embedded.outbox import OutboxRows, write_events
from cmdb.store.embedded.proposals import ProposalRows, add_version
from cmdb.store.embedded.schema import DDL, MIGRATIONS, SCHEMA_VERSION, incident_live_until
from cmdb.store.embedded.tx import read_snapshot
from cmdb.store.gcpause import gc_paused
from cmdb.store.outbox import events_for
from cmdb.store.planner import (
    CIHead,
    Clock,
    IdentKey,
    Loader,
    Plan,
    plan,
)
from cmdb.store.recent import still_live
from cmdb.store.timefmt import aware, from_text, to_text

if TYPE_CHECKING:
    # numpy costs ~0.1 s to import: only a traversal needs it, not `cmdb ci show`.
    from cmdb.store.index import GraphIndex

_CHUNK = 400  # bound parameters per IN list, well under SQLite's limit
# JSON path of one source's sighting in a CI document (the source is a bound parameter).
_SIGHTING = "'$.sources.' || json_quote(?)"
_INSTANT = TypeAdapter(datetime)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _dump(model: Any) -> str:
    # pydantic-core writes the JSON itself (the same text as orjson over model_dump, at
    # about half the cost: no intermediate dict).
    # The serializer itself, as model_dump_json calls it with these same defaults: the
    # wrapper's dozen keywords were a fifth of dumping a relationship.
    return str(model.__pydantic_serializer__.to_json(model, by_alias=True).decode())


def _by_id(model: CI | Relationship) -> str:
    return model.id


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _iso(at: datetime) -> str:
    """An instant as pydantic writes it into a JSON document."""
    return str(_INSTANT.dump_python(at, mode="json"))


# A name lower-cased. SQLite's lower() folds ASCII only; names with other letters (more
# bytes than characters) go through Python, which folds them as Neo4j's toLower does
# ("BÜRO" finds "Büro"). Comparing lengths is a third of the cost of a GLOB for them.
_LOWER_NAME = (
    "CASE WHEN length(name) = length(CAST(name AS BLOB)) THEN lower(name) ELSE cmdb_lower(name) END"
)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _search_key() -> str:
    """A search's sort key (t, w, ln) over rows holding ``ln`` (the lower-cased name),
    ``q`` (the lower-cased text) and ``class``: cmdb/store/search.py in SQL. The class
    names are the model's constants, written in as literals so the statement stays the
    same from call to call (SQLite caches it). The word test is one compiled pattern per
    text (cmdb_word), run only on rows the name filter kept that are neither the exact
    name nor a prefix: thirty instr() calls cost three times as much."""
    ranks: dict[int, list[str]] = defaultdict(list)
    for cls, rank in search_ranks().items():
        ranks[rank].append(_sql_text(cls))
    weight = " ".join(
        f"WHEN class IN ({', '.join(names)}) THEN {rank}" for rank, names in sorted(ranks.items())
    )
    return (
        f"CASE WHEN ln = q THEN {search.EXACT}"
        f" WHEN substr(ln, 1, length(q)) = q THEN {search.PREFIX}"
        f" WHEN cmdb_word(ln, q) THEN {search.WORD} ELSE {search.SUBSTRING} END AS t,"
        f" CASE {weight} ELSE {search.UNKNOWN_CLASS_RANK} END AS w, ln"
    )


_SEARCH_KEY = _search_key()


def _lower(text: str | None) -> str | None:
    return None if text is None else text.lower()


def _trigrams(text: str) -> str | None:
    """An FTS5 query for the names of ``cis_names`` holding every trigram of ``text``
    (each quoted as an FTS5 string); None when the text is shorter than a trigram."""
    grams = sorted({text[i : i + 3] for i in range(len(text) - 2)})
    return " AND ".join('"' + g.replace('"', '""') + '"' for g in grams) or None


_ROWID_MAX = 2**63 - 1


@contextlib.contextmanager
def _names_in_bulk(conn: sqlite3.Connection) -> Iterator[None]:
    """Inside (and inside a write transaction), the CIs inserted into ``cis`` get their
    names into the ``cis_names`` index in one statement at the end, not one trigger
    statement each (schema.py says why). New rows are those past the largest rowid before:
    SQLite gives a new row the largest plus one, unless that is 2^63-1 (never written by
    the store), when the trigger is left to do it. The mark is set and removed inside the
    transaction, so a failure rolls it back with the rows."""
    top = conn.execute("SELECT max(rowid) FROM cis").fetchone()[0] or 0
    if top >= _ROWID_MAX:
        yield
        return
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('names_by_store', '1')")
    yield
    conn.execute(
        "INSERT INTO cis_names (rowid, ln) SELECT rowid, cmdb_lower(name) FROM cis WHERE rowid > ?",
        (top,),
    )
    conn.execute("DELETE FROM meta WHERE key = 'names_by_store'")


def _locked(exc: Exception) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "database is locked" in str(exc)


def _wal(conn: sqlite3.Connection, timeout_s: float) -> None:
    """WAL mode for ``conn``. Switching a new file's journal writes its header in a
    rollback-journal transaction, and a second process opening the file meanwhile is told
    "database is locked" at once: SQLite does not call the busy handler (the connection's
    timeout) for a journal-mode change. Two servers started together on a new file, one
    failed to start. Asked again with backoff, within the connection's timeout."""
    ask = backoff.on_exception(
        backoff.expo,
        sqlite3.OperationalError,
        max_time=timeout_s,
        giveup=lambda exc: not _locked(exc),
        factor=0.01,
        max_value=0.5,
        logger=None,
    )(conn.execute)
    ask("PRAGMA journal_mode=WAL")


def _rollback(conn: sqlite3.Connection) -> None:
    # A failed COMMIT or a disk error may already have ended the transaction.
    with contextlib.suppress(sqlite3.Error):
        conn.execute("ROLLBACK")


class _SqlLoader(Loader):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def _docs(self, sql: str, ids: set[str]) -> list[str]:
        out: list[str] = []
        for part in _chunks(sorted(ids)):
            q = sql.format(marks=",".join("?" * len(part)))
            out += [r[0] for r in self.conn.execute(q, part)]
        return out

    def load_cis(self, ids: set[str], *, brief: bool = False) -> dict[str, CI]:
        # Whole documents even when brief: trimming them in SQL (json_remove of what a
        # brief CI leaves out) cost SQLite as much as it saved pydantic-core, ~4 ms each
        # way for the ~1,500 documents of a 100k-estate impact (measured idle).
        docs = self._docs("SELECT doc FROM cis WHERE id IN ({marks})", ids)
        return {ci.id: ci for ci in (decode.cis_brief if brief else decode.cis)(docs)}

    def load_heads(self, ids: set[str]) -> dict[str, CIHead]:
        out: dict[str, CIHead] = {}
        for part in _chunks(sorted(ids)):
            q = f"SELECT id, class, status FROM cis WHERE id IN ({','.join('?' * len(part))})"
            for ci_id, ci_class, status in self.conn.execute(q, part):
                out[ci_id] = CIHead(ci_id, ci_class, LifecycleStatus(status))
        return out

    def load_idents(self, keys: set[IdentKey]) -> dict[IdentKey, str]:
        out: dict[IdentKey, str] = {}
        ordered = sorted(keys)
        for part in _chunks(ordered, _CHUNK // 2):
            values = ",".join("(?,?)" for _ in part)
            params = [x for k in part for x in k]
            # Through a subquery: SQLite plans ``(a, b) IN (VALUES ...)`` as a scan of the
            # whole table, but ``IN (SELECT ... FROM (VALUES ...))`` as index lookups.
            q = (
                "SELECT kind, value, ci_id FROM identifiers WHERE is_unique = 1 "
                f"AND (kind, value) IN (SELECT column1, column2 FROM (VALUES {values}))"
            )
            for kind, value, ci_id in self.conn.execute(q, params):
                out[(kind, value)] = ci_id
        return out

    def load_rels(self, ids: set[str]) -> dict[str, Relationship]:
        docs = self._docs("SELECT doc FROM rels WHERE id IN ({marks})", ids)
        return {r.id: r for r in decode.rels(docs)}

    def load_rels_touching(self, ci_ids: set[str]) -> dict[str, Relationship]:
        docs = [
            *self._docs(
                "SELECT doc FROM rels WHERE status = 'active' AND source_id IN ({marks})", ci_ids
            ),
            *self._docs(
                "SELECT doc FROM rels WHERE status = 'active' AND target_id IN ({marks})", ci_ids
            ),
        ]
        return {r.id: r for r in decode.rels(docs)}

    def load_changes(self, ids: set[str]) -> dict[str, Change]:
        docs = self._docs("SELECT doc FROM records WHERE kind = 'change' AND id IN ({marks})", ids)
        return {c.id: c for c in (Change.model_validate_json(d) for d in docs)}

    def load_incidents(self, ids: set[str]) -> dict[str, Incident]:
        docs = self._docs(
            "SELECT doc FROM records WHERE kind = 'incident' AND id IN ({marks})", ids
        )
        return {i.id: i for i in (Incident.model_validate_json(d) for d in docs)}

    def load_problems(self, ids: set[str]) -> dict[str, Problem]:
        docs = self._docs("SELECT doc FROM records WHERE kind = 'problem' AND id IN ({marks})", ids)
        return {x.id: x for x in (Problem.model_validate_json(d) for d in docs)}

    def load_sightings(self, ids: set[str], source: str) -> dict[str, Sighting | None]:
        # SQLite extracts the one sighting: the rest of each document is never parsed.
        out: dict[str, Sighting | None] = {}
        for part in _chunks(sorted(ids)):
            q = (
                f"SELECT id, json_extract(doc, {_SIGHTING}) FROM cis"
                f" WHERE id IN ({','.join('?' * len(part))})"
            )
            for ci_id, text in self.conn.execute(q, [source, *part]):
                out[ci_id] = None if text is None else decode.sighting_json(text)
        return out


class EmbeddedStore(OutboxRows, ProposalRows):
    kind = "embedded"

    def __init__(self, path: str | Path, *, clock: Clock = utcnow, timeout_s: float = 30.0):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._timeout = timeout_s
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._index: GraphIndex | None = None
        self._index_gen = -1
        self._index_lock = threading.RLock()
        conn = self._conn()
        if self._schema_version(conn) not in (None, SCHEMA_VERSION):
            self._migrate(conn)
        self._begin_write(conn)
        try:
            for stmt in DDL.split(";\n"):
                if stmt.strip():
                    conn.execute(stmt if "TRIGGER" not in stmt else stmt + ";")
            # Columns added since version 2, to a file made before them.
            cols = {r[1] for r in conn.execute("PRAGMA table_info(history)")}
            if "reason" not in cols:
                conn.execute("ALTER TABLE history ADD COLUMN reason TEXT")
            if conn.execute("SELECT 1 FROM meta WHERE key = 'names_indexed'").fetchone() is None:
                # A file made before cis_names: index the names it holds, once.
                conn.execute("DELETE FROM cis_names")
                conn.execute(
                    "INSERT INTO cis_names (rowid, ln) SELECT rowid, cmdb_lower(name) FROM cis"
                )
            conn.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?), ('generation', '0'),"
                " ('last_at', ''), ('names_indexed', '1')",
                (str(SCHEMA_VERSION),),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _schema_version(conn: sqlite3.Connection) -> int | None:
        """The file's schema version; None for a new file."""
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError:  # no meta table: a new (or foreign) file
            return None
        return None if row is None else int(row[0])

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Bring an older file up to SCHEMA_VERSION, all steps in one transaction.

        Foreign keys are off while tables are rebuilt (SQLite cannot change a table's shape
        in place); before committing, ``foreign_key_check`` proves nothing dangles, and any
        failure rolls the whole upgrade back, leaving the file as it was.
        """
        conn.execute("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction: set first
        try:
            self._begin_write(conn)
            try:
                version = self._schema_version(conn)  # again, under the write lock
                if version is not None and version > SCHEMA_VERSION:
                    raise StoreUnavailable(
                        f"{self.path} has schema version {version}; this graph-cmdb knows"
                        f" {SCHEMA_VERSION}: upgrade graph-cmdb to open it"
                    )
                while version is not None and version < SCHEMA_VERSION:
                    for stmt in MIGRATIONS[version].split(";\n"):
                        if stmt.strip():
                            conn.execute(stmt)
                    version += 1
                    conn.execute(
                        "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),)
                    )
                dangling = conn.execute("PRAGMA foreign_key_check").fetchall()
                if dangling:
                    raise StoreUnavailable(
                        f"cannot upgrade {self.path}: {len(dangling)} rows refer to missing"
                        f" rows (first: {dangling[0]}); the file is unchanged"
                    )
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        finally:
            conn.execute("PRAGMA foreign_keys=ON")

    # -- connections -------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(
                    self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
                )
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"cannot open {self.path}: {exc}") from exc
            _wal(conn, self._timeout)
            # NORMAL in WAL mode survives a killed process (the case that matters for a
            # writer killed mid-batch); only an OS crash may lose the last commits.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA cache_size=-65536")
            conn.create_function("cmdb_lower", 1, _lower, deterministic=True)
            conn.create_function("cmdb_word", 2, search.starts_a_word, deterministic=True)
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    def close(self) -> None:
        with self._conns_lock:
            for c in self._conns:
                c.close()
            self._conns.clear()
        self._local = threading.local()

    def _meta(self, conn: sqlite3.Connection, key: str) -> str:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else ""

    def guard_value(self, name: str) -> int:
        return int(self._meta(self._conn(), f"guard:{name}") or 0)

    def _guard(self, conn: sqlite3.Connection, guard: Guard) -> None:
        # Under BEGIN IMMEDIATE: no other writer, in any process, until this commits.
        key = f"guard:{guard.name}"
        value = guards.checked(guard, int(self._meta(conn, key) or 0))
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )

    # -- writing -----------------------------------------------------------------------
    def _begin_write(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:  # locked past the timeout, read-only file, disk error
            raise StoreUnavailable(f"cannot write to {self.path}: {exc}") from exc

    def apply(self, changeset: ChangeSet) -> ApplyResult:
        if changeset.is_empty():
            return ApplyResult()
        # The collector stays off until the plan is freed, not only while it is made and
        # written: re-enabled with the plan alive, its first pass walked every model of
        # the batch (a young generation of ~10^5 objects), 5 % of a 10k ingest's CPU.
        # Freed by reference counting first, they are gone before it looks.
        with gc_paused():
            p, gen = self._apply(changeset)
            self._after_write(p, gen)
            result = p.result
            del p
        return result

    def _apply(self, changeset: ChangeSet) -> tuple[Plan, int]:
        """Plan and write one change set in one transaction: committed whole or not at all."""
        conn = self._conn()
        self._begin_write(conn)
        try:
            if changeset.guard is not None:
                self._guard(conn, changeset.guard)
            gen = int(self._meta(conn, "generation")) + 1
            last = self._meta(conn, "last_at")
            now = aware(self._clock())
            if last and from_text(last) > now:
                now = from_text(last)  # keep history ordered if the clock steps back
            p = plan(changeset, _SqlLoader(conn), now)
            self._write(conn, p, changeset, now, gen)
            for proposal in changeset.proposals:  # in this transaction: see ChangeSet
                add_version(conn, proposal)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (str(gen),))
            conn.execute("UPDATE meta SET value = ? WHERE key = 'last_at'", (to_text(now),))
            conn.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            _rollback(conn)
            raise IdentityConflict(f"the batch breaks a uniqueness rule: {exc}") from exc
        except sqlite3.Error as exc:
            _rollback(conn)
            raise StoreUnavailable(f"the write failed and was rolled back: {exc}") from exc
        except BaseException:
            _rollback(conn)
            raise
        return p, gen

    def _write(
        self, conn: sqlite3.Connection, p: Plan, cs: ChangeSet, now: datetime, gen: int
    ) -> None:
        with _names_in_bulk(conn) if p.created_cis else contextlib.nullcontext():
            conn.executemany(
                "INSERT INTO cis (id, class, name, status, environment, owner, location, doc,"
                " gen) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET"
                " name=excluded.name, status=excluded.status, environment=excluded.environment,"
                " owner=excluded.owner, location=excluded.location, doc=excluded.doc,"
                " gen=excluded.gen",
                [
                    (
                        c.id,
                        c.ci_class,
                        c.name,
                        c.status._value_,  # not .value: see planner._key
                        c.environment,
                        c.owner,
                        c.location,
                        _dump(c),
                        gen,
                    )
                    # In key order: B-tree inserts in order fill pages instead of splitting.
                    for c in sorted(p.cis.values(), key=_by_id)
                ],
            )
        # A sighting alone changed: patched into the document, which stays unparsed.
        for with_time in (False, True):
            extra = ", '$.updated_at', ?" if with_time else ""
            conn.executemany(
                f"UPDATE cis SET doc = json_set(doc, {_SIGHTING}, json(?){extra}), gen = ?"
                " WHERE id = ?",
                [
                    (
                        w.source,
                        w.sighting.model_dump_json(),
                        *([_iso(w.updated_at)] if with_time and w.updated_at else []),
                        gen,
                        ci_id,
                    )
                    for ci_id, w in p.sightings.items()
                    if (w.updated_at is not None) == with_time
                ],
            )
        conn.executemany(
            "INSERT INTO identifiers (kind, value, ci_id, is_unique) VALUES (?,?,?,?)",
            [(k, v, ci, int(u)) for k, v, ci, u in sorted(p.new_idents)],
        )
        conn.executemany(
            "INSERT INTO rels (id, type, source_id, target_id, status, doc, gen)"
            " VALUES (?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET status=excluded.status,"
            " doc=excluded.doc, gen=excluded.gen",
            [
                (r.id, r.type, r.source_id, r.target_id, r.status._value_, _dump(r), gen)
                for r in sorted(p.rels.values(), key=_by_id)
            ],
        )
        for kind, recs in (
            ("change", p.changes),
            ("incident", p.incidents),
            ("problem", p.problems),
        ):
            for rec in recs.values():
                conn.execute(
                    "INSERT INTO records (kind, id, doc) VALUES (?,?,?)"
                    " ON CONFLICT(kind, id) DO UPDATE SET doc=excluded.doc",
                    (kind, rec.id, _dump(rec)),
                )
                conn.execute(
                    "DELETE FROM record_links WHERE kind = ? AND record_id = ?", (kind, rec.id)
                )
                conn.executemany(
                    "INSERT OR IGNORE INTO record_links VALUES (?,?,?)",
                    [(kind, rec.id, ci) for ci in (*rec.ci_ids, *rec.service_ids)],
                )
        conn.executemany(
            "INSERT INTO records (kind, id, doc) VALUES ('run',?,?)"
            " ON CONFLICT(kind, id) DO UPDATE SET doc=excluded.doc",
            [(run.id, _dump(run)) for run in p.runs.values()],
        )
        # Who, where and when are the batch's: one tuple, appended to each row's own part.
        tail = (cs.actor, cs.source, cs.run_id, cs.request_id, to_text(now), cs.reason)
        dumps = orjson.dumps
        conn.executemany(
            "INSERT INTO history (entity_kind, entity_id, op, field, before, after, actor,"
            " source, run_id, request_id, at, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    h.entity_kind._value_,
                    h.entity_id,
                    h.op._value_,
                    h.field,
                    None if h.before is None else dumps(h.before).decode(),
                    None if h.after is None else dumps(h.after).decode(),
                    *tail,
                )
                for h in p.history
            ],
        )
        # The outbox: the events of this change set some rule may want, committed with it
        # or not at all (the rules read under this write's lock: see events_for).
        rules = [
            WebhookRule.model_validate_json(doc)
            for (doc,) in conn.execute("SELECT doc FROM webhook_rules")
        ]
        write_events(conn, events_for(p, cs, now, rules))

    def _after_write(self, p: Plan, gen: int) -> None:
        with self._index_lock:
            if self._index is None:
                return
            if gen != self._index_gen + 1:
                return  # another process wrote in between: the next read catches up
            for r in p.rels.values():
                self._index.set_edge(r.source_id, r.target_id, r.type, r.active)
            self._index_gen = gen

    # -- the index ---------------------------------------------------------------------
    def _graph(self) -> GraphIndex:
        with self._index_lock:
            conn = self._conn()
            conn.execute("BEGIN")
            try:
                gen = int(self._meta(conn, "generation"))
                if self._index is None:
                    from cmdb.store.index import GraphIndex

                    index = GraphIndex()
                    rows = conn.execute(
                        "SELECT source_id, target_id, type, status = 'active' FROM rels"
                    ).fetchall()
                    index.bulk_load(rows)
                    self._index = index
                elif gen > self._index_gen:
                    for s, t, ty, active in conn.execute(
                        "SELECT source_id, target_id, type, status = 'active' FROM rels"
                        " WHERE gen > ?",
                        (self._index_gen,),
                    ):
                        self._index.set_edge(s, t, ty, bool(active))
                self._index_gen = gen
            finally:
                conn.execute("COMMIT")
            return self._index

    # -- reading CIs -------------------------------------------------------------------
    def _cis_by_id(self, ids: Sequence[str]) -> dict[str, CI]:
        return _SqlLoader(self._conn()).load_cis(set(ids))

    def get_ci(self, ci_id: str, *, as_of: datetime | None = None) -> CI:
        if as_of is not None:
            found = self._cis_as_of([ci_id], as_of)
            if ci_id not in found:
                raise NotFound(f"no CI {ci_id} at {to_text(as_of)}", where="id")
            return found[ci_id]
        row = self._conn().execute("SELECT doc FROM cis WHERE id = ?", (ci_id,)).fetchone()
        if row is None:
            raise NotFound(f"no CI {ci_id}", where="id")
        return decode.ci(row[0])

    def get_cis(self, ids: Iterable[str]) -> dict[str, CI]:
        with read_snapshot(self._conn()) as conn:  # one snapshot across the chunks
            return _SqlLoader(conn).load_cis(set(ids))

    def find_by_identifier(self, identifier: Identifier) -> list[CI]:
        rows = self._conn().execute(
            "SELECT c.doc FROM identifiers i JOIN cis c ON c.id = i.ci_id"
            " WHERE i.kind = ? AND i.value = ? ORDER BY c.id",
            (identifier.kind.value, identifier.value),
        )
        return decode.cis(r[0] for r in rows)

    def find_by_identifiers(self, identifiers: Iterable[Identifier]) -> dict[Identifier, list[CI]]:
        wanted = {(i.kind.value, i.value): i for i in identifiers}
        hits: dict[IdentKey, list[str]] = defaultdict(list)
        # One snapshot for the identifiers and the documents.
        with read_snapshot(self._conn()) as conn:
            for part in _chunks(sorted(wanted), _CHUNK // 2):
                values = ",".join("(?,?)" for _ in part)
                q = (
                    "SELECT kind, value, ci_id FROM identifiers WHERE (kind, value) IN"
                    f" (SELECT column1, column2 FROM (VALUES {values}))"
                )
                for kind, value, ci_id in conn.execute(q, [x for k in part for x in k]):
                    hits[(kind, value)].append(ci_id)
            docs = _SqlLoader(conn).load_cis({c for ids in hits.values() for c in ids})
        return {wanted[k]: [docs[c] for c in sorted(ids) if c in docs] for k, ids in hits.items()}

    def list_sightings(self, source: str) -> dict[str, SightingHit]:
        rows = self._conn().execute(
            f"SELECT id, class, s FROM (SELECT id, class, json_extract(doc, {_SIGHTING}) AS s"
            " FROM cis) WHERE s IS NOT NULL",
            (source,),
        )
        return {
            ci_id: SightingHit.model_construct(  # of a decoded sighting: see list_cis
                ci_id=ci_id, ci_class=cls, sighting=decode.sighting_json(text)
            )
            for ci_id, cls, text in rows
        }

    def list_cis(
        self, flt: CIFilter | None = None, *, limit: int = 100, cursor: str | None = None
    ) -> Page:
        if limit < 1 or limit > 10_000:
            raise InvalidInput("limit must be between 1 and 10000", where="limit")
        flt = flt or CIFilter()
        where: list[str] = []
        params: list[Any] = []
        if flt.ci_class:
            from cmdb.domain.classes import descendants

            try:
                classes = sorted(descendants(flt.ci_class))
            except InvalidInput as exc:
                exc.where = "class"
                raise
            where.append(f"class IN ({','.join('?' * len(classes))})")
            params += classes
        if flt.status:
            where.append(f"status IN ({','.join('?' * len(flt.status))})")
            params += [s.value for s in flt.status]
        for col in ("environment", "owner", "location", "name"):
            value = getattr(flt, col)
            if value is not None:
                where.append(f"{col} = ?")
                params.append(value)
        if flt.name_contains:
            grams = _trigrams(flt.name_contains.lower())
            if grams:  # the names holding every trigram of the text (see schema.py)
                where.append("rowid IN (SELECT rowid FROM cis_names WHERE cis_names MATCH ?)")
                params.append(grams)
            where.append(f"instr({_LOWER_NAME}, ?) > 0")
            params.append(flt.name_contains.lower())
        if flt.source:
            where.append("json_extract(doc, '$.sources.' || json_quote(?)) IS NOT NULL")
            params.append(flt.source)
        after = cursors.decode(cursor)
        if flt.name_contains:
            return self._search(where, params, flt.name_contains.lower(), after, limit)
        if after is not None:
            where.append("id > ?")
            params.append(after)
        sql = "SELECT id, doc FROM cis"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id LIMIT ?"
        rows = self._conn().execute(sql, [*params, limit + 1]).fetchall()
        items = decode.cis(r[1] for r in rows[:limit])
        nxt = cursors.encode(rows[limit - 1][0]) if len(rows) > limit else None
        # Built from models just decoded: validating the Page would run every CI's model
        # validator again (~1/3 of reading a page).
        return Page.model_construct(items=items, next_cursor=nxt)

    def _search(
        self, where: list[str], params: list[Any], text: str, after: str | None, limit: int
    ) -> Page:
        """A name search's page, best match first (cmdb/store/search.py): one statement.

        The filters (the name among them) pick the rows, and only those are ranked; the
        ranking sorts ids and keys, and only the page's documents are read. A cursor is
        the last id given: its CI's sort key, computed the same way, is where the page
        starts (no such CI: an empty page, never the first page again).
        """
        # MATERIALIZED: a flattened subquery would lower-case the name again for every
        # use of ln in the key.
        sql = (
            f"WITH m AS MATERIALIZED (SELECT id, class, {_LOWER_NAME} AS ln, ? AS q FROM cis"
            f" WHERE {' AND '.join(where)}), ranked AS (SELECT id, {_SEARCH_KEY} FROM m)"
            " SELECT p.id, cis.doc FROM (SELECT id, t, w, ln FROM ranked"
        )
        args: list[Any] = [text, *params]
        if after is not None:
            sql += (
                f" WHERE (t, w, ln, id) > (SELECT t, w, ln, id FROM (SELECT id, {_SEARCH_KEY}"
                f" FROM (SELECT id, class, {_LOWER_NAME} AS ln, ? AS q FROM cis WHERE id = ?)))"
            )
            args += [text, after]
        sql += (
            " ORDER BY t, w, ln, id LIMIT ?) AS p JOIN cis ON cis.id = p.id"
            " ORDER BY p.t, p.w, p.ln, p.id"
        )
        rows = self._conn().execute(sql, [*args, limit + 1]).fetchall()
        items = decode.cis(r[1] for r in rows[:limit])
        nxt = cursors.encode(rows[limit - 1][0]) if len(rows) > limit else None
        return Page.model_construct(items=items, next_cursor=nxt)  # see list_cis

    # -- reading relationships ---------------------------------------------------------
    def get_relationship(self, rel_id: str, *, as_of: datetime | None = None) -> Relationship:
        if as_of is not None:
            found = self._rels_as_of(as_of, ids=[rel_id])
            if rel_id not in found:
                raise NotFound(f"no relationship {rel_id} at {to_text(as_of)}", where="id")
            return found[rel_id]
        row = self._conn().execute("SELECT doc FROM rels WHERE id = ?", (rel_id,)).fetchone()
        if row is None:
            raise NotFound(f"no relationship {rel_id}", where="id")
        return decode.rel(row[0])

    def get_relationships(self, ids: Iterable[str]) -> dict[str, Relationship]:
        with read_snapshot(self._conn()) as conn:  # one snapshot across the chunks
            return _SqlLoader(conn).load_rels(set(ids))

    def list_relationships(
        self,
        *,
        type_name: str | None = None,
        include_retired: bool = False,
        limit: int = 1000,
        cursor: str | None = None,
    ) -> RelPage:
        if limit < 1 or limit > 10_000:
            raise InvalidInput("limit must be between 1 and 10000", where="limit")
        where, params = [], []
        if type_name:
            where.append("type = ?")
            params.append(get_type(type_name).name)
        if not include_retired:
            where.append("status = 'active'")
        after = cursors.decode(cursor)
        if after is not None:
            where.append("id > ?")
            params.append(after)
        sql = "SELECT id, doc FROM rels"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._conn().execute(sql + " ORDER BY id LIMIT ?", [*params, limit + 1]).fetchall()
        items = decode.rels(r[1] for r in rows[:limit])
        nxt = cursors.encode(rows[limit - 1][0]) if len(rows) > limit else None
        return RelPage.model_construct(items=items, next_cursor=nxt)  # see list_cis

    def iter_documents(self, kind: DocumentKind, *, batch: int = 10_000) -> Iterator[str]:
        table = "cis" if kind is DocumentKind.CI else "rels"
        sql = f"SELECT id, doc FROM {table} WHERE id > ? ORDER BY id LIMIT ?"
        return cursors.by_id(lambda after: self._conn().execute(sql, (after, batch)).fetchall())

    def neighbours(
        self,
        ci_id: str,
        *,
        direction: Direction = Direction.BOTH,
        types: Iterable[str] | None = None,
        as_of: datetime | None = None,
    ) -> list[Neighbour]:
        self.get_ci(ci_id, as_of=as_of)  # NotFound for an unknown CI
        wanted = {get_type(t).name for t in types} if types is not None else None
        conn = self._conn()
        rows = conn.execute(
            "SELECT id FROM rels WHERE source_id = ? OR target_id = ?", (ci_id, ci_id)
        ).fetchall()
        ids = [r[0] for r in rows]
        if as_of is None:
            rels = list(_SqlLoader(conn).load_rels(set(ids)).values())
        else:
            rels = list(self._rels_as_of(as_of, ids=ids).values())
        picked = neighbours.pick(ci_id, rels, direction, wanted)
        if as_of is None:
            return neighbours.assemble(picked, self._cis_by_id)
        return neighbours.assemble(picked, lambda ids: self._cis_as_of(ids, as_of))

    def neighbours_of(self, ci_ids: Iterable[str]) -> dict[str, list[Neighbour]]:
        wanted = list(dict.fromkeys(ci_ids))
        # One snapshot for the relationships and the CIs.
        with read_snapshot(self._conn()) as conn:
            touching = _SqlLoader(conn).load_rels_touching(set(wanted)).values()
            return neighbours.assemble_many(
                wanted, touching, lambda ids: _SqlLoader(conn).load_cis(set(ids))
            )

    def subgraph(
        self,
        roots: Iterable[str],
        *,
        direction: Direction = Direction.OUT,
        types: Iterable[str] | None = None,
        max_depth: int = 6,
        max_nodes: int = 10_000,
        as_of: datetime | None = None,
        walk: Mapping[str, Direction] | None = None,
        leaves: Mapping[str, Direction] | None = None,
        brief: bool = False,
    ) -> Subgraph:
        root_list = list(dict.fromkeys(roots))
        if max_depth < 0 or max_nodes < 1:
            raise InvalidInput("max_depth must be >= 0 and max_nodes >= 1", where="max_depth")
        if walk is not None:
            return self._walk(root_list, walk, leaves, max_depth, max_nodes, as_of, brief)
        type_names = [get_type(t).name for t in types] if types is not None else None
        if as_of is None:
            known = self._cis_by_id(root_list)
        else:
            known = self._cis_as_of(root_list, as_of)
        missing = [r for r in root_list if r not in known]
        if missing:
            raise NotFound(f"no CI {', '.join(missing)}", where="roots")
        past: dict[str, Relationship] = {}
        if as_of is None:
            index = self._graph()
        else:
            past = self._rels_as_of(as_of)
            index = asof.index_of(past.values())
        with self._index_lock:
            for r in root_list:
                index.node(r)
            reach = index.reach(
                root_list,
                forward=direction in (Direction.OUT, Direction.BOTH),
                backward=direction in (Direction.IN, Direction.BOTH),
                types=type_names,
                max_depth=max_depth,
                max_nodes=max(max_nodes, len(root_list)),
            )
            node_ids = [index.ids[i] for i in reach.nodes.tolist()]
        # Every edge between the nodes, not only those the walk went along: a cycle closed
        # at the depth cap, or two roots side by side, belong to the picture too.
        nodes, edges, links = self._answer(index, node_ids, type_names, as_of, past, brief)
        return Subgraph.model_construct(  # of decoded models: see list_cis
            roots=root_list,
            nodes=nodes,
            edges=edges,
            links=links,
            depth_reached=reach.depth_reached,
            truncated_by_depth=reach.truncated_by_depth,
            truncated_by_nodes=reach.truncated_by_nodes,
        )

    def _walk(
        self,
        roots: list[str],
        walk: Mapping[str, Direction],
        leaves: Mapping[str, Direction] | None,
        max_depth: int,
        max_nodes: int,
        as_of: datetime | None,
        brief: bool = False,
    ) -> Subgraph:
        ways = split_walk(walk)
        leaf_ways = split_walk(leaves) if leaves is not None else None
        type_names = sorted(
            {*ways[0], *ways[1], *(leaf_ways[0] + leaf_ways[1] if leaf_ways else ())}
        )
        known = self._cis_by_id(roots) if as_of is None else self._cis_as_of(roots, as_of)
        missing = [r for r in roots if r not in known]
        if missing:
            raise NotFound(f"no CI {', '.join(missing)}", where="roots")
        past: dict[str, Relationship] = {}
        if as_of is None:
            index = self._graph()
        else:
            past = self._rels_as_of(as_of)
            index = asof.index_of(past.values())
        with self._index_lock:
            for r in roots:
                index.node(r)
            from cmdb.store.index import walk_closure

            w = walk_closure(index, roots, ways, leaf_ways, max_depth, max_nodes)
        node_ids = w.walked + w.leaves
        nodes, edges, links = self._answer(index, node_ids, type_names, as_of, past, brief)
        return Subgraph.model_construct(  # of decoded models: see list_cis
            roots=roots,
            nodes=nodes,
            edges=edges,
            links=links,
            depth_reached=w.depth_reached,
            truncated_by_depth=w.truncated_by_depth,
            truncated_by_nodes=w.truncated_by_nodes,
        )

    def _answer(
        self,
        index: GraphIndex,
        node_ids: Sequence[str],
        type_names: Sequence[str] | None,
        as_of: datetime | None,
        past: dict[str, Relationship],
        brief: bool,
    ) -> tuple[dict[str, CI], list[Relationship], list[Link]]:
        """The CIs of a subgraph and its edges (documents, or links when ``brief``)."""
        if as_of is not None:
            nodes = self._cis_as_of(node_ids, as_of)
            rels = sorted(asof.active_among(past, node_ids, type_names).values(), key=_by_id)
            if brief:
                return nodes, [], sorted(Link(r.type, r.source_id, r.target_id) for r in rels)
            return nodes, rels, []
        if not brief:
            rels = sorted(self._edges_among(index, node_ids, type_names).values(), key=_by_id)
            return self._cis_by_id(node_ids), rels, []
        with self._index_lock:
            found = index.edges_among(node_ids, type_names)
        links = sorted(Link(t, s, d) for s, d, t in found)
        return _SqlLoader(self._conn()).load_cis(set(node_ids), brief=True), [], links

    def _edges_among(
        self, index: GraphIndex, node_ids: Sequence[str], type_names: Sequence[str] | None
    ) -> dict[str, Relationship]:
        # The index knows the edges between the nodes; a relationship's id follows from
        # its type and ends, so only the documents shown are read (scanning every stored
        # edge of every node was a third of an impact query at 100k CIs).
        with self._index_lock:
            found = index.edges_among(node_ids, type_names)
        ids = {relationship_id(t, s, d) for s, d, t in found}
        return _SqlLoader(self._conn()).load_rels(ids)

    # -- history and as-of -------------------------------------------------------------
    @staticmethod
    def _entry(row: Sequence[Any]) -> HistoryEntry:
        seq, kind, eid, op, fld, before, after, actor, source, run_id, req, at, why = row
        return HistoryEntry(
            seq=seq,
            entity_kind=EntityKind(kind),
            entity_id=eid,
            op=op,
            field=fld,
            before=None if before is None else orjson.loads(before),
            after=None if after is None else orjson.loads(after),
            actor=actor,
            source=source,
            run_id=run_id,
            request_id=req,
            at=from_text(at),
            reason=why,
        )

    _HISTORY_COLS = (
        "seq, entity_kind, entity_id, op, field, before, after, actor, source, run_id,"
        " request_id, at, reason"
    )

    def history(self, entity_id: str) -> list[HistoryEntry]:
        rows = self._conn().execute(
            f"SELECT {self._HISTORY_COLS} FROM history WHERE entity_id = ? ORDER BY seq",
            (entity_id,),
        )
        return [self._entry(r) for r in rows]

    def iter_history(self, *, after_seq: int = 0, batch: int = 5000) -> Iterator[HistoryEntry]:
        last = after_seq
        while True:
            rows = (
                self._conn()
                .execute(
                    f"SELECT {self._HISTORY_COLS} FROM history WHERE seq > ? ORDER BY seq LIMIT ?",
                    (last, batch),
                )
                .fetchall()
            )
            if not rows:
                return
            for r in rows:
                yield self._entry(r)
            last = rows[-1][0]

    def _replayed(self, kind: EntityKind, as_of: datetime, ids: Sequence[str] | None) -> Replayed:
        sql = (
            "SELECT entity_id, op, field, after, at FROM history WHERE entity_kind = ? AND at <= ?"
        )
        at = to_text(as_of)
        rows: list[Any] = []
        if ids is None:
            rows = self._conn().execute(sql + " ORDER BY seq", (kind.value, at)).fetchall()
        else:
            for part in _chunks(list(dict.fromkeys(ids))):
                q = sql + f" AND entity_id IN ({','.join('?' * len(part))}) ORDER BY seq"
                rows += self._conn().execute(q, (kind.value, at, *part)).fetchall()
        return asof.replay(rows)

    def _cis_as_of(self, ids: Sequence[str], as_of: datetime) -> dict[str, CI]:
        return asof.cis_of(self._replayed(EntityKind.CI, as_of, ids))

    def _rels_as_of(
        self, as_of: datetime, ids: Sequence[str] | None = None
    ) -> dict[str, Relationship]:
        return asof.rels_of(self._replayed(EntityKind.REL, as_of, ids))

    # -- summaries, records, snapshots -------------------------------------------------
    def counts(self) -> Counts:
        conn = self._conn()
        return Counts(
            by_class=dict(conn.execute("SELECT class, count(*) FROM cis GROUP BY class")),
            by_status=dict(conn.execute("SELECT status, count(*) FROM cis GROUP BY status")),
            relationships_by_type=dict(
                conn.execute(
                    "SELECT type, count(*) FROM rels WHERE status = 'active' GROUP BY type"
                )
            ),
        )

    def _record_docs(
        self,
        kind: str,
        ci_id: str | None,
        where: Sequence[str] = (),
        params: Sequence[Any] = (),
    ) -> list[str]:
        """The documents of ``kind`` (naming ``ci_id``), with further conditions on ``r``."""
        more = "".join(f" AND {w}" for w in where)
        if ci_id is None:
            q = f"SELECT r.doc FROM records r WHERE r.kind = ?{more} ORDER BY r.id"
            args: tuple[Any, ...] = (kind, *params)
        else:
            q = (
                "SELECT r.doc FROM record_links l JOIN records r ON r.kind = l.kind"
                f" AND r.id = l.record_id WHERE l.kind = ? AND l.ci_id = ?{more} ORDER BY r.id"
            )
            args = (kind, ci_id, *params)
        return [r[0] for r in self._conn().execute(q, args)]

    def get_change(self, change_id: str) -> Change:
        found = _SqlLoader(self._conn()).load_changes({change_id})
        if change_id not in found:
            raise NotFound(f"no change {change_id}", where="id")
        return found[change_id]

    def list_changes(self, *, ci_id: str | None = None) -> list[Change]:
        return [Change.model_validate_json(d) for d in self._record_docs("change", ci_id)]

    def get_incident(self, incident_id: str) -> Incident:
        found = _SqlLoader(self._conn()).load_incidents({incident_id})
        if incident_id not in found:
            raise NotFound(f"no incident {incident_id}", where="id")
        return found[incident_id]

    def list_incidents(
        self,
        *,
        ci_id: str | None = None,
        open_only: bool = False,
        resolved_since: datetime | None = None,
    ) -> list[Incident]:
        bound: str | None = None
        if open_only:
            bound = "~"  # open or unresolved, each one in state open kept below
        elif resolved_since is not None:
            # A stored instant keeps its zone, and these are compared as text: the bound is
            # two days early (no zone is a day from UTC), the exact cut made once decoded.
            early = aware(resolved_since).astimezone(UTC) - timedelta(days=2)
            bound = early.strftime("%Y-%m-%dT%H:%M:%S")
        if bound is None:
            docs = self._record_docs("incident", ci_id)
        elif ci_id is None:
            # The index's own terms (its WHERE and expression, kind as a literal), and named:
            # without statistics SQLite prefers the primary key's order, a scan of them all.
            q = (
                "SELECT doc FROM records INDEXED BY records_incident_live"
                f" WHERE kind = 'incident' AND {incident_live_until()} >= ? ORDER BY id"
            )
            docs = [r[0] for r in self._conn().execute(q, (bound,))]
        else:  # the CI's few incidents, through its links
            docs = self._record_docs(
                "incident", ci_id, [f"{incident_live_until('r.doc')} >= ?"], [bound]
            )
        out = decode.incidents(docs)
        if open_only:
            out = [i for i in out if i.state is IncidentState.OPEN]
        return still_live(out, resolved_since)

    def get_problem(self, problem_id: str) -> Problem:
        found = _SqlLoader(self._conn()).load_problems({problem_id})
        if problem_id not in found:
            raise NotFound(f"no problem {problem_id}", where="id")
        return found[problem_id]

    def list_problems(self, *, ci_id: str | None = None) -> list[Problem]:
        return [Problem.model_validate_json(d) for d in self._record_docs("problem", ci_id)]

    def get_run(self, run_id: str) -> DiscoveryRun:
        row = (
            self._conn()
            .execute("SELECT doc FROM records WHERE kind = 'run' AND id = ?", (run_id,))
            .fetchone()
        )
        if row is None:
            raise NotFound(f"no discovery run {run_id}", where="id")
        return DiscoveryRun.model_validate_json(row[0])

    def list_runs(
        self, *, source: str | None = None, scope: str | None = None, limit: int = 50
    ) -> list[DiscoveryRun]:
        if limit < 1 or limit > 10_000:
            raise InvalidInput("limit must be between 1 and 10000", where="limit")
        where, params = ["kind = 'run'"], []
        for name, value in (("source", source), ("scope", scope)):
            if value is not None:
                where.append(f"json_extract(doc, '$.{name}') = ?")
                params.append(value)
        rows = self._conn().execute(f"SELECT doc FROM records WHERE {' AND '.join(where)}", params)
        # Sorted here: the JSON time text does not sort as text (fractions vary in length).
        runs = [DiscoveryRun.model_validate_json(r[0]) for r in rows]
        runs.sort(key=lambda r: (r.started_at, r.id), reverse=True)
        return runs[:limit]

    def is_empty(self) -> bool:
        conn = self._conn()
        return all(
            conn.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {t})").fetchone()[0]
            for t in ("cis", "rels", "history", "records")
        )

    def restore(self, batch: SnapshotBatch) -> None:
        conn = self._conn()
        self._begin_write(conn)
        try:
            gen = int(self._meta(conn, "generation")) + 1
            with _names_in_bulk(conn):
                conn.executemany(
                    "INSERT INTO cis (id, class, name, status, environment, owner, location,"
                    " doc, gen) VALUES (?,?,?,?,?,?,?,?,?)",
                    [
                        (
                            c.id,
                            c.ci_class,
                            c.name,
                            c.status.value,
                            c.environment,
                            c.owner,
                            c.location,
                            _dump(c),
                            gen,
                        )
                        for c in batch.cis
                    ],
                )
            conn.executemany(
                "INSERT INTO identifiers (kind, value, ci_id, is_unique) VALUES (?,?,?,?)",
                [
                    (i.kind.value, i.value, c.id, int(i.unique))
                    for c in batch.cis
                    for i in c.identifiers
                ],
            )
            conn.executemany(
                "INSERT INTO rels (id, type, source_id, target_id, status, doc, gen)"
                " VALUES (?,?,?,?,?,?,?)",
                [
                    (r.id, r.type, r.source_id, r.target_id, r.status.value, _dump(r), gen)
                    for r in batch.relationships
                ],
            )
            for kind, recs in (
                ("change", batch.changes),
                ("incident", batch.incidents),
                ("problem", batch.problems),
            ):
                for rec in recs:
                    conn.execute(
                        "INSERT INTO records (kind, id, doc) VALUES (?,?,?)",
                        (kind, rec.id, _dump(rec)),
                    )
                    conn.executemany(
                        "INSERT OR IGNORE INTO record_links VALUES (?,?,?)",
                        [(kind, rec.id, ci) for ci in (*rec.ci_ids, *rec.service_ids)],
                    )
            conn.executemany(
                f"INSERT INTO history ({self._HISTORY_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        h.seq,
                        h.entity_kind.value,
                        h.entity_id,
                        h.op.value,
                        h.field,
                        _json(h.before),
                        _json(h.after),
                        h.actor,
                        h.source,
                        h.run_id,
                        h.request_id,
                        to_text(h.at),
                        h.reason,
                    )
                    for h in batch.history
                ],
            )
            if batch.history:
                last = to_text(max(h.at for h in batch.history))
                conn.execute("UPDATE meta SET value = max(value, ?) WHERE key = 'last_at'", (last,))
            conn.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (str(gen),))
            conn.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            _rollback(conn)
            raise InvalidInput(f"the snapshot clashes with what the store holds: {exc}") from exc
        except sqlite3.Error as exc:
            _rollback(conn)
            raise StoreUnavailable(f"the restore failed and was rolled back: {exc}") from exc
        except BaseException:
            _rollback(conn)
            raise
        with self._index_lock:
            self._index = None

    def integrity_check(self) -> str:
        return str(self._conn().execute("PRAGMA integrity_check").fetchone()[0])


__all__ = ["EmbeddedStore", "RelationshipStatus"]
