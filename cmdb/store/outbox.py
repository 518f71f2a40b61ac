"""The events a planned change set causes, decided once for both stores.

Each store writes these in the transaction that writes the plan (the outbox pattern): an
event exists exactly when its change was committed. They are read from the plan's history
rows, which already say what changed and how.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cmdb.domain.changeset import FINDINGS_CAP, ChangeSet
from cmdb.domain.events import Event, EventType, WebhookRule
from cmdb.domain.history import EntityKind, HistoryOp
from cmdb.domain.model import CI, RETIRED_STATUSES, Relationship
from cmdb.domain.records import Change, DiscoveryRun, Incident

if TYPE_CHECKING:
    from cmdb.store.planner import Plan

_CHANGE_STATES = {
    "assessed": EventType.CHANGE_ASSESSED,
    "authorised": EventType.CHANGE_AUTHORISED,
    "implemented": EventType.CHANGE_IMPLEMENTED,
}
_RETIRED = {s.value for s in RETIRED_STATUSES}


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def _ci(ci: CI | None, ci_id: str) -> dict[str, Any]:
    if ci is None:
        return {"id": ci_id}
    return {
        "id": ci.id,
        "class": ci.ci_class,
        "name": ci.name,
        "status": ci.status.value,
        "environment": ci.environment,
        "owner": ci.owner,
    }


def _rel(rel: Relationship) -> dict[str, Any]:
    return {
        "id": rel.id,
        "type": rel.type,
        "source_id": rel.source_id,
        "target_id": rel.target_id,
        "status": rel.status.value,
    }


def _change(c: Change) -> dict[str, Any]:
    return {
        "id": c.id,
        "title": c.title,
        "type": c.type.value,
        "state": c.state.value,
        "priority": c.priority.value,
        "ci_ids": c.ci_ids,
        "service_ids": c.service_ids,
        "risk": c.risk.model_dump(mode="json") if c.risk is not None else None,
    }


def _incident(i: Incident) -> dict[str, Any]:
    return {
        "id": i.id,
        "title": i.title,
        "state": i.state.value,
        "priority": i.priority.value,
        "major": i.major,
        "ci_ids": i.ci_ids,
        "service_ids": i.service_ids,
    }


def events_of(p: Plan, cs: ChangeSet, now: datetime) -> list[Event]:
    """The events of one plan, in the order its history rows name them."""
    out: list[Event] = []

    def emit(kind: EventType, subjects: list[str], payload: dict[str, Any]) -> None:
        out.append(
            Event(
                id=new_event_id(),
                type=kind,
                occurred_at=now,
                subject_ids=subjects,
                actor=cs.actor,
                source=cs.source,
                request_id=cs.request_id,
                run_id=cs.run_id,
                payload=payload,
            )
        )

    ci_changes: dict[str, list[dict[str, Any]]] = {}
    stale: list[str] = []
    for h in p.history:
        kind, op, eid = h.entity_kind, h.op, h.entity_id
        if kind is EntityKind.CI:
            if h.field.startswith("stale."):
                if h.after is True:
                    stale.append(eid)
                continue
            if op is HistoryOp.CREATE:
                emit(EventType.CI_CREATED, [eid], {"ci": _ci(p.cis.get(eid), eid)})
            elif op is HistoryOp.RETIRE or (
                h.field == "status" and h.after in _RETIRED and h.before not in _RETIRED
            ):
                emit(
                    EventType.CI_RETIRED,
                    [eid],
                    {"ci": _ci(p.cis.get(eid), eid), "previous_status": h.before},
                )
            else:
                if eid not in ci_changes:
                    ci_changes[eid] = []
                    emit(EventType.CI_UPDATED, [eid], {"ci": _ci(p.cis.get(eid), eid)})
                    out[-1].payload["changes"] = ci_changes[eid]
                ci_changes[eid].append({"field": h.field, "before": h.before, "after": h.after})
        elif kind is EntityKind.REL:
            rel = p.rels.get(eid)
            if rel is None:
                continue
            ends = [rel.source_id, rel.target_id]
            if (op is HistoryOp.CREATE and rel.active) or (
                h.field == "status" and h.after == "active"
            ):
                emit(EventType.RELATIONSHIP_ADDED, [eid, *ends], {"relationship": _rel(rel)})
            elif op is HistoryOp.RETIRE:
                emit(EventType.RELATIONSHIP_RETIRED, [eid, *ends], {"relationship": _rel(rel)})
        elif kind is EntityKind.CHANGE:
            change = p.changes[eid]
            if op is HistoryOp.CREATE:
                emit(EventType.CHANGE_SUBMITTED, [eid], {"change": _change(change)})
            elif h.field == "state" and h.after in _CHANGE_STATES:
                emit(
                    _CHANGE_STATES[h.after],
                    [eid],
                    {"change": _change(change), "previous_state": h.before},
                )
        elif kind is EntityKind.INCIDENT:
            incident = p.incidents[eid]
            if op is HistoryOp.CREATE:
                emit(EventType.INCIDENT_OPENED, [eid], {"incident": _incident(incident)})
            elif h.field == "priority":
                emit(
                    EventType.INCIDENT_PRIORITY_CHANGED,
                    [eid],
                    {"incident": _incident(incident), "previous_priority": h.before},
                )
    for run in p.runs.values():
        if not run.finished or run.dry_run:
            continue
        emit(
            EventType.DISCOVERY_RUN_FINISHED,
            [run.id],
            {
                "run": {
                    "id": run.id,
                    "source": run.source,
                    "scope": run.scope,
                    "format": run.format,
                    "status": run.status.value,
                    "started_at": run.started_at.isoformat(),
                    "ended_at": run.ended_at.isoformat() if run.ended_at else None,
                    "counts": run.counts,
                    "note": run.note,
                },
                "unauthorised_changes": run.counts.get("unauthorised", 0),
                "stale_ci_ids": sorted(stale)[:FINDINGS_CAP],
                **_findings(p, cs, run, stale),
            },
        )
    return out


def _listed(items: list[dict[str, Any]], total: int) -> dict[str, Any]:
    return {"total": total, "truncated": total > len(items), "items": items}


def _findings(p: Plan, cs: ChangeSet, run: DiscoveryRun, stale: list[str]) -> dict[str, Any]:
    """The run's unauthorised changes and stale CIs as lists: the first FINDINGS_CAP of
    each, with the totals and whether the list was cut."""
    f = cs.findings
    if f is not None:
        unauthorised = [u.model_dump(mode="json") for u in f.unauthorised[:FINDINGS_CAP]]
        stale_items = [s.model_dump(mode="json") for s in f.stale[:FINDINGS_CAP]]
        return {
            "unauthorised": _listed(unauthorised, max(f.unauthorised_total, len(unauthorised))),
            "stale": _listed(stale_items, max(f.stale_total, len(stale_items))),
        }
    # A run written without them (failed, or by a caller that found none): what the plan
    # knows, the stale CIs it marked (by name) and the count of unauthorised changes.
    marked = sorted(stale)
    return {
        "unauthorised": _listed([], run.counts.get("unauthorised", 0)),
        "stale": _listed(
            [
                {"ci_id": i, "name": c.name if (c := p.cis.get(i)) else "", "missed_runs": None}
                for i in marked[:FINDINGS_CAP]
            ],
            len(marked),
        ),
    }


def events_for(p: Plan, cs: ChangeSet, now: datetime, rules: Sequence[WebhookRule]) -> list[Event]:
    """The events of the change set that some webhook rule may want, enabled or not (a
    rule disabled now may be enabled before the worker queues them).

    With no rule, none: nobody can be sent them, and a rule made later is sent only what
    follows its making (``WebhookRule.after_seq``). The stores read the rules inside the
    write's own transaction, and save a rule under the same lock as a write, so a write
    either sees a new rule (and writes its events) or commits before it (and owes it
    none). Writing every event regardless cost a quarter of a bulk ingest."""
    if not rules:
        return []
    every = any(not r.event_types for r in rules)
    types = {t for r in rules for t in r.event_types}
    return [e for e in events_of(p, cs, now) if every or e.type in types]
