"""Turns a change set into the exact writes a store must make, the same way for every store.

Both stores load what a batch touches (in one or two queries), hand it to ``plan`` and
write the result in the same transaction. Because identification, merging, governance and
history are decided here once, the embedded and the Neo4j store cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import orjson
from pydantic import ValidationError
from pydantic_core import to_jsonable_python

from cmdb.domain.changeset import ApplyResult, ChangeSet, CIRef, CIUpsert, Miss, Precedence, Touch
from cmdb.domain.errors import IdentityConflict, InvalidInput, NotFound, WriteConflict
from cmdb.domain.history import EntityKind, HistoryOp
from cmdb.domain.identifiers import Identifier
from cmdb.domain.model import (
    CI,
    CI_FIELDS,
    RETIRED_STATUSES,
    LifecycleStatus,
    Provenance,
    Relationship,
    RelationshipStatus,
    Sighting,
    new_ci_id,
    relationship_id,
)
from cmdb.domain.records import Change, DiscoveryRun, Incident, Problem, Record
from cmdb.domain.relationships import check_allowed, get_type
from cmdb.store.fresh import new_ci, new_rel

IdentKey = tuple[str, str]
_ID_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
_UPSERT_SCALARS = (
    "name",
    "description",
    "status",
    "owner",
    "location",
    "version",
    "environment",
    "criticality",
    "redundancy",
    "service",
    "agreements",
)


R = TypeVar("R", Change, Incident, Problem)


@dataclass(frozen=True, slots=True)
class CIHead:
    """What a relationship needs of each end: which CI, its class, whether it is retired.

    A batch of relationships reads only these (stored beside each document), not the
    documents themselves: decoding both ends' whole CIs was most of planning an edge."""

    id: str
    ci_class: str
    status: LifecycleStatus


@dataclass
class Loaded:
    """What the store read for a batch: CIs by id, unique identifiers, relationships."""

    cis: dict[str, CI] = field(default_factory=dict)
    idents: dict[IdentKey, str] = field(default_factory=dict)
    rels: dict[str, Relationship] = field(default_factory=dict)
    # One source's sightings of CIs only touched or missed (their documents stay unread).
    sightings: dict[str, Sighting | None] = field(default_factory=dict)
    # Relationship ends not otherwise loaded.
    heads: dict[str, CIHead] = field(default_factory=dict)


class Loader:
    """The store's read side during a write transaction."""

    def load_cis(self, ids: set[str]) -> dict[str, CI]:
        raise NotImplementedError

    def load_idents(self, keys: set[IdentKey]) -> dict[IdentKey, str]:
        raise NotImplementedError

    def load_heads(self, ids: set[str]) -> dict[str, CIHead]:
        """Id, class and status of each CI that exists; stores answer it without
        parsing documents."""
        return {i: CIHead(c.id, c.ci_class, c.status) for i, c in self.load_cis(ids).items()}

    def load_rels(self, ids: set[str]) -> dict[str, Relationship]:
        raise NotImplementedError

    def load_rels_touching(self, ci_ids: set[str]) -> dict[str, Relationship]:
        """The active relationships with either end in ``ci_ids``."""
        raise NotImplementedError

    def load_changes(self, ids: set[str]) -> dict[str, Change]:
        raise NotImplementedError

    def load_incidents(self, ids: set[str]) -> dict[str, Incident]:
        raise NotImplementedError

    def load_problems(self, ids: set[str]) -> dict[str, Problem]:
        raise NotImplementedError

    def load_sightings(self, ids: set[str], source: str) -> dict[str, Sighting | None]:
        """One source's sighting of each CI that exists (None: never seen by it). Stores
        answer this without parsing whole CI documents: it is what a re-run touches."""
        return {ci_id: ci.sources.get(source) for ci_id, ci in self.load_cis(ids).items()}


@dataclass(slots=True)  # one per history row: tens of thousands in a bulk batch
class PendingHistory:
    entity_kind: EntityKind
    entity_id: str
    op: HistoryOp
    field: str
    before: Any
    after: Any


@dataclass
class SightingWrite:
    """A CI whose only change is one source's sighting (and, on a stale flip, updated_at)."""

    source: str
    sighting: Sighting
    updated_at: datetime | None = None


@dataclass
class Plan:
    """The writes: final states of touched entities, new identifier rows, history rows.

    ``sightings`` are CIs not in ``cis`` whose one change is a source's sighting: stores
    patch that into the stored document instead of rewriting it.
    """

    cis: dict[str, CI] = field(default_factory=dict)
    created_cis: set[str] = field(default_factory=set)
    new_idents: list[tuple[str, str, str, bool]] = field(
        default_factory=list
    )  # kind, value, ci, unique
    rels: dict[str, Relationship] = field(default_factory=dict)
    created_rels: set[str] = field(default_factory=set)
    # Existing relationships whose status differs after the batch (retired or reactivated).
    status_changed_rels: set[str] = field(default_factory=set)
    changes: dict[str, Change] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    problems: dict[str, Problem] = field(default_factory=dict)
    # Discovery run records: stored as given, without history (they are bookkeeping).
    runs: dict[str, DiscoveryRun] = field(default_factory=dict)
    sightings: dict[str, SightingWrite] = field(default_factory=dict)
    history: list[PendingHistory] = field(default_factory=list)
    result: ApplyResult = field(default_factory=ApplyResult)


def _key(ident: Identifier) -> IdentKey:
    # ``_value_`` is where Enum keeps a member's value; ``.value`` reaches it through a
    # Python-level descriptor, ~1 us a call on Python 3.11, and this runs for every
    # identifier and reference of a batch (a fifth of planning a 5k-CI batch).
    return (ident.kind._value_, ident.value)


def _seen(
    old: Sighting | None,
    seen: datetime,
    run_id: str | None,
    scope: str | None,
    content_hash: str | None,
) -> Sighting:
    """The source saw it: the newest observation sets run, scope and hash and clears misses;
    an older one arriving late only widens ``first_seen``."""
    if old is None:
        return Sighting(
            first_seen=seen, last_seen=seen, run_id=run_id, scope=scope, content_hash=content_hash
        )
    if seen >= old.last_seen:
        return Sighting(
            first_seen=min(old.first_seen, seen),
            last_seen=seen,
            run_id=run_id,
            scope=scope,
            content_hash=content_hash,
        )
    return old.model_copy(update={"first_seen": min(old.first_seen, seen)})


def _sight(
    sources: dict[str, Sighting],
    source: str,
    seen: datetime,
    run_id: str | None,
    scope: str | None = None,
    content_hash: str | None = None,
) -> dict[str, Sighting]:
    return {**sources, source: _seen(sources.get(source), seen, run_id, scope, content_hash)}


def may_write(
    ci: CI | None, field_key: str, source: str, seen: datetime, precedence: Precedence | None
) -> bool:
    """Whether ``source``, observing at ``seen``, may set one field of ``ci``.

    The field's last writer is its provenance. A policy's rank decides first: a source
    that outranks the last writer overwrites it whenever its write arrives (ranking
    before time is what makes the result independent of arrival order), and one it
    outranks may not, unless the last writer is stale on this CI. Otherwise (equal ranks:
    the same source, two unlisted ones, no policy; or a stale owner) the newer
    observation wins, and an older one never overwrites it.
    """
    prov = ci.provenance.get(field_key) if ci is not None else None
    if prov is None:
        return True
    if prov.source != source and precedence is not None and ci is not None:
        old_rank = precedence.rank(field_key, prov.source)
        new_rank = precedence.rank(field_key, source)
        if new_rank is not None and (old_rank is None or new_rank < old_rank):
            return True
        if old_rank is not None and (new_rank is None or old_rank < new_rank):
            owner = ci.sources.get(prov.source)
            if owner is None or not owner.stale:
                return False
    # A source that saw the CI again unchanged (a touch) observed its own fields again then.
    writer = ci.sources.get(prov.source) if ci is not None else None
    observed = max(prov.observed_at, writer.last_seen) if writer is not None else prov.observed_at
    return seen >= observed


def _differs(b: Any, a: Any) -> bool:
    """JSON inequality. Python's == calls 1, 1.0 and true equal, but they are stored (and
    replayed) as different values, so a change between them must reach history."""
    if b != a or type(b) is not type(a):
        return True
    if isinstance(a, dict | list):
        return orjson.dumps(b, option=orjson.OPT_SORT_KEYS) != orjson.dumps(
            a, option=orjson.OPT_SORT_KEYS
        )
    return False


def diff_fields(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Field-level differences; attributes are compared key by key."""
    out: list[tuple[str, Any, Any]] = []
    for name in after:
        b, a = before.get(name), after.get(name)
        if name == "attributes":
            b_attrs: dict[str, Any] = b or {}
            a_attrs: dict[str, Any] = a or {}
            for k in sorted(set(b_attrs) | set(a_attrs)):
                if _differs(b_attrs.get(k), a_attrs.get(k)) or (k in b_attrs) != (k in a_attrs):
                    out.append((f"attributes.{k}", b_attrs.get(k), a_attrs.get(k)))
        elif _differs(b, a):
            out.append((name, b, a))
    return out


class _Planner:
    def __init__(self, cs: ChangeSet, loader: Loader, now: datetime) -> None:
        self.cs = cs
        self.loader = loader
        self.now = now
        self.seen = cs.observed_at or now
        self.plan = Plan()
        self.loaded = Loaded()
        self._first: Sighting | None = None
        # One Provenance for every field this batch writes: they are all equal, and, as
        # Sightings, never changed in place.
        self._mark = Provenance(source=cs.source, observed_at=self.seen)

    def _sighted(
        self, sources: dict[str, Sighting], content_hash: str | None = None
    ) -> dict[str, Sighting]:
        """``sources`` with this batch's sighting by its source. Every entity this source
        sees for the first time, with no content hash (each relationship, most created
        CIs), gets the same Sighting: they are equal, and no code changes a Sighting in
        place (a change is a new one or a ``model_copy``), as one CI's fields already
        share one Provenance. Validating one per entity was ~4 % of a bulk ingest."""
        old = sources.get(self.cs.source)
        if old is None and content_hash is None:
            if self._first is None:
                self._first = _seen(None, self.seen, self.cs.run_id, self.cs.scope, None)
            return {**sources, self.cs.source: self._first}
        new = _seen(old, self.seen, self.cs.run_id, self.cs.scope, content_hash)
        return {**sources, self.cs.source: new}

    # -- loading -----------------------------------------------------------------------
    def _prefetch(self) -> None:
        ids: set[str] = set()
        keys: set[IdentKey] = set()
        refs: list[CIRef] = [r.ref for r in self.cs.ci_retires]
        light = [t.ref for t in self.cs.touches] + [m.ref for m in self.cs.misses]
        # Each reference object once: a batch names a CI in several edges, often through
        # the same CIRef.
        by_ref: dict[int, CIRef] = {}
        pairs = [(r.source, r.target) for r in self.cs.rel_upserts]
        pairs += [(r.source, r.target) for r in self.cs.rel_retires]
        for source, target in pairs:
            by_ref[id(source)] = source
            by_ref[id(target)] = target
        ends = list(by_ref.values())
        keys.update(_key(r.identifier) for r in ends if r.identifier is not None)
        full_keys: set[IdentKey] = set()  # what an upsert or a retirement reads in full
        for up in self.cs.ci_upserts:
            if up.id:
                ids.add(up.id)
            for ident in up.identifiers:
                if ident.unique:
                    full_keys.add(_key(ident))
        for ref in refs:
            if ref.id:
                ids.add(ref.id)
            elif ref.identifier is not None:
                full_keys.add(_key(ref.identifier))
        keys.update(full_keys)
        keys.update(_key(r.identifier) for r in light if r.identifier is not None)
        linked: list[Record] = [*self.cs.changes, *self.cs.incidents, *self.cs.problems]
        for rec in linked:
            ids.update(rec.ci_ids)
            ids.update(rec.service_ids)
        self.loaded.idents = self.loader.load_idents(keys) if keys else {}
        ids.update(v for k, v in self.loaded.idents.items() if k in full_keys)
        self.loaded.cis = self.loader.load_cis(ids) if ids else {}
        head_ids = {i for r in ends if (i := self._ref_id(r)) is not None} - ids
        if head_ids:
            self.loaded.heads = self.loader.load_heads(head_ids)
        # Touched or missed only: one source's sighting is all that is read (and written).
        light_ids = {i for r in light if (i := self._ref_id(r)) is not None} - ids
        if light_ids:
            self.loaded.sightings = self.loader.load_sightings(light_ids, self.cs.source)

    # -- CIs ---------------------------------------------------------------------------
    def _ci(self, ci_id: str) -> CI | None:
        return self.plan.cis.get(ci_id) or self.loaded.cis.get(ci_id)

    def _identify(self, up: CIUpsert, where: str) -> str | None:
        matched = {
            self.loaded.idents[k]
            for i in up.identifiers
            if i.unique
            if (k := _key(i)) in self.loaded.idents
        }
        if up.id is not None:
            others = matched - {up.id}
            if others:
                raise IdentityConflict(
                    f"identifiers given for {up.id} already belong to {', '.join(sorted(others))}",
                    where=where,
                )
            return up.id
        if len(matched) > 1:
            raise IdentityConflict(
                "these identifiers belong to different CIs: "
                + ", ".join(sorted(matched))
                + " (merge them first, or correct the source)",
                where=where,
            )
        return next(iter(matched), None)

    def _upsert(self, idx: int, up: CIUpsert) -> str:
        where = f"ci_upserts[{idx}]"
        ci_id = self._identify(up, where)
        existing = self._ci(ci_id) if ci_id else None
        if ci_id is None:
            ci_id = new_ci_id()
        elif not _ID_RE.match(ci_id):
            raise InvalidInput(f"{ci_id!r} is not a valid CI id", where=f"{where}.id")
        given = up.model_fields_set
        if existing is None:
            # updated_at given, not assigned after: an assignment is pydantic's __setattr__.
            values: dict[str, Any] = {
                "id": ci_id,
                "class": up.ci_class,
                "created_at": self.now,
                "updated_at": self.now,
            }
            before_fields: dict[str, Any] = {}
            sources: dict[str, Sighting] = {}
            prov: dict[str, Provenance] = {}
        else:
            if existing.ci_class != up.ci_class:
                raise InvalidInput(
                    f"{existing.label()} is a {existing.ci_class}, not a {up.ci_class}; "
                    "a CI's class does not change in an upsert",
                    where=f"{where}.class",
                )
            values = existing.model_dump(by_alias=True)
            before_fields = existing.field_values()
            sources = existing.sources
            prov = dict(existing.provenance)
        mark = self._mark
        # A new CI has no field's last writer: every source may write it (may_write).
        for name in _UPSERT_SCALARS:
            if (name in given or (existing is None and name == "name")) and (
                existing is None or self._may(existing, name)
            ):
                values[name] = getattr(up, name)
                prov[name] = mark
        attrs = dict(values.get("attributes") or {})
        for k, v in up.attributes.items():
            if existing is not None and not self._may(existing, f"attributes.{k}"):
                continue
            if v is None:
                attrs.pop(k, None)
            else:
                attrs[k] = v
            prov[f"attributes.{k}"] = mark
        values["attributes"] = attrs
        values["provenance"] = prov
        idents = [*(values.get("identifiers") or []), *up.identifiers]
        values["identifiers"] = idents
        values["sources"] = self._sighted(sources, up.content_hash)
        try:
            # A new CI from a validated upsert is built directly (see cmdb.store.fresh).
            made = new_ci(values) if existing is None else None
            ci = made if made is not None else CI.model_validate(values)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise InvalidInput(err["msg"], where=f"{where}.{loc}" if loc else where) from exc
        after_fields = ci.field_values()
        changes = diff_fields(before_fields, after_fields) if existing else []
        if existing is not None and self._unstaled(existing, ci):
            ci.updated_at = self.now
        if existing is None:
            self.plan.created_cis.add(ci_id)
            self.plan.result.created += 1
            self.plan.history.append(
                PendingHistory(EntityKind.CI, ci_id, HistoryOp.CREATE, "*", None, after_fields)
            )
        elif changes:
            ci.updated_at = self.now
            if ci_id not in self.plan.created_cis:
                self.plan.result.updated += 1
            for name, b, a in changes:
                self.plan.history.append(
                    PendingHistory(EntityKind.CI, ci_id, HistoryOp.UPDATE, name, b, a)
                )
        else:
            self.plan.result.unchanged += 1
        known = {_key(i) for i in (existing.identifiers if existing else [])}
        for ident in ci.identifiers:
            ikey = _key(ident)
            if ikey not in known:
                self.plan.new_idents.append((ikey[0], ikey[1], ci_id, ident.unique))
                known.add(ikey)
                if ident.unique:
                    self.loaded.idents[ikey] = ci_id
        self.plan.cis[ci_id] = ci
        return ci_id

    def _may(self, existing: CI | None, field_key: str) -> bool:
        ok = may_write(existing, field_key, self.cs.source, self.seen, self.cs.precedence)
        if not ok:
            self.plan.result.skipped_fields += 1
        return ok

    # -- discovery bookkeeping: sightings only, never a field ---------------------------
    def _stale_row(self, ci_id: str, before: bool, after: bool) -> None:
        # Its own field name keeps it out of as-of replay (not a CI field) but in the audit.
        self.plan.history.append(
            PendingHistory(
                EntityKind.CI, ci_id, HistoryOp.UPDATE, f"stale.{self.cs.source}", before, after
            )
        )

    def _unstaled(self, before: CI, after: CI) -> bool:
        old, new = before.sources.get(self.cs.source), after.sources.get(self.cs.source)
        if old is not None and old.stale and new is not None and not new.stale:
            self._stale_row(after.id, True, False)
            return True
        return False

    def _ref_id(self, ref: CIRef) -> str | None:
        if ref.id is not None:
            return ref.id
        assert ref.identifier is not None
        return self.loaded.idents.get(_key(ref.identifier))

    def _sighting_of(self, ref: CIRef, where: str) -> tuple[str, Sighting | None, CI | None]:
        """The CI's id, this source's sighting of it, and the CI if it is loaded in full."""
        ci_id = self._ref_id(ref)
        ci = self._ci(ci_id) if ci_id else None
        if ci_id is not None and ci is not None:
            return ci_id, ci.sources.get(self.cs.source), ci
        if ci_id is None or ci_id not in self.loaded.sightings:
            raise NotFound(f"no CI {ref}", where=where)
        done = self.plan.sightings.get(ci_id)
        return ci_id, done.sighting if done else self.loaded.sightings[ci_id], None

    def _set_sighting(self, ci_id: str, ci: CI | None, new: Sighting, flipped: bool) -> None:
        updated = self.now if flipped else None
        if ci is not None:
            change: dict[str, Any] = {"sources": {**ci.sources, self.cs.source: new}}
            if flipped:
                change["updated_at"] = self.now
            self.plan.cis[ci_id] = ci.model_copy(update=change)
            return
        done = self.plan.sightings.get(ci_id)
        if done is not None and done.updated_at is not None:
            updated = done.updated_at
        self.plan.sightings[ci_id] = SightingWrite(self.cs.source, new, updated)

    def _touch(self, idx: int, touch: Touch) -> None:
        ci_id, old, ci = self._sighting_of(touch.ref, f"touches[{idx}].ref")
        digest = touch.content_hash
        if digest is None and old is not None:
            digest = old.content_hash
        new = _seen(old, self.seen, self.cs.run_id, self.cs.scope, digest)
        flipped = old is not None and old.stale and not new.stale
        if flipped:
            self._stale_row(ci_id, True, False)
        self._set_sighting(ci_id, ci, new, flipped)
        self.plan.result.touched += 1

    def _miss(self, idx: int, miss: Miss) -> None:
        ci_id, old, ci = self._sighting_of(miss.ref, f"misses[{idx}].ref")
        if (
            old is None
            or old.scope != self.cs.scope
            or (self.cs.run_id is not None and old.run_id == self.cs.run_id)
        ):
            return  # never seen by this source, last seen in another scope, or in this run
        missed = old.missed_runs + 1
        stale = old.stale or missed >= miss.stale_after
        flipped = stale and not old.stale
        if flipped:
            self._stale_row(ci_id, False, True)
            self.plan.result.marked_stale += 1
        new = old.model_copy(update={"missed_runs": missed, "stale": stale})
        self._set_sighting(ci_id, ci, new, flipped)

    def _resolve(self, ref: CIRef, where: str) -> CI:
        ci_id = self._ref_id(ref)
        ci = self._ci(ci_id) if ci_id else None
        if ci is None:
            raise NotFound(f"no CI {ref}", where=where)
        return ci

    def _end(self, ref: CIRef, where: str) -> CI | CIHead:
        """A relationship's end: as this batch leaves it, else as stored."""
        ci_id = self._ref_id(ref)
        found = (self._ci(ci_id) or self.loaded.heads.get(ci_id)) if ci_id else None
        if found is None:
            raise NotFound(f"no CI {ref}", where=where)
        return found

    def _retire_ci(self, idx: int, ref: CIRef, status: LifecycleStatus) -> None:
        ci = self._resolve(ref, f"ci_retires[{idx}].ref")
        if ci.status == status:
            return
        if ci.status in RETIRED_STATUSES and status == LifecycleStatus.WITHDRAWN:
            return  # already further along (disposed); never walk a CI back by retiring
        new = ci.model_copy(update={"status": status, "updated_at": self.now})
        self.plan.history.append(
            PendingHistory(
                EntityKind.CI, ci.id, HistoryOp.RETIRE, "status", ci.status.value, status.value
            )
        )
        self.plan.cis[ci.id] = new
        self.plan.result.retired += 1

    # -- relationships -----------------------------------------------------------------
    def _rels(self) -> None:
        # Each reference object looked up once: a batch names a CI in several edges, often
        # through the same CIRef, and nothing the lookup reads changes in these loops.
        seen: dict[int, CI | CIHead] = {}

        def end(ref: CIRef, where: str, side: str) -> CI | CIHead:
            found = seen.get(id(ref))
            if found is None:
                found = seen[id(ref)] = self._end(ref, f"{where}.{side}")
            return found

        ends: list[tuple[str, CI | CIHead, CI | CIHead]] = []
        for idx, r in enumerate(self.cs.rel_upserts):
            where = f"rel_upserts[{idx}]"
            ends.append((where, end(r.source, where, "source"), end(r.target, where, "target")))
        retire_ends: list[tuple[str, CI | CIHead, CI | CIHead]] = []
        for idx, rr in enumerate(self.cs.rel_retires):
            where = f"rel_retires[{idx}]"
            retire_ends.append(
                (
                    where,
                    self._end(rr.source, f"{where}.source"),
                    self._end(rr.target, f"{where}.target"),
                )
            )
        # Each id once (a sha256): the loader needs them all before any upsert is planned.
        rids = [
            relationship_id(get_type(r.type).name, s.id, t.id)
            for (_, s, t), r in zip(ends, self.cs.rel_upserts, strict=True)
        ]
        ids = set(rids)
        for (_, s, t), rr in zip(retire_ends, self.cs.rel_retires, strict=True):
            ids.add(relationship_id(get_type(rr.type).name, s.id, t.id))
        self.loaded.rels = self.loader.load_rels(ids) if ids else {}
        for (where, s, t), r, rid in zip(ends, self.cs.rel_upserts, rids, strict=True):
            self.plan.result.rel_ids.append(
                self._upsert_rel(where, r.type, s, t, r.confidence, r.attributes, rid)
            )
        for (where, s, t), rr in zip(retire_ends, self.cs.rel_retires, strict=True):
            self._retire_rel(where, rr.type, s, t)

    def _upsert_rel(
        self,
        where: str,
        type_name: str,
        s: CI | CIHead,
        t: CI | CIHead,
        confidence: float | None,
        attrs: dict[str, Any],
        rid: str | None = None,  # relationship_id(type, s, t) when the caller has it
    ) -> str:
        try:
            rtype = check_allowed(type_name, s.ci_class, t.ci_class)
        except InvalidInput as exc:
            exc.where = f"{where}.type"
            raise
        if s.id == t.id:
            raise InvalidInput("a CI cannot relate to itself", where=where)
        if rid is None:
            rid = relationship_id(rtype.name, s.id, t.id)
        existing = self.plan.rels.get(rid) or self.loaded.rels.get(rid)
        # No active edge touches a retired CI (see _cascade): one reported to or from a
        # withdrawn or disposed CI is kept, retired, so the order of writes does not matter.
        status = (
            RelationshipStatus.RETIRED
            if s.status in RETIRED_STATUSES or t.status in RETIRED_STATUSES
            else RelationshipStatus.ACTIVE
        )
        if existing is None:
            merged_attrs = {k: v for k, v in attrs.items() if v is not None}
            conf = 1.0 if confidence is None else confidence
            rel = new_rel(
                id=rid,
                type=rtype.name,
                source_id=s.id,
                target_id=t.id,
                status=status,
                confidence=conf,
                attributes=merged_attrs,
                sources=self._sighted({}),
                created_at=self.now,
                updated_at=self.now,
            )
            self.plan.created_rels.add(rid)
            self.plan.result.rels_created += 1
            # Relationship.field_values of the new edge, from the values it was made of.
            after = {
                "type": rtype.name,
                "source_id": s.id,
                "target_id": t.id,
                "status": status._value_,
                "confidence": conf,
                "attributes": to_jsonable_python(merged_attrs) if merged_attrs else {},
            }
            self.plan.history.append(
                PendingHistory(EntityKind.REL, rid, HistoryOp.CREATE, "*", None, after)
            )
        else:
            merged = dict(existing.attributes)
            for k, v in attrs.items():
                if v is None:
                    merged.pop(k, None)
                else:
                    merged[k] = v
            rel = existing.model_copy(
                update={
                    "status": status,
                    "confidence": existing.confidence if confidence is None else confidence,
                    "attributes": merged,
                    "sources": _sight(
                        existing.sources, self.cs.source, self.seen, self.cs.run_id, self.cs.scope
                    ),
                }
            )
            changes = diff_fields(existing.field_values(), rel.field_values())
            if changes:
                rel.updated_at = self.now
                if rid in self.plan.created_rels:
                    pass
                elif existing.active and not rel.active:
                    self.plan.result.rels_retired += 1
                else:
                    self.plan.result.rels_updated += 1
                for name, b, a in changes:
                    # Kept retired beside a retired CI: the same record as a retirement.
                    retiring = (name, a) == ("status", "retired")
                    op = HistoryOp.RETIRE if retiring else HistoryOp.UPDATE
                    self.plan.history.append(PendingHistory(EntityKind.REL, rid, op, name, b, a))
        self.plan.rels[rid] = rel
        return rid

    def _retire_rel(self, where: str, type_name: str, s: CI | CIHead, t: CI | CIHead) -> None:
        rid = relationship_id(get_type(type_name).name, s.id, t.id)
        existing = self.plan.rels.get(rid) or self.loaded.rels.get(rid)
        if existing is None:
            raise NotFound(f"no {type_name} relationship from {s.id} to {t.id}", where=where)
        if not existing.active:
            return
        self._retired_rel(rid, existing)

    def _retired_rel(self, rid: str, existing: Relationship) -> None:
        self.plan.rels[rid] = existing.model_copy(
            update={"status": RelationshipStatus.RETIRED, "updated_at": self.now}
        )
        self.plan.result.rels_retired += 1
        self.plan.history.append(
            PendingHistory(EntityKind.REL, rid, HistoryOp.RETIRE, "status", "active", "retired")
        )

    def _cascade(self) -> None:
        """A CI retired by this batch (withdrawn or disposed) takes its active relationships
        with it, in the same write: a disposed server hosts nothing, and an edge left active
        would keep carrying impact, and keep the CI off the orphan list, after it is gone."""
        gone = {
            cid
            for cid, ci in self.plan.cis.items()
            if ci.status in RETIRED_STATUSES
            and ((old := self.loaded.cis.get(cid)) is None or old.status not in RETIRED_STATUSES)
        }
        if not gone:
            return
        stored = self.loader.load_rels_touching(gone)
        for rid in sorted(stored):
            self.loaded.rels.setdefault(rid, stored[rid])
            if rid not in self.plan.rels:  # written by this batch: by the same rule already
                self._retired_rel(rid, stored[rid])

    # -- change and incident records ---------------------------------------------------
    def _records(self) -> None:
        self._kind(EntityKind.CHANGE, self.cs.changes, self.plan.changes, self.loader.load_changes)
        self._kind(
            EntityKind.INCIDENT, self.cs.incidents, self.plan.incidents, self.loader.load_incidents
        )
        self._kind(
            EntityKind.PROBLEM, self.cs.problems, self.plan.problems, self.loader.load_problems
        )

    def _kind(
        self,
        kind: EntityKind,
        recs: Sequence[R],
        planned: dict[str, R],
        load: Callable[[set[str]], dict[str, R]],
    ) -> None:
        """One kind of record: each written whole, with history of the fields it changed
        (a record given twice in one batch diffs against its first version)."""
        loaded = load({r.id for r in recs}) if recs else {}
        for idx, rec in enumerate(recs):
            self._record(kind, idx, rec, planned.get(rec.id) or loaded.get(rec.id))
            planned[rec.id] = rec

    def _record(
        self,
        kind: EntityKind,
        idx: int,
        rec: Record,
        old: Record | None,
    ) -> None:
        for ref in (*rec.ci_ids, *rec.service_ids):
            if self._ci(ref) is None:
                raise NotFound(f"no CI {ref}", where=f"{kind.value}s[{idx}]")
        for sid in rec.service_ids:
            ci = self._ci(sid)
            if ci is not None and ci.ci_class != "Service":
                raise InvalidInput(
                    f"{ci.label()} is not a Service",
                    where=f"{kind.value}s[{idx}].service_ids",
                )
        after = rec.model_dump(mode="json")
        if old is None:
            self.plan.history.append(
                PendingHistory(kind, rec.id, HistoryOp.CREATE, "*", None, after)
            )
            return
        for name, b, a in diff_fields(old.model_dump(mode="json"), after):
            self.plan.history.append(PendingHistory(kind, rec.id, HistoryOp.UPDATE, name, b, a))

    def _expected(self) -> None:
        """WriteConflict unless what the writer read is still so (``expect_cis``,
        ``expect_rels``, ``expect_changes``): read under the write lock, so no write
        lands in between."""
        moved: list[str] = []
        if self.cs.expect_cis:
            found = self.loader.load_cis(set(self.cs.expect_cis))
            for ci_id, at in sorted(self.cs.expect_cis.items()):
                ci = found.get(ci_id)
                if ci is None:
                    moved.append(f"CI {ci_id} is gone")
                elif ci.updated_at != at:
                    moved.append(f"{ci.label()} changed since")
        if self.cs.expect_rels:
            ends = {i for x in self.cs.expect_rels for i in (x.source_id, x.target_id)}
            active = self.loader.load_rels_touching(ends)
            for x in self.cs.expect_rels:
                if (relationship_id(get_type(x.type).name, x.source_id, x.target_id) in active) != (
                    x.active
                ):
                    state = "no longer" if x.active else "now"
                    moved.append(f"{x.source_id} -[{x.type}]-> {x.target_id} is {state} active")
        if self.cs.expect_changes:
            changes = self.loader.load_changes(set(self.cs.expect_changes))
            for change_id, expected in sorted(self.cs.expect_changes.items()):
                change = changes.get(change_id)
                if change is None:
                    moved.append(f"there is no change {change_id}")
                elif change.state is not expected:
                    moved.append(
                        f"change {change_id} is {change.state.value}, not {expected.value}"
                    )
        if moved:
            raise WriteConflict(
                f"changed since read: {'; '.join(moved)}; read again", where="expect"
            )

    def run(self) -> Plan:
        self._expected()
        self._prefetch()
        for idx, up in enumerate(self.cs.ci_upserts):
            self.plan.result.ci_ids.append(self._upsert(idx, up))
        for idx, ret in enumerate(self.cs.ci_retires):
            self._retire_ci(idx, ret.ref, ret.status)
        for idx, touch in enumerate(self.cs.touches):
            self._touch(idx, touch)
        for idx, miss in enumerate(self.cs.misses):
            self._miss(idx, miss)
        self._rels()
        self._cascade()
        self._records()
        for run in self.cs.runs:
            self.plan.runs[run.id] = run
        self.plan.status_changed_rels = {
            rid
            for rid, rel in self.plan.rels.items()
            if (old := self.loaded.rels.get(rid)) is not None and old.status != rel.status
        }
        self.plan.result.history_rows = len(self.plan.history)
        return self.plan


def plan(cs: ChangeSet, loader: Loader, now: datetime) -> Plan:
    return _Planner(cs, loader, now).run()


# -- replay: rebuilding an entity as of an instant from its history --------------------


def replay_fields(rows: Iterable[tuple[str, str, Any]]) -> dict[str, Any] | None:
    """Fold (op, field, after) rows in order into the entity's field values, or None."""
    values: dict[str, Any] | None = None
    for op, name, after in rows:
        if op == HistoryOp.CREATE.value:
            values = dict(after)
            continue
        if values is None:
            continue
        if name.startswith("attributes."):
            attrs = dict(values.get("attributes") or {})
            key = name.removeprefix("attributes.")
            if after is None:
                attrs.pop(key, None)
            else:
                attrs[key] = after
            values["attributes"] = attrs
        else:
            values[name] = after
    return values


def ci_from_fields(ci_id: str, values: dict[str, Any], created: datetime, updated: datetime) -> CI:
    data = {k: v for k, v in values.items() if k in CI_FIELDS and k != "ci_class"}
    return CI.model_validate(
        {
            **data,
            "id": ci_id,
            "class": values["ci_class"],
            "created_at": created,
            "updated_at": updated,
        }
    )


def rel_from_fields(
    rel_id: str, values: dict[str, Any], created: datetime, updated: datetime
) -> Relationship:
    return Relationship.model_validate(
        {**values, "id": rel_id, "created_at": created, "updated_at": updated}
    )


Clock = Callable[[], datetime]
