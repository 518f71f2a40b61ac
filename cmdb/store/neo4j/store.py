"""The Neo4j store: the production adapter of the store contract.

One driver per process; every write is a managed transaction function (retried by the
driver on transient errors, so each function re-reads and re-plans from scratch), every
read one auto-commit query, retried likewise (see ``reads``).
Writers serialise on one meta node, which also hands out history sequence numbers: the
same one-writer model as the embedded store, so both give identical answers.

A CI or relationship keeps its creation record on itself (``h_*`` properties) and later
changes are ``History`` nodes: a first ingest then writes one node per CI, which is what
lets store upserts run close to a raw ``UNWIND ... CREATE``.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import orjson
from neo4j import (
    Driver,
    GraphDatabase,
    ManagedTransaction,
    RoutingControl,
    unit_of_work,
)
from neo4j.exceptions import (
    ConstraintError,
    IncompleteCommit,
    ServiceUnavailable,
    SessionExpired,
)
from pydantic import TypeAdapter

from cmdb.domain.changeset import ApplyResult, ChangeSet, Guard
from cmdb.domain.classes import descendants
from cmdb.domain.errors import (
    IdentityConflict,
    InvalidInput,
    NotFound,
    SchemaNotReady,
    StoreUnavailable,
)
from cmdb.domain.events import WebhookRule
from cmdb.domain.history import EntityKind, HistoryEntry, HistoryOp
from cmdb.domain.identifiers import Identifier
from cmdb.domain.model import CI, LifecycleStatus, Relationship, Sighting, utcnow
from cmdb.domain.records import Change, DiscoveryRun, Incident, IncidentState, Problem
from cmdb.domain.relationships import get_type
from cmdb.store import asof, decode, guards, neighbours
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
    briefed,
    split_walk,
)
from cmdb.store.gcpause import gc_paused
from cmdb.store.index import walk_closure
from cmdb.store.neo4j import cypher
from cmdb.store.neo4j.migrations import migrate, missing_constraints
from cmdb.store.neo4j.outbox import OutboxNodes, write_events
from cmdb.store.neo4j.proposals import ProposalNodes, add_version, version_race
from cmdb.store.neo4j.reads import Reader, chunks_of, rows_of
from cmdb.store.outbox import events_for
from cmdb.store.planner import (
    CIHead,
    Clock,
    IdentKey,
    Loader,
    PendingHistory,
    Plan,
    plan,
)
from cmdb.store.recent import OPEN_ENDED, live_until, still_live
from cmdb.store.timefmt import aware, from_text, to_text

T = TypeVar("T")


def _j(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _doc(model: Any) -> str:
    # pydantic-core writes the JSON itself: no intermediate dict of Python values.
    return str(model.model_dump_json(by_alias=True))


def _sighting_in(doc: str | None, source: str) -> Sighting | None:
    """One source's sighting read out of a CI document, without validating the whole CI."""
    if doc is None:
        return None
    found = orjson.loads(doc).get("sources", {}).get(source)
    return None if found is None else decode.sighting(found)


_INSTANT = TypeAdapter(datetime)


class _Quiet(list[Any]):
    """A list parameter with a short repr. The driver's Bolt ``run`` (neo4j 5.x) formats
    ``repr`` of every parameter for a debug log line on each query, logging on or off:
    ~10 us a row, 4 % of writing a batch of relationships."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} values>"


SEND = 1000  # rows per write statement: see _send
NAMES_MIGRATION = 10  # 0010_name_search.cypher: every CI's lname, under a text index
LIVE_MIGRATION = 11  # 0011_incident_live_until.cypher: every incident's live_until, indexed


def _send(tx: ManagedTransaction, query: str, rows: Iterable[dict[str, Any]]) -> None:
    """Run an ``UNWIND $rows`` write in statements of SEND rows, built as they are sent.

    Results are left for the commit to consume: the server runs a statement while this
    process builds (documents, history) and packs the next one's rows, instead of the two
    taking turns. Statements still run in order, in the one transaction.
    """
    it = iter(rows)
    while chunk := list(itertools.islice(it, SEND)):
        tx.run(query, rows=_Quiet(chunk))


def _chunks(tx: ManagedTransaction, query: str, **params: Any) -> list[Any]:
    return chunks_of(tx.run(query, **params))


class _TxLoader(Loader):
    """The planner's reads, inside the write transaction.

    ``read`` keeps every CI id asked for or found by identifier: ``load_rels`` looks for
    stored relationships only among the edges leaving those CIs (see
    ``cypher.LOAD_RELS_FROM``); ``heads`` keeps the class and status that identifier
    look-ups return, so the relationship ends they found are not read twice.
    """

    def __init__(self, tx: ManagedTransaction) -> None:
        self.tx = tx
        self.raw: dict[str, str] = {}  # documents read for a sighting patch
        self.read: set[str] = set()
        self.heads: dict[str, CIHead] = {}

    def load_sightings(self, ids: set[str], source: str) -> dict[str, Sighting | None]:
        self.read |= ids
        out: dict[str, Sighting | None] = {}
        for ci_id, doc in _chunks(self.tx, cypher.LOAD_CI_ID_DOCS, ids=_Quiet(ids)):
            self.raw[ci_id] = doc
            out[ci_id] = _sighting_in(doc, source)
        return out

    def load_cis(self, ids: set[str]) -> dict[str, CI]:
        self.read |= ids
        docs = _chunks(self.tx, cypher.LOAD_CI_DOCS, ids=_Quiet(ids))
        return {c.id: c for c in map(decode.ci, docs)}

    def load_heads(self, ids: set[str]) -> dict[str, CIHead]:
        self.read |= ids
        out = {i: h for i in ids if (h := self.heads.get(i)) is not None}
        rest = [i for i in ids if i not in out]
        if rest:
            for ci_id, ci_class, status in _chunks(self.tx, cypher.LOAD_CI_HEADS, ids=_Quiet(rest)):
                out[ci_id] = CIHead(ci_id, ci_class, LifecycleStatus(status))
        return out

    def load_idents(self, keys: set[IdentKey]) -> dict[IdentKey, str]:
        by_text = {f"{k}={v}": (k, v) for k, v in keys}
        out: dict[IdentKey, str] = {}
        for key, ci_id, ci_class, status in _chunks(
            self.tx, cypher.LOAD_IDENTS, keys=_Quiet(by_text)
        ):
            out[by_text[key]] = ci_id
            self.heads[ci_id] = CIHead(ci_id, ci_class, LifecycleStatus(status))
        self.read.update(out.values())
        return out

    def load_rels(self, ids: set[str]) -> dict[str, Relationship]:
        if not self.read:  # every end is new in this batch: no stored edge between them
            return {}
        docs = _chunks(
            self.tx, cypher.LOAD_RELS_FROM, ids=_Quiet(ids), **{"from": _Quiet(self.read)}
        )
        return {x.id: x for x in map(decode.rel, docs)}

    def load_rels_touching(self, ci_ids: set[str]) -> dict[str, Relationship]:
        res = self.tx.run(cypher.ACTIVE_RELS_TOUCHING, ids=list(ci_ids))
        return {x.id: x for x in (decode.rel(r["doc"]) for r in res)}

    def _records(self, label: str, ids: set[str]) -> list[str]:
        q = f"MATCH (x:{label}) WHERE x.id IN $ids RETURN x.doc AS doc"
        return [r["doc"] for r in self.tx.run(q, ids=list(ids))]

    def load_changes(self, ids: set[str]) -> dict[str, Change]:
        return {c.id: c for c in map(Change.model_validate_json, self._records("Change", ids))}

    def load_incidents(self, ids: set[str]) -> dict[str, Incident]:
        docs = self._records("Incident", ids)
        return {i.id: i for i in map(Incident.model_validate_json, docs)}

    def load_problems(self, ids: set[str]) -> dict[str, Problem]:
        docs = self._records("Problem", ids)
        return {x.id: x for x in map(Problem.model_validate_json, docs)}


def _upsert_records(
    tx: ManagedTransaction,
    changes: Collection[Change],
    incidents: Collection[Incident],
    problems: Collection[Problem],
) -> None:
    """Each record node with its document and state, linked to the CIs it names."""
    live = {i.id: live_until(i) for i in incidents}
    for label, recs in (("Change", changes), ("Incident", incidents), ("Problem", problems)):
        rows = [
            {"id": r.id, "doc": _doc(r), "state": r.state.value, "cis": [*r.ci_ids, *r.service_ids]}
            | ({"live_until": live[r.id]} if label == "Incident" else {})
            for r in recs
        ]
        if rows:
            tx.run(cypher.record_upsert(label), rows=_Quiet(rows)).consume()


def _ci_props(ci: CI, gen: int) -> dict[str, Any]:
    return {
        "id": ci.id,
        "class": ci.ci_class,
        "name": ci.name,
        # The name as a search compares it (cmdb.store.search: Python's lower-casing),
        # under a text index (migration 0010).
        "lname": ci.name.lower(),
        "status": ci.status.value,
        "environment": ci.environment,
        "owner": ci.owner,
        "location": ci.location,
        "sources": sorted(ci.sources),
        "doc": _doc(ci),
        "gen": gen,
    }


def _rel_props(rel: Relationship, gen: int) -> dict[str, Any]:
    return {
        "id": rel.id,
        "type": rel.type,
        "status": rel.status.value,
        "doc": _doc(rel),
        "gen": gen,
    }


class Neo4jStore(OutboxNodes, ProposalNodes):
    kind = "neo4j"

    def __init__(
        self,
        driver: Driver,
        *,
        database: str = "neo4j",
        clock: Clock = utcnow,
        tx_timeout_s: float = 30.0,
        owns_driver: bool = False,
        check_schema: bool = True,
    ) -> None:
        self.driver = driver
        self.database = database
        self._clock = clock
        self._timeout = tx_timeout_s
        self._owns_driver = owns_driver
        self._schema_ok = False
        self._migrated: set[int] = set()  # migrations seen applied: see _applied
        self._reader = Reader(driver, database, timeout_s=tx_timeout_s)
        if check_schema:
            self.check_schema()

    @classmethod
    def connect(
        cls,
        uri: str,
        user: str,
        password: str,
        *,
        database: str = "neo4j",
        tx_timeout_s: float = 30.0,
        clock: Clock = utcnow,
    ) -> Neo4jStore:
        # Notifications (e.g. "property key does not exist" for never-set optional
        # fields) are noise for a store whose queries are fixed text.
        driver = GraphDatabase.driver(uri, auth=(user, password), notifications_min_severity="OFF")
        try:
            driver.verify_connectivity()
        except Exception as exc:
            driver.close()
            raise StoreUnavailable(f"cannot reach Neo4j at {uri}: {type(exc).__name__}") from exc
        return cls(
            driver, database=database, tx_timeout_s=tx_timeout_s, clock=clock, owns_driver=True
        )

    def close(self) -> None:
        if self._owns_driver:
            self.driver.close()

    # -- schema ------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        applied = migrate(self.driver, self.database)
        self._bound_old_incidents()
        self.check_schema()
        return applied

    def _bound_old_incidents(self) -> None:
        """Incidents resolved before migration 0011 were given the open-ended live_until
        (read by every question): give them their resolution, read from their documents."""
        rows = self._rows(
            "MATCH (x:Incident) WHERE x.live_until = $open_ended AND x.state <> 'open'"
            " RETURN x.doc AS doc",
            open_ended=OPEN_ENDED,
        )
        found = [Incident.model_validate_json(r["doc"]) for r in rows]
        bounded = [{"id": i.id, "until": live_until(i)} for i in found]
        bounded = [b for b in bounded if b["until"] != OPEN_ENDED]
        for start in range(0, len(bounded), SEND):
            self.driver.execute_query(
                "UNWIND $rows AS row MATCH (x:Incident {id: row.id}) SET x.live_until = row.until",
                rows=bounded[start : start + SEND],
                database_=self.database,
            )

    def _applied(self, version: int) -> bool:
        """Whether migration ``version`` is applied: asked of the database until it says
        so, then known for the store's life (migrations are never taken back)."""
        if version not in self._migrated:
            records, _, _ = self.driver.execute_query(
                "MATCH (m:CmdbMigration {version: $v}) RETURN count(m) AS n",
                v=version,
                database_=self.database,
                routing_=RoutingControl.READ,
            )
            if records and records[0]["n"]:
                self._migrated.add(version)
        return version in self._migrated

    def _names_indexed(self) -> bool:
        """Whether every CI holds ``lname`` under its text index (migration 0010)."""
        return self._applied(NAMES_MIGRATION)

    def check_schema(self) -> set[str]:
        missing = missing_constraints(self.driver, self.database)
        self._schema_ok = not missing
        return missing

    # -- transactions ------------------------------------------------------------------
    def _write(self, fn: Callable[[ManagedTransaction], T]) -> T:
        if not self._schema_ok and self.check_schema():
            raise SchemaNotReady(
                "the Neo4j database lacks the CMDB's constraints; run `cmdb db migrate`"
            )
        work = unit_of_work(timeout=self._timeout)(fn)
        try:
            with self.driver.session(database=self.database) as s:
                return s.execute_write(work)
        except IncompleteCommit as exc:
            raise StoreUnavailable(
                "the connection dropped during commit: the outcome is unknown; "
                "re-applying the same change set is safe"
            ) from exc
        except (ServiceUnavailable, SessionExpired) as exc:
            raise StoreUnavailable(f"Neo4j is unavailable: {exc}") from exc
        except ConstraintError as exc:
            raise IdentityConflict(f"the batch breaks a uniqueness rule: {exc.message}") from exc

    def _rows(self, query: str, **params: Any) -> list[dict[str, Any]]:
        return self._reader.read(query, params, rows_of)

    def _chunked(self, query: str, **params: Any) -> list[Any]:
        with gc_paused():  # a big answer is many lists: see decode.cis
            return self._reader.read(query, params, chunks_of)

    def guard_value(self, name: str) -> int:
        rows = self._rows("MATCH (g:CmdbGuard {name: $name}) RETURN g.value AS v", name=name)
        return int(rows[0]["v"]) if rows else 0

    # -- writing -----------------------------------------------------------------------
    def apply(self, changeset: ChangeSet) -> ApplyResult:
        if changeset.is_empty():
            return ApplyResult()

        def work(tx: ManagedTransaction) -> ApplyResult:
            meta = tx.run(cypher.META).single(strict=True)
            if changeset.guard is not None:
                _guard(tx, changeset.guard)
            now = aware(self._clock())
            if meta["last_at"] and from_text(meta["last_at"]) > now:
                now = from_text(meta["last_at"])
            loader = _TxLoader(tx)
            with gc_paused():
                p = plan(changeset, loader, now)
                self._write_plan(tx, p, changeset, now, int(meta["seq"]), int(meta["gen"]))
                if p.sightings:
                    self._patch_sightings(tx, p, loader.raw, int(meta["gen"]))
            for proposal in changeset.proposals:  # in this transaction: see ChangeSet
                add_version(tx, proposal)
            return p.result

        try:
            return self._write(work)
        except IdentityConflict as exc:
            race = version_race(exc, changeset.proposals)
            if race is None:
                raise
            raise race from exc

    def _write_plan(
        self, tx: ManagedTransaction, p: Plan, cs: ChangeSet, now: datetime, seq: int, gen: int
    ) -> None:
        at = to_text(now)
        common = {
            "actor": cs.actor,
            "source": cs.source,
            "run_id": cs.run_id,
            "request_id": cs.request_id,
            "at": at,
            "reason": cs.reason,
        }
        creations: dict[str, PendingHistory] = {}
        creations_seq: dict[str, int] = {}
        updates: list[dict[str, Any]] = []
        for h in p.history:
            seq += 1
            if h.op is HistoryOp.CREATE and h.entity_kind in (EntityKind.CI, EntityKind.REL):
                creations[h.entity_id] = h
                creations_seq[h.entity_id] = seq
            else:
                updates.append(
                    {
                        **common,
                        "seq": seq,
                        "entity_kind": h.entity_kind.value,
                        "entity_id": h.entity_id,
                        "op": h.op.value,
                        "field": h.field,
                        "before": _j(h.before),
                        "after": _j(h.after),
                    }
                )
        # CIs: new ones created per class (labels from the registry), others updated.
        new_by_class: dict[str, list[CI]] = defaultdict(list)
        changed: list[CI] = []
        for ci in p.cis.values():
            (new_by_class[ci.ci_class] if ci.id in p.created_cis else changed).append(ci)
        pkeys: dict[str, str] = {}

        def created(ci: CI) -> dict[str, Any]:
            props = _ci_props(ci, gen)
            first = next((i for i in ci.identifiers if i.unique), None)
            if first is not None:
                props["pkey"] = pkeys[ci.id] = f"{first.kind.value}={first.value}"
            props.update(self._creation(common, creations_seq[ci.id], creations[ci.id].after))
            return props

        for ci_class, cis in new_by_class.items():
            _send(tx, cypher.create_cis(ci_class), map(created, cis))
        _send(tx, cypher.UPDATE_CIS, (_ci_props(ci, gen) for ci in changed))
        idents = (
            {"key": f"{k}={v}", "kind": k, "value": v, "ci": ci_id, "unique": u}
            for k, v, ci_id, u in p.new_idents
            if pkeys.get(ci_id) != f"{k}={v}"
        )
        _send(tx, cypher.ADD_IDENTS, idents)
        # Relationships grouped by (type, active): each group is one UNWIND statement.
        new_rels: dict[tuple[str, bool], list[Relationship]] = defaultdict(list)
        changed_rels: dict[tuple[str, bool], list[Relationship]] = defaultdict(list)
        moved_rels: dict[tuple[str, bool], list[Relationship]] = defaultdict(list)
        for rel in p.rels.values():
            key = (rel.type, rel.active)
            if rel.id in p.created_rels:
                new_rels[key].append(rel)
            elif rel.id in p.status_changed_rels:
                moved_rels[key].append(rel)
            else:
                changed_rels[key].append(rel)

        def rel_row(rel: Relationship) -> dict[str, Any]:
            props = _rel_props(rel, gen)
            if rel.id in p.created_rels:
                h = creations[rel.id]
                props.update(self._creation(common, creations_seq[rel.id], h.after))
            return {"id": rel.id, "s": rel.source_id, "t": rel.target_id, "props": props}

        for (rtype, active), rels in new_rels.items():
            _send(tx, cypher.create_rels(rtype, active), map(rel_row, rels))
        for (rtype, active), rels in changed_rels.items():
            _send(tx, cypher.update_rels(rtype, active), map(rel_row, rels))
        for (rtype, active), rels in moved_rels.items():
            _send(tx, cypher.move_rels(rtype, active), map(rel_row, rels))
        _upsert_records(tx, p.changes.values(), p.incidents.values(), p.problems.values())
        if p.runs:
            runs = [
                {
                    "id": r.id,
                    "doc": _doc(r),
                    "source": r.source,
                    "scope": r.scope,
                    "started": to_text(r.started_at),
                    "status": r.status.value,
                }
                for r in p.runs.values()
            ]
            tx.run(cypher.UPSERT_RUNS, rows=_Quiet(runs)).consume()
        if updates:
            tx.run(cypher.CREATE_HISTORY, rows=_Quiet(updates)).consume()
        # The outbox: the events of this change set some rule may want, committed with it
        # or not at all (the rules read after this write locked the meta node, which a rule
        # is saved under too: see events_for).
        rules = [
            WebhookRule.model_validate_json(r["doc"])
            for r in tx.run("MATCH (r:WebhookRule) RETURN r.doc AS doc")
        ]
        seq = write_events(tx, events_for(p, cs, now, rules), seq)
        tx.run(cypher.SET_META, seq=seq, last_at=at).consume()

    @staticmethod
    def _patch_sightings(tx: ManagedTransaction, p: Plan, raw: dict[str, str], gen: int) -> None:
        """Write the sightings of CIs only touched or missed into their documents."""
        rows: list[dict[str, Any]] = []
        for ci_id, w in p.sightings.items():
            doc = orjson.loads(raw[ci_id])
            doc["sources"][w.source] = w.sighting.model_dump(mode="json")
            if w.updated_at is not None:
                doc["updated_at"] = _INSTANT.dump_python(w.updated_at, mode="json")
            row = {"id": ci_id, "doc": orjson.dumps(doc).decode(), "gen": gen}
            rows.append({**row, "sources": sorted(doc["sources"])})
        tx.run(cypher.PATCH_DOCS, rows=_Quiet(rows)).consume()

    @staticmethod
    def _creation(common: dict[str, Any], seq: int, after: Any) -> dict[str, Any]:
        return {
            "h_seq": seq,
            "h_at": common["at"],
            "h_actor": common["actor"],
            "h_source": common["source"],
            "h_run": common["run_id"],
            "h_req": common["request_id"],
            "h_reason": common["reason"],
            "h_after": _j(after),
        }

    # -- reading CIs -------------------------------------------------------------------
    def get_ci(self, ci_id: str, *, as_of: datetime | None = None) -> CI:
        if as_of is not None:
            found = self._cis_as_of([ci_id], as_of)
            if ci_id not in found:
                raise NotFound(f"no CI {ci_id} at {to_text(as_of)}", where="id")
            return found[ci_id]
        rows = self._rows(cypher.LOAD_CIS, ids=[ci_id])
        if not rows:
            raise NotFound(f"no CI {ci_id}", where="id")
        return decode.ci(rows[0]["doc"])

    def _cis_by_id(self, ids: Sequence[str]) -> dict[str, CI]:
        docs = self._chunked(cypher.LOAD_CI_DOCS, ids=list(ids))
        return {c.id: c for c in decode.cis(docs)}

    def get_cis(self, ids: Iterable[str]) -> dict[str, CI]:
        wanted = list(dict.fromkeys(ids))
        return self._cis_by_id(wanted) if wanted else {}

    def find_by_identifier(self, identifier: Identifier) -> list[CI]:
        rows = self._rows(cypher.FIND_BY_IDENT, key=str(identifier))
        return [decode.ci(r["doc"]) for r in rows]

    @gc_paused()  # many small objects, no cycles: see decode.cis
    def find_by_identifiers(self, identifiers: Iterable[Identifier]) -> dict[Identifier, list[CI]]:
        wanted = {str(i): i for i in identifiers}
        keys = sorted(wanted)
        out: dict[Identifier, list[CI]] = {}
        parsed: dict[str, CI] = {}
        for lo in range(0, len(keys), 5000):  # one round trip per chunk
            for key, ci_id, doc in self._chunked(cypher.FIND_BY_IDENTS, keys=keys[lo : lo + 5000]):
                ci = parsed.get(ci_id)
                if ci is None:
                    ci = parsed[ci_id] = decode.ci(doc)
                out.setdefault(wanted[key], []).append(ci)
        for found in out.values():
            found.sort(key=lambda c: c.id)
        return out

    @gc_paused()  # many small objects, no cycles: see decode.cis
    def list_sightings(self, source: str) -> dict[str, SightingHit]:
        # The reconciler needs each CI's id, class and this source's sighting: the rest of
        # the document is parsed as plain JSON and never built into a CI.
        out: dict[str, SightingHit] = {}
        for ci_id, ci_class, doc in self._chunked(cypher.LIST_SIGHTED, source=source):
            found = _sighting_in(doc, source)
            if found is not None:
                out[ci_id] = SightingHit.model_construct(
                    ci_id=ci_id, ci_class=ci_class, sighting=found
                )
        return out

    @gc_paused()  # many small objects, no cycles: see decode.cis
    def list_cis(
        self, flt: CIFilter | None = None, *, limit: int = 100, cursor: str | None = None
    ) -> Page:
        if limit < 1 or limit > 10_000:
            raise InvalidInput("limit must be between 1 and 10000", where="limit")
        flt = flt or CIFilter()
        label = "CI"
        if flt.ci_class:
            try:
                descendants(flt.ci_class)
            except InvalidInput as exc:
                exc.where = "class"
                raise
            label = cypher.labels_for(flt.ci_class).split(":")[-1]
        where: list[str] = []
        params: dict[str, Any] = {"after": cursors.decode(cursor), "limit": limit + 1}
        if flt.status:
            where.append("c.status IN $status")
            params["status"] = [s.value for s in flt.status]
        for col in ("environment", "owner", "location", "name"):
            value = getattr(flt, col)
            if value is not None:
                where.append(f"c.{col} = ${col}")
                params[col] = value
        if flt.source:
            where.append("$source IN c.sources")
            params["source"] = flt.source
        if flt.name_contains:
            # Ranked best match first (cmdb/store/search.py), in the one query.
            indexed = self._names_indexed()
            text = flt.name_contains.lower() if indexed else flt.name_contains
            params.update(contains=text, **cypher.SEARCH_PARAMS)
            match = cypher.search_cis(label, where, indexed=indexed)
        else:
            where.insert(0, "($after IS NULL OR c.id > $after)")
            match = (
                f"MATCH (c:{label}) WHERE {' AND '.join(where)} WITH c ORDER BY c.id LIMIT $limit"
            )
        docs = self._chunked(cypher.chunked(match, "c.doc", by="c"), **params)
        items = decode.cis(docs[:limit])
        nxt = cursors.encode(items[-1].id) if len(docs) > limit else None
        # Built from models just decoded: validating the Page would run every CI's
        # model validator again (~1/3 of reading a page).
        return Page.model_construct(items=items, next_cursor=nxt)

    # -- reading relationships ---------------------------------------------------------
    def _rels_by_id(self, ids: Sequence[str]) -> dict[str, Relationship]:
        if not ids:
            return {}
        rows = self._rows(cypher.load_rels(), ids=list(ids))
        return {x.id: x for x in (decode.rel(r["doc"]) for r in rows)}

    def get_relationship(self, rel_id: str, *, as_of: datetime | None = None) -> Relationship:
        found = (
            self._rels_as_of(as_of, ids=[rel_id])
            if as_of is not None
            else self._rels_by_id([rel_id])
        )
        if rel_id not in found:
            when = f" at {to_text(as_of)}" if as_of is not None else ""
            raise NotFound(f"no relationship {rel_id}{when}", where="id")
        return found[rel_id]

    def get_relationships(self, ids: Iterable[str]) -> dict[str, Relationship]:
        return self._rels_by_id(list(dict.fromkeys(ids)))

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
        wanted = get_type(type_name).name if type_name else None
        chosen = (wanted,) if wanted else cypher.REL_TYPES
        if include_retired:
            chosen = (*chosen, cypher.RETIRED)
        rows = self._rows(
            cypher.list_rels(chosen),
            after=cursors.decode(cursor) or "",
            type=wanted,
            limit=limit + 1,
        )
        items = [decode.rel(r["doc"]) for r in rows[:limit]]
        nxt = cursors.encode(rows[limit - 1]["id"]) if len(rows) > limit else None
        return RelPage.model_construct(items=items, next_cursor=nxt)

    def iter_documents(self, kind: DocumentKind, *, batch: int = 10_000) -> Iterator[str]:
        def ci_page(after: str) -> list[list[str]]:
            return self._chunked(cypher.ALL_CI_DOCS, after=after, limit=batch)

        def rel_page(after: str) -> list[tuple[str, str]]:
            rows = self._rows(cypher.ALL_REL_DOCS, after=after, type=None, limit=batch)
            return [(r["id"], r["doc"]) for r in rows]

        return cursors.by_id(ci_page if kind is DocumentKind.CI else rel_page)

    def neighbours(
        self,
        ci_id: str,
        *,
        direction: Direction = Direction.BOTH,
        types: Iterable[str] | None = None,
        as_of: datetime | None = None,
    ) -> list[Neighbour]:
        wanted = {get_type(t).name for t in types} if types is not None else None
        if as_of is None:
            return self._neighbours_now(ci_id, direction, wanted)
        self.get_ci(ci_id, as_of=as_of)
        ids = self._rows("MATCH (c:CI {id: $id})-[r]-(:CI) RETURN DISTINCT r.id AS id", id=ci_id)
        rels = list(self._rels_as_of(as_of, ids=[r["id"] for r in ids]).values())
        picked = neighbours.pick(ci_id, rels, direction, wanted)
        return neighbours.assemble(picked, lambda ids: self._cis_as_of(ids, as_of))

    def _neighbours_now(
        self, ci_id: str, direction: Direction, wanted: set[str] | None
    ) -> list[Neighbour]:
        """The CI's relationships and the CIs at their other ends in one round trip (the
        CI itself, the edges and then the CIs were three); only the neighbours picked are
        decoded."""
        rows = self._rows(cypher.NEIGHBOURS_NOW, id=ci_id)
        if not rows:
            raise NotFound(f"no CI {ci_id}", where="id")  # as get_ci says it
        rel_docs = dict.fromkeys(r["rel"] for r in rows if r["rel"] is not None)
        docs = {r["other"]: r["doc"] for r in rows if r["rel"] is not None}
        picked = neighbours.pick(ci_id, map(decode.rel, rel_docs), direction, wanted)

        def read(ids: Sequence[str]) -> dict[str, CI]:
            return {c.id: c for c in decode.cis(docs[i] for i in dict.fromkeys(ids))}

        return neighbours.assemble(picked, read)

    @gc_paused()  # many small objects, no cycles: see decode.cis
    def neighbours_of(self, ci_ids: Iterable[str]) -> dict[str, list[Neighbour]]:
        wanted = list(dict.fromkeys(ci_ids))
        if not wanted:
            return {}
        rows = self._rows(cypher.ACTIVE_RELS_TOUCHING, ids=wanted)
        touching = [decode.rel(r["doc"]) for r in rows]
        return neighbours.assemble_many(wanted, touching, self._cis_by_id)

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
            ways = split_walk(walk)
            leaf_ways = split_walk(leaves) if leaves is not None else None
            if as_of is None:
                return self._walk(root_list, ways, leaf_ways, max_depth, max_nodes, brief)
            got = self._walk_as_of(root_list, ways, leaf_ways, max_depth, max_nodes, as_of)
            return briefed(got) if brief else got
        type_names = tuple(get_type(t).name for t in types) if types is not None else None
        if as_of is not None:
            got = self._subgraph_as_of(
                root_list, direction, type_names, max_depth, max_nodes, as_of
            )
            return briefed(got) if brief else got
        cap = max(max_nodes, len(root_list))
        query = cypher.subgraph(direction.value, type_names, max_depth)
        rows = self._chunked(
            cypher.rows_of(query, "doc, d, edges"),
            roots=root_list,
            depth=max_depth,
            limit=cap + 1,
        )
        by_nodes = len(rows) > cap
        kept = rows[:cap]  # the query orders by depth, so a cut keeps the nearest CIs
        nodes = {c.id: c for c in decode.cis(doc for doc, _d, _e in kept)}
        missing = [r for r in root_list if r not in nodes]
        if missing:
            raise NotFound(f"no CI {', '.join(missing)}", where="roots")
        edges: dict[str, Relationship] = {}
        seen_docs: set[str] = set()
        by_depth = False
        for _, d, out in kept:
            for far, _type, doc in out:
                if far not in nodes:
                    by_depth = by_depth or d == max_depth
                elif doc not in seen_docs:  # a BOTH walk meets each edge from both ends
                    seen_docs.add(doc)
                    rel = decode.rel(doc)
                    edges[rel.id] = rel
        got = Subgraph.model_construct(  # of decoded models: see list_cis
            roots=root_list,
            nodes=nodes,
            edges=sorted(edges.values(), key=lambda e: e.id),
            links=[],
            depth_reached=max((int(d) for _doc_, d, _e in kept), default=0),
            truncated_by_depth=by_depth and not by_nodes,
            truncated_by_nodes=by_nodes,
        )
        return briefed(got) if brief else got

    def _walk(
        self,
        roots: list[str],
        ways: tuple[tuple[str, ...], tuple[str, ...]],
        leaf_ways: tuple[tuple[str, ...], tuple[str, ...]] | None,
        max_depth: int,
        max_nodes: int,
        brief: bool = False,
    ) -> Subgraph:
        along, against = ways
        cap = max(max_nodes, len(roots))
        query = cypher.walk(along, against, max_depth, *(leaf_ways or ((), ())), brief=brief)
        # Rows are [CI document, walk depth (-1: a leaf), edges to CIs of the answer as
        # (target's id, type, document or, brief, id), cut by the depth cap]: see cypher.walk.
        rows = self._chunked(cypher.rows_of(query, "doc, d, edges, cut"), roots=roots, limit=cap)
        walked = sorted((r for r in rows if r[1] >= 0), key=lambda r: int(r[1]))
        by_nodes = len(walked) > cap
        walked = walked[:cap]
        read_ci = decode.ci_brief if brief else decode.ci
        read_cis = decode.cis_brief if brief else decode.cis
        walked_cis = read_cis(r[0] for r in walked)
        nodes = {c.id: c for c in walked_cis}
        missing = [r for r in roots if r not in nodes]
        if missing:
            raise NotFound(f"no CI {', '.join(missing)}", where="roots")
        # The depth cap cut something if a CI at the cap has a walkable edge out of the walk
        # (the query tells: only when nothing was cut by the count are the walked CIs all
        # of the answer's).
        by_depth = not by_nodes and any(r[3] for r in walked)
        kept = [(c.id, r) for c, r in zip(walked_cis, walked, strict=True)]
        if not by_nodes and leaf_ways is not None:
            found = sorted(
                ((read_ci(r[0]), r) for r in rows if r[1] < 0),
                key=lambda x: x[0].id,
            )
            room = cap - len(nodes)
            by_nodes = len(found) > room
            for c, r in found[:room]:
                nodes[c.id] = c
                kept.append((c.id, r))
        edges: dict[str, Relationship] = {}
        links: dict[str, Link] = {}
        for ci_id, (_doc, _d, out, _cut) in kept:
            for far, rtype, doc in out:
                if far not in nodes:  # to a CI the count cut
                    continue
                if brief:  # ``doc`` is the relationship's id
                    links[doc] = Link(rtype, ci_id, far)
                else:
                    rel = decode.rel(doc)
                    edges[rel.id] = rel
        return Subgraph.model_construct(  # of decoded models: see list_cis
            roots=roots,
            nodes=nodes,
            links=sorted(links.values()),
            edges=sorted(edges.values(), key=lambda e: e.id),
            depth_reached=max((int(r[1]) for r in walked), default=0),
            truncated_by_depth=by_depth,
            truncated_by_nodes=by_nodes,
        )

    def _walk_as_of(
        self,
        roots: list[str],
        ways: tuple[tuple[str, ...], tuple[str, ...]],
        leaf_ways: tuple[tuple[str, ...], tuple[str, ...]] | None,
        max_depth: int,
        max_nodes: int,
        as_of: datetime,
    ) -> Subgraph:
        # As for the other as-of walks: the past graph rebuilt from history, walked in memory.
        known = self._cis_as_of(roots, as_of)
        missing = [r for r in roots if r not in known]
        if missing:
            raise NotFound(f"no CI {', '.join(missing)} at {to_text(as_of)}", where="roots")
        past = self._rels_as_of(as_of)
        index = asof.index_of(past.values())
        for r in roots:
            index.node(r)
        w = walk_closure(index, roots, ways, leaf_ways, max_depth, max_nodes)
        nodes = self._cis_as_of(w.walked + w.leaves, as_of)
        types = {*ways[0], *ways[1], *(leaf_ways[0] + leaf_ways[1] if leaf_ways else ())}
        edges = asof.active_among(past, list(nodes), types)
        return Subgraph(
            roots=roots,
            nodes=nodes,
            edges=sorted(edges.values(), key=lambda e: e.id),
            links=[],
            depth_reached=w.depth_reached,
            truncated_by_depth=w.truncated_by_depth,
            truncated_by_nodes=w.truncated_by_nodes,
        )

    def _subgraph_as_of(
        self,
        roots: list[str],
        direction: Direction,
        types: tuple[str, ...] | None,
        max_depth: int,
        max_nodes: int,
        as_of: datetime,
    ) -> Subgraph:
        # The past graph is rebuilt from history, then walked in memory with the same
        # index the embedded store uses: as-of queries are rare and need every edge's past.
        known = self._cis_as_of(roots, as_of)
        missing = [r for r in roots if r not in known]
        if missing:
            raise NotFound(f"no CI {', '.join(missing)} at {to_text(as_of)}", where="roots")
        past = self._rels_as_of(as_of)
        index = asof.index_of(past.values())
        for r in roots:
            index.node(r)
        reach = index.reach(
            roots,
            forward=direction in (Direction.OUT, Direction.BOTH),
            backward=direction in (Direction.IN, Direction.BOTH),
            types=types,
            max_depth=max_depth,
            max_nodes=max(max_nodes, len(roots)),
        )
        node_ids = [index.ids[i] for i in reach.nodes.tolist()]
        nodes = self._cis_as_of(node_ids, as_of)
        by_key = {(r.source_id, r.target_id, r.type): r for r in past.values()}
        edges = [by_key[index.edge(e)] for e in reach.edges.tolist()]
        return Subgraph(
            roots=roots,
            nodes=nodes,
            edges=sorted(edges, key=lambda e: e.id),
            links=[],
            depth_reached=reach.depth_reached,
            truncated_by_depth=reach.truncated_by_depth,
            truncated_by_nodes=reach.truncated_by_nodes,
        )

    # -- history and as-of -------------------------------------------------------------
    _CREATION_FIELDS = (
        "h_seq AS seq, '{kind}' AS entity_kind, x.id AS entity_id, 'create' AS op,"
        " '*' AS field, null AS before, x.h_after AS after, x.h_actor AS actor,"
        " x.h_source AS source, x.h_run AS run_id, x.h_req AS request_id, x.h_at AS at,"
        " x.h_reason AS reason"
    )
    _HISTORY_FIELDS = (
        "h.seq AS seq, h.entity_kind AS entity_kind, h.entity_id AS entity_id, h.op AS op,"
        " h.field AS field, h.before AS before, h.after AS after, h.actor AS actor,"
        " h.source AS source, h.run_id AS run_id, h.request_id AS request_id, h.at AS at,"
        " h.reason AS reason"
    )

    @staticmethod
    def _entry(r: dict[str, Any]) -> HistoryEntry:
        return HistoryEntry(
            seq=r["seq"],
            entity_kind=EntityKind(r["entity_kind"]),
            entity_id=r["entity_id"],
            op=HistoryOp(r["op"]),
            field=r["field"],
            before=None if r["before"] is None else orjson.loads(r["before"]),
            after=None if r["after"] is None else orjson.loads(r["after"]),
            actor=r["actor"],
            source=r["source"],
            run_id=r["run_id"],
            request_id=r["request_id"],
            at=from_text(r["at"]),
            reason=r["reason"],
        )

    def _history_query(self, where_ci: str, where_rel: str, where_h: str, tail: str) -> str:
        ci_fields = self._CREATION_FIELDS.replace("h_seq AS", "x.h_seq AS").format(kind="ci")
        rel_fields = self._CREATION_FIELDS.replace("h_seq AS", "x.h_seq AS").format(kind="rel")
        branches = [f"MATCH (x:CI) WHERE {where_ci} RETURN {ci_fields}"]
        branches += [
            f"MATCH ()-[x:{t}]->() WHERE {where_rel} RETURN {rel_fields}" for t in cypher.ALL_TYPES
        ]
        branches.append(f"MATCH (h:History) WHERE {where_h} RETURN {self._HISTORY_FIELDS}")
        return "CALL () { " + " UNION ALL ".join(branches) + " } RETURN * " + tail

    def history(self, entity_id: str) -> list[HistoryEntry]:
        q = self._history_query(
            "x.id = $id AND x.h_seq IS NOT NULL",
            "x.id = $id AND x.h_seq IS NOT NULL",
            "h.entity_id = $id",
            "ORDER BY seq",
        )
        return [self._entry(r) for r in self._rows(q, id=entity_id)]

    def iter_history(self, *, after_seq: int = 0, batch: int = 5000) -> Iterator[HistoryEntry]:
        last = after_seq
        q = self._history_query(
            "x.h_seq > $after", "x.h_seq > $after", "h.seq > $after", "ORDER BY seq LIMIT $n"
        )
        while True:
            rows = self._rows(q, after=last, n=batch)
            if not rows:
                return
            for r in rows:
                yield self._entry(r)
            last = rows[-1]["seq"]

    def _replayed(self, kind: EntityKind, as_of: datetime, ids: Sequence[str] | None) -> Replayed:
        at = to_text(as_of)
        id_filter = "" if ids is None else " AND x.id IN $ids"
        h_filter = "" if ids is None else " AND h.entity_id IN $ids"
        if kind is EntityKind.CI:
            where_ci, where_rel = f"x.h_at <= $at{id_filter}", "false"
        else:
            where_ci, where_rel = "false", f"x.h_at <= $at{id_filter}"
        q = self._history_query(
            where_ci,
            where_rel,
            f"h.entity_kind = $kind AND h.at <= $at{h_filter}",
            "ORDER BY seq",
        )
        rows = self._rows(q, at=at, ids=list(ids or []), kind=kind.value)
        return asof.replay((r["entity_id"], r["op"], r["field"], r["after"], r["at"]) for r in rows)

    def _cis_as_of(self, ids: Sequence[str], as_of: datetime) -> dict[str, CI]:
        if not ids:
            return {}
        return asof.cis_of(self._replayed(EntityKind.CI, as_of, ids))

    def _rels_as_of(
        self, as_of: datetime, ids: Sequence[str] | None = None
    ) -> dict[str, Relationship]:
        return asof.rels_of(self._replayed(EntityKind.REL, as_of, ids))

    # -- summaries, records, snapshots -------------------------------------------------
    def counts(self) -> Counts:
        by_class = self._rows("MATCH (c:CI) RETURN c.class AS k, count(*) AS n")
        by_status = self._rows("MATCH (c:CI) RETURN c.status AS k, count(*) AS n")
        by_type = self._rows(
            f"MATCH ()-[r:{cypher.type_union(None)}]->() RETURN type(r) AS k, count(*) AS n"
        )
        return Counts(
            by_class={r["k"]: r["n"] for r in by_class},
            by_status={r["k"]: r["n"] for r in by_status},
            relationships_by_type={r["k"]: r["n"] for r in by_type},
        )

    def _record_docs(
        self, label: str, ci_id: str | None, where: str | None = None, **params: Any
    ) -> list[str]:
        """The documents of ``label`` (naming ``ci_id``; meeting ``where`` on ``x``)."""
        assert label in cypher.RECORD_LABELS
        match = f"MATCH (x:{label})"
        if ci_id is not None:
            match += "-[:CONCERNS]->(:CI {id: $ci})"
        cond = f" WHERE {where}" if where else ""
        # In chunks: a record per document cost the driver ~40 us each (a month of a busy
        # desk's incidents is thousands).
        q = cypher.chunked(f"{match}{cond} WITH x ORDER BY x.id", "x.doc", by="x")
        docs: list[str] = self._chunked(q, ci=ci_id, **params)
        return docs

    def get_change(self, change_id: str) -> Change:
        rows = self._rows("MATCH (x:Change {id: $id}) RETURN x.doc AS doc", id=change_id)
        if not rows:
            raise NotFound(f"no change {change_id}", where="id")
        return Change.model_validate_json(rows[0]["doc"])

    def list_changes(self, *, ci_id: str | None = None) -> list[Change]:
        return [Change.model_validate_json(d) for d in self._record_docs("Change", ci_id)]

    def get_incident(self, incident_id: str) -> Incident:
        rows = self._rows("MATCH (x:Incident {id: $id}) RETURN x.doc AS doc", id=incident_id)
        if not rows:
            raise NotFound(f"no incident {incident_id}", where="id")
        return Incident.model_validate_json(rows[0]["doc"])

    def list_incidents(
        self,
        *,
        ci_id: str | None = None,
        open_only: bool = False,
        resolved_since: datetime | None = None,
    ) -> list[Incident]:
        if open_only:
            docs = self._record_docs("Incident", ci_id, "x.state = 'open'")
        elif resolved_since is not None and self._applied(LIVE_MIGRATION):
            # Through the live_until index. Every incident has one once 0011 has run (a
            # graph-cmdb older than it writes none: `cmdb db migrate` after upgrading sets
            # them; reading those too was a scan of every incident, 45 ms at 100k).
            docs = self._record_docs(
                "Incident", ci_id, "x.live_until >= $since", since=resolved_since
            )
        else:
            docs = self._record_docs("Incident", ci_id)
        out = decode.incidents(docs)
        if open_only:
            out = [i for i in out if i.state is IncidentState.OPEN]
        return still_live(out, resolved_since)

    def get_problem(self, problem_id: str) -> Problem:
        rows = self._rows("MATCH (x:Problem {id: $id}) RETURN x.doc AS doc", id=problem_id)
        if not rows:
            raise NotFound(f"no problem {problem_id}", where="id")
        return Problem.model_validate_json(rows[0]["doc"])

    def list_problems(self, *, ci_id: str | None = None) -> list[Problem]:
        return [Problem.model_validate_json(d) for d in self._record_docs("Problem", ci_id)]

    def get_run(self, run_id: str) -> DiscoveryRun:
        rows = self._rows("MATCH (x:DiscoveryRun {id: $id}) RETURN x.doc AS doc", id=run_id)
        if not rows:
            raise NotFound(f"no discovery run {run_id}", where="id")
        return DiscoveryRun.model_validate_json(rows[0]["doc"])

    def list_runs(
        self, *, source: str | None = None, scope: str | None = None, limit: int = 50
    ) -> list[DiscoveryRun]:
        if limit < 1 or limit > 10_000:
            raise InvalidInput("limit must be between 1 and 10000", where="limit")
        rows = self._rows(cypher.LIST_RUNS, source=source, scope=scope, limit=limit)
        return [DiscoveryRun.model_validate_json(r["doc"]) for r in rows]

    def is_empty(self) -> bool:
        rows = self._rows(
            "OPTIONAL MATCH (n) WHERE n:CI OR n:History OR n:Change OR n:Incident"
            " OR n:Problem OR n:DiscoveryRun "
            "WITH n LIMIT 1 RETURN n IS NULL AS empty"
        )
        return bool(rows[0]["empty"])

    def restore(self, batch: SnapshotBatch) -> None:
        # A creation row for an entity in this batch goes onto the entity, as apply does;
        # any other row (and creations of entities restored in another call) becomes a
        # History node, which every history read also understands.
        held = {c.id for c in batch.cis} | {r.id for r in batch.relationships}
        creates = {
            h.entity_id: h
            for h in batch.history
            if h.op is HistoryOp.CREATE
            and h.entity_kind in (EntityKind.CI, EntityKind.REL)
            and h.entity_id in held
        }

        def creation(entity_id: str) -> dict[str, Any]:
            h = creates.get(entity_id)
            if h is None:
                return {}
            return {
                "h_seq": h.seq,
                "h_at": to_text(h.at),
                "h_actor": h.actor,
                "h_source": h.source,
                "h_run": h.run_id,
                "h_req": h.request_id,
                "h_reason": h.reason,
                "h_after": _j(h.after),
            }

        def work(tx: ManagedTransaction) -> None:
            meta = tx.run(cypher.META).single(strict=True)
            gen = int(meta["gen"])
            clash = tx.run(
                cypher.RESTORE_CLASH,
                cis=[c.id for c in batch.cis],
                rels=[r.id for r in batch.relationships],
                seqs=[h.seq for h in batch.history],
            ).single(strict=True)
            if clash["n"]:
                raise InvalidInput(
                    f"the snapshot clashes with what the store holds: {clash['first']} "
                    "already exists (restore only into a store that does not hold it)"
                )
            by_class: dict[str, list[dict[str, Any]]] = defaultdict(list)
            idents: list[dict[str, Any]] = []
            for ci in batch.cis:
                props = {**_ci_props(ci, gen), **creation(ci.id)}
                made = creates.get(ci.id)
                after = (made.after if made else None) or ci.field_values()
                first = next(
                    (
                        Identifier.model_validate(i)
                        for i in after.get("identifiers", [])
                        if Identifier.model_validate(i).unique
                    ),
                    None,
                )
                if first is not None:
                    props["pkey"] = str(first)
                for i in ci.identifiers:
                    if str(i) != props.get("pkey"):
                        idents.append(
                            {
                                "key": str(i),
                                "kind": i.kind.value,
                                "value": i.value,
                                "ci": ci.id,
                                "unique": i.unique,
                            }
                        )
                by_class[ci.ci_class].append(props)
            for ci_class, rows in by_class.items():
                tx.run(cypher.create_cis(ci_class), rows=_Quiet(rows)).consume()
            if idents:
                tx.run(cypher.ADD_IDENTS, rows=_Quiet(idents)).consume()
            by_type: dict[tuple[str, bool], list[dict[str, Any]]] = defaultdict(list)
            for rel in batch.relationships:
                props = {**_rel_props(rel, gen), **creation(rel.id)}
                by_type[(rel.type, rel.active)].append(
                    {"id": rel.id, "s": rel.source_id, "t": rel.target_id, "props": props}
                )
            for (rtype, active), rows in by_type.items():
                tx.run(cypher.create_rels(rtype, active), rows=_Quiet(rows)).consume()
            _upsert_records(tx, batch.changes, batch.incidents, batch.problems)
            rows = [
                {
                    "seq": h.seq,
                    "entity_kind": h.entity_kind.value,
                    "entity_id": h.entity_id,
                    "op": h.op.value,
                    "field": h.field,
                    "before": _j(h.before),
                    "after": _j(h.after),
                    "actor": h.actor,
                    "source": h.source,
                    "run_id": h.run_id,
                    "request_id": h.request_id,
                    "at": to_text(h.at),
                    "reason": h.reason,
                }
                for h in batch.history
                if h.entity_id not in creates or h.op is not HistoryOp.CREATE
            ]
            if rows:
                tx.run(cypher.CREATE_HISTORY, rows=_Quiet(rows)).consume()
            seq = max([int(meta["seq"]), *(h.seq for h in batch.history)])
            last = max([meta["last_at"], *(to_text(h.at) for h in batch.history)])
            tx.run(cypher.SET_META, seq=seq, last_at=last).consume()

        self._write(work)


def _guard(tx: ManagedTransaction, guard: Guard) -> None:
    # After cypher.META has locked the meta node: every write waits for this one, so the
    # MERGE below cannot race another and the value read is the committed one.
    row = tx.run(
        "MERGE (g:CmdbGuard {name: $name}) ON CREATE SET g.value = 0 RETURN g.value AS v",
        name=guard.name,
    ).single(strict=True)
    value = guards.checked(guard, int(row["v"]))
    tx.run("MATCH (g:CmdbGuard {name: $name}) SET g.value = $v", name=guard.name, v=value).consume()
