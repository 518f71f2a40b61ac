"""Turns a change set into the exact writes a store must make, the same way for every store.

Both stores load what a batch touches (in one or two queries), hand it to ``plan`` and
write the result in the same transaction. Because identification, merging, governance and
history are decided here once, the embedded and the Neo4j store cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from cmdb.domain.changeset import ApplyResult, ChangeSet, CIRef, CIUpsert
from cmdb.domain.errors import IdentityConflict, InvalidInput, NotFound
from cmdb.domain.history import EntityKind, HistoryOp
from cmdb.domain.identifiers import Identifier
from cmdb.domain.model import (
    CI,
    CI_FIELDS,
    RETIRED_STATUSES,
    LifecycleStatus,
    Relationship,
    RelationshipStatus,
    Sighting,
    new_ci_id,
    relationship_id,
)
from cmdb.domain.records import Change, Incident
from cmdb.domain.relationships import check_allowed, get_type

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


@dataclass
class Loaded:
    """What the store read for a batch: CIs by id, unique identifiers, relationships."""

    cis: dict[str, CI] = field(default_factory=dict)
    idents: dict[IdentKey, str] = field(default_factory=dict)
    rels: dict[str, Relationship] = field(default_factory=dict)
    changes: dict[str, Change] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)


class Loader:
    """The store's read side during a write transaction."""

    def load_cis(self, ids: set[str]) -> dict[str, CI]:
        raise NotImplementedError

    def load_idents(self, keys: set[IdentKey]) -> dict[IdentKey, str]:
        raise NotImplementedError

    def load_rels(self, ids: set[str]) -> dict[str, Relationship]:
        raise NotImplementedError

    def load_changes(self, ids: set[str]) -> dict[str, Change]:
        raise NotImplementedError

    def load_incidents(self, ids: set[str]) -> dict[str, Incident]:
        raise NotImplementedError


@dataclass
class PendingHistory:
    entity_kind: EntityKind
    entity_id: str
    op: HistoryOp
    field: str
    before: Any
    after: Any


@dataclass
class Plan:
    """The writes: final states of touched entities, new identifier rows, history rows."""

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
    history: list[PendingHistory] = field(default_factory=list)
    result: ApplyResult = field(default_factory=ApplyResult)


def _key(ident: Identifier) -> IdentKey:
    return (ident.kind.value, ident.value)


def _sight(
    sources: dict[str, Sighting], source: str, seen: datetime, run_id: str | None
) -> dict[str, Sighting]:
    out = dict(sources)
    old = out.get(source)
    if old is None:
        out[source] = Sighting(first_seen=seen, last_seen=seen, run_id=run_id)
    else:
        out[source] = Sighting(
            first_seen=min(old.first_seen, seen),
            last_seen=max(old.last_seen, seen),
            run_id=run_id if seen >= old.last_seen else old.run_id,
        )
    return out


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

    # -- loading -----------------------------------------------------------------------
    def _prefetch(self) -> None:
        ids: set[str] = set()
        keys: set[IdentKey] = set()
        refs: list[CIRef] = [r.ref for r in self.cs.ci_retires]
        for rel_up in self.cs.rel_upserts:
            refs += [rel_up.source, rel_up.target]
        for rel_ret in self.cs.rel_retires:
            refs += [rel_ret.source, rel_ret.target]
        for up in self.cs.ci_upserts:
            if up.id:
                ids.add(up.id)
            keys.update(_key(i) for i in up.identifiers if i.unique)
        for ref in refs:
            if ref.id:
                ids.add(ref.id)
            elif ref.identifier is not None:
                keys.add(_key(ref.identifier))
        linked: list[Change | Incident] = [*self.cs.changes, *self.cs.incidents]
        for rec in linked:
            ids.update(rec.ci_ids)
            ids.update(rec.service_ids)
        self.loaded.idents = self.loader.load_idents(keys) if keys else {}
        ids.update(self.loaded.idents.values())
        self.loaded.cis = self.loader.load_cis(ids) if ids else {}

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
            values: dict[str, Any] = {"id": ci_id, "class": up.ci_class, "created_at": self.now}
            before_fields: dict[str, Any] = {}
            sources: dict[str, Sighting] = {}
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
        for name in _UPSERT_SCALARS:
            if name in given or (existing is None and name == "name"):
                values[name] = getattr(up, name)
        attrs = dict(values.get("attributes") or {})
        for k, v in up.attributes.items():
            if v is None:
                attrs.pop(k, None)
            else:
                attrs[k] = v
        values["attributes"] = attrs
        idents = [*(values.get("identifiers") or []), *up.identifiers]
        values["identifiers"] = idents
        values["sources"] = _sight(sources, self.cs.source, self.seen, self.cs.run_id)
        try:
            ci = CI.model_validate(values)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise InvalidInput(err["msg"], where=f"{where}.{loc}" if loc else where) from exc
        after_fields = ci.field_values()
        changes = diff_fields(before_fields, after_fields) if existing else []
        if existing is None:
            ci.updated_at = self.now
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
        known = {(i.kind.value, i.value) for i in (existing.identifiers if existing else [])}
        for ident in ci.identifiers:
            ikey = _key(ident)
            if ikey not in known:
                self.plan.new_idents.append((ikey[0], ikey[1], ci_id, ident.unique))
                known.add(ikey)
                if ident.unique:
                    self.loaded.idents[ikey] = ci_id
        self.plan.cis[ci_id] = ci
        return ci_id

    def _resolve(self, ref: CIRef, where: str) -> CI:
        ci_id = ref.id
        if ci_id is None:
            assert ref.identifier is not None
            ci_id = self.loaded.idents.get(_key(ref.identifier))
        ci = self._ci(ci_id) if ci_id else None
        if ci is None:
            raise NotFound(f"no CI {ref}", where=where)
        return ci

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
        ends: list[tuple[str, CI, CI]] = []
        for idx, r in enumerate(self.cs.rel_upserts):
            where = f"rel_upserts[{idx}]"
            ends.append(
                (
                    where,
                    self._resolve(r.source, f"{where}.source"),
                    self._resolve(r.target, f"{where}.target"),
                )
            )
        retire_ends: list[tuple[str, CI, CI]] = []
        for idx, rr in enumerate(self.cs.rel_retires):
            where = f"rel_retires[{idx}]"
            retire_ends.append(
                (
                    where,
                    self._resolve(rr.source, f"{where}.source"),
                    self._resolve(rr.target, f"{where}.target"),
                )
            )
        ids: set[str] = set()
        for (_, s, t), r in zip(ends, self.cs.rel_upserts, strict=True):
            ids.add(relationship_id(get_type(r.type).name, s.id, t.id))
        for (_, s, t), rr in zip(retire_ends, self.cs.rel_retires, strict=True):
            ids.add(relationship_id(get_type(rr.type).name, s.id, t.id))
        self.loaded.rels = self.loader.load_rels(ids) if ids else {}
        for (where, s, t), r in zip(ends, self.cs.rel_upserts, strict=True):
            self.plan.result.rel_ids.append(
                self._upsert_rel(where, r.type, s, t, r.confidence, r.attributes)
            )
        for (where, s, t), rr in zip(retire_ends, self.cs.rel_retires, strict=True):
            self._retire_rel(where, rr.type, s, t)

    def _upsert_rel(
        self,
        where: str,
        type_name: str,
        s: CI,
        t: CI,
        confidence: float | None,
        attrs: dict[str, Any],
    ) -> str:
        try:
            rtype = check_allowed(type_name, s.ci_class, t.ci_class)
        except InvalidInput as exc:
            exc.where = f"{where}.type"
            raise
        if s.id == t.id:
            raise InvalidInput("a CI cannot relate to itself", where=where)
        rid = relationship_id(rtype.name, s.id, t.id)
        existing = self.plan.rels.get(rid) or self.loaded.rels.get(rid)
        if existing is None:
            merged_attrs = {k: v for k, v in attrs.items() if v is not None}
            rel = Relationship(
                id=rid,
                type=rtype.name,
                source_id=s.id,
                target_id=t.id,
                confidence=1.0 if confidence is None else confidence,
                attributes=merged_attrs,
                sources=_sight({}, self.cs.source, self.seen, self.cs.run_id),
                created_at=self.now,
                updated_at=self.now,
            )
            self.plan.created_rels.add(rid)
            self.plan.result.rels_created += 1
            self.plan.history.append(
                PendingHistory(EntityKind.REL, rid, HistoryOp.CREATE, "*", None, rel.field_values())
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
                    "status": RelationshipStatus.ACTIVE,
                    "confidence": existing.confidence if confidence is None else confidence,
                    "attributes": merged,
                    "sources": _sight(existing.sources, self.cs.source, self.seen, self.cs.run_id),
                }
            )
            changes = diff_fields(existing.field_values(), rel.field_values())
            if changes:
                rel.updated_at = self.now
                if rid not in self.plan.created_rels:
                    self.plan.result.rels_updated += 1
                for name, b, a in changes:
                    self.plan.history.append(
                        PendingHistory(EntityKind.REL, rid, HistoryOp.UPDATE, name, b, a)
                    )
        self.plan.rels[rid] = rel
        return rid

    def _retire_rel(self, where: str, type_name: str, s: CI, t: CI) -> None:
        rid = relationship_id(get_type(type_name).name, s.id, t.id)
        existing = self.plan.rels.get(rid) or self.loaded.rels.get(rid)
        if existing is None:
            raise NotFound(f"no {type_name} relationship from {s.id} to {t.id}", where=where)
        if not existing.active:
            return
        self.plan.rels[rid] = existing.model_copy(
            update={"status": RelationshipStatus.RETIRED, "updated_at": self.now}
        )
        self.plan.result.rels_retired += 1
        self.plan.history.append(
            PendingHistory(EntityKind.REL, rid, HistoryOp.RETIRE, "status", "active", "retired")
        )

    # -- change and incident records ---------------------------------------------------
    def _records(self) -> None:
        if self.cs.changes:
            self.loaded.changes = self.loader.load_changes({c.id for c in self.cs.changes})
        if self.cs.incidents:
            self.loaded.incidents = self.loader.load_incidents({i.id for i in self.cs.incidents})
        for idx, change in enumerate(self.cs.changes):
            old_change = self.plan.changes.get(change.id) or self.loaded.changes.get(change.id)
            self._record(EntityKind.CHANGE, idx, change, old_change)
            self.plan.changes[change.id] = change
        for idx, incident in enumerate(self.cs.incidents):
            old_inc = self.plan.incidents.get(incident.id) or self.loaded.incidents.get(incident.id)
            self._record(EntityKind.INCIDENT, idx, incident, old_inc)
            self.plan.incidents[incident.id] = incident

    def _record(
        self,
        kind: EntityKind,
        idx: int,
        rec: Change | Incident,
        old: Change | Incident | None,
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

    def run(self) -> Plan:
        self._prefetch()
        for idx, up in enumerate(self.cs.ci_upserts):
            self.plan.result.ci_ids.append(self._upsert(idx, up))
        for idx, ret in enumerate(self.cs.ci_retires):
            self._retire_ci(idx, ret.ref, ret.status)
        self._rels()
        self._records()
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
