"""Monitoring alerts correlated on the graph into incidents.

An alert names CIs through its labels (:mod:`cmdb.practice.alert_rules`). Firing alerts
whose CIs share a probable cause are one incident: the cause is the engine's ranking
(:func:`impact.queries.cause_report`), bounded to ``max_hops`` above each alert's CIs, and
it is the incident's first CI; its services and priority come from the impact engine over
the alerts' CIs (:func:`impact.queries.incident_impact`).

- An alert already in an open incident (by fingerprint) updates it there.
- A new alert joins an open alert incident when the ranking over both finds one cause
  within reach of every alert (the cause may move up: two VMs on one host); else the new
  alerts that share a cause open one incident together.
- When every alert of an incident is resolved, the incident is resolved, at the latest
  ``endsAt`` (never before it opened nor after now).
- An alert naming no CI opens nothing and is reported as unmapped; a resolved alert that
  no open incident holds is reported too.

Every effect is a note on the incident (who, when, which alert by fingerprint), and the
incident's alerts keep their fingerprints, labels and times: with the history of each
write, what an alert did stays auditable. All incidents one call touches are written in
one change set, guarded so that concurrent calls in several processes cannot both open an
incident for one cause (see ``receive``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cmdb.domain.changeset import ChangeSet, Guard
from cmdb.domain.errors import NotFound, WriteConflict
from cmdb.domain.model import CI
from cmdb.domain.records import Incident, IncidentAlert, IncidentNote, IncidentState, Level
from cmdb.practice.alert_rules import AlertRules, Match, map_labels
from cmdb.practice.clocks import impact_level, prioritise
from cmdb.practice.policy import Policy
from cmdb.store.contract import GraphStore
from impact.queries import cause_report, incident_impact

FIRING, RESOLVED = "firing", "resolved"
_RANK = {Level.LOW: 0, Level.MEDIUM: 1, Level.HIGH: 2}
MAX_TITLE = 500
GUARD = "alerts"  # the store counter every correlation's write checks and moves on
RETRIES = 20


@dataclass(frozen=True)
class Alert:
    """One alert as monitoring sent it."""

    fingerprint: str
    status: str  # firing | resolved
    labels: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None = None
    summary: str = ""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "alert")


@dataclass
class Received:
    """What became of one alert: ``action`` is opened, joined, updated, resolved, unmapped
    or unknown (resolved, and no open incident holds it)."""

    fingerprint: str
    name: str
    status: str
    action: str
    incident_id: str | None = None
    ci_ids: list[str] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)  # "instance: hostname=vm-app-01"


@dataclass
class _Work:
    """The open alert incidents, as they become during one call."""

    incidents: dict[str, Incident]
    touched: set[str] = field(default_factory=set)
    original: dict[str, Incident] = field(default_factory=dict)

    def put(self, inc: Incident) -> None:
        self.incidents[inc.id] = inc
        self.touched.add(inc.id)


def _max(a: Level | None, b: Level) -> Level:
    return b if a is None or _RANK[b] > _RANK[a] else a


def shared_cause(
    store: GraphStore, cis: Sequence[CI], max_hops: int, now: datetime
) -> tuple[str, set[str]]:
    """The candidate cause reaching the most of ``cis`` within ``max_hops`` (the engine's
    rank order between equals), and the ids it reaches."""
    by_id = {c.id: c for c in cis}
    report = cause_report(store, list(by_id.values()), now=now)
    best: tuple[str, set[str]] | None = None
    for cand in report.candidates:
        reached = {p.ci_ids[-1] for p in cand.paths if len(p.types) <= max_hops}
        if cand.id in by_id:
            reached.add(cand.id)
        reached &= by_id.keys()
        if best is None or len(reached) > len(best[1]):
            best = (cand.id, reached)
    if best is None or not best[1]:
        first = next(iter(by_id))
        return first, {first}
    return best


def _cis_of(store: GraphStore, incident: Incident) -> dict[str, CI]:
    out: dict[str, CI] = {}
    for a in incident.alerts:
        for ci_id in a.ci_ids:
            if ci_id not in out:
                try:
                    out[ci_id] = store.get_ci(ci_id)
                except NotFound:
                    continue  # gone since: the others still place the incident
    return out


def _covers(reached: set[str], groups: Sequence[Sequence[str]]) -> bool:
    return all(any(c in reached for c in g) for g in groups if g)


def _groups(
    store: GraphStore,
    fresh: list[tuple[Alert, list[Match]]],
    rules: AlertRules,
    now: datetime,
) -> list[tuple[str, list[tuple[Alert, list[Match]]]]]:
    """The new firing alerts in groups sharing a cause (greedy: the cause reaching most)."""
    out: list[tuple[str, list[tuple[Alert, list[Match]]]]] = []
    remaining = list(fresh)
    while remaining:
        cis = {m.ci.id: m.ci for _, ms in remaining for m in ms}
        cause, reached = shared_cause(store, list(cis.values()), rules.max_hops, now)
        group = [x for x in remaining if any(m.ci.id in reached for m in x[1])] or remaining[:1]
        out.append((cause, group))
        remaining = [x for x in remaining if all(x is not g for g in group)]
    return out


def _joinable(
    store: GraphStore,
    work: _Work,
    cause: str,
    group: list[tuple[Alert, list[Match]]],
    rules: AlertRules,
    now: datetime,
) -> tuple[Incident, str] | None:
    """The open alert incident the group joins, with the cause they share; newest first."""
    candidates = sorted(work.incidents.values(), key=lambda i: (i.opened_at, i.id), reverse=True)
    for inc in candidates:
        if inc.cause_id == cause:
            return inc, cause
    new_ids = [[m.ci.id for m in ms] for _, ms in group]
    for inc in candidates:
        have = _cis_of(store, inc)
        if not have:
            continue
        cis = {**have, **{m.ci.id: m.ci for _, ms in group for m in ms}}
        shared, reached = shared_cause(store, list(cis.values()), rules.max_hops, now)
        if _covers(reached, [a.ci_ids for a in inc.alerts] + new_ids):
            return inc, shared
    return None


def _alert_record(a: Alert, matches: list[Match]) -> IncidentAlert:
    return IncidentAlert(
        fingerprint=a.fingerprint,
        name=a.name,
        status=a.status,
        ci_ids=[m.ci.id for m in matches],
        labels=dict(a.labels),
        starts_at=a.starts_at,
        ends_at=a.ends_at if a.status == RESOLVED else None,
    )


def _matched(matches: list[Match]) -> list[str]:
    return [f"{m.label}: {m.how} -> {m.ci.name}" for m in matches]


def _name(store: GraphStore, ci_id: str) -> str:
    try:
        return store.get_ci(ci_id).name
    except NotFound:
        return ci_id


def _placed(
    store: GraphStore, inc: Incident, cause: str, policy: Policy, rules: AlertRules, now: datetime
) -> Incident:
    """``inc`` with the cause first among its CIs, its services from the impact engine over
    the alerts' CIs, and its priority (impact and urgency never lowered by an alert)."""
    cis = list(_cis_of(store, inc).values())
    report = incident_impact(store, cis, now=now)
    down = {s.id for s in report.services if s.severity == "down"}
    degraded = {s.id for s in report.services if s.severity == "degraded"}
    services = sorted(down | {c.id for c in cis if c.service is not None})
    # The alerting CIs in the order the alerts named them.
    others = [c.id for c in cis if c.id not in services and c.id != cause]
    urgency = Level.LOW
    for a in inc.alerts:
        urgency = _max(urgency, rules.urgency_of(a.labels))
    placed = inc.model_copy(
        update={
            "cause_id": cause,
            "ci_ids": ([] if cause in services else [cause]) + others,
            "service_ids": services or sorted(degraded),
            "outage": bool(services),
        }
    )
    return prioritise(
        placed, policy, _max(inc.impact, impact_level(report)), _max(inc.urgency, urgency)
    )


def _new_id(store: GraphStore, work: _Work, a: Alert) -> str:
    base = f"INC-{a.starts_at:%Y%m%d-%H%M%S}-{a.fingerprint[:8]}"
    ref, n = base, 1
    while ref in work.incidents or _exists(store, ref):
        n += 1
        ref = f"{base}-{n}"
    return ref


def _exists(store: GraphStore, ref: str) -> bool:
    try:
        store.get_incident(ref)
    except NotFound:
        return False
    return True


def _title(store: GraphStore, alerts: Sequence[IncidentAlert], cause: str) -> str:
    names = ", ".join(dict.fromkeys(a.name for a in alerts))
    return f"{names} (probable cause: {_name(store, cause)})"[:MAX_TITLE]


def receive(
    store: GraphStore,
    alerts: Sequence[Alert],
    *,
    rules: AlertRules,
    policy: Policy,
    actor: str,
    now: datetime,
) -> tuple[list[Received], list[Incident]]:
    """Correlate ``alerts`` into incidents and write them (one change set); what became of
    each alert, and the incidents touched as written.

    Atomic across processes: the write is guarded (``GUARD``) by the counter read before
    the open incidents were, so when two processes correlate at once (two API replicas
    sent the same Alertmanager group) only the first commits; the other's write is
    refused whole, and it correlates again on what the first wrote (its alerts join the
    incident the first opened instead of opening a second)."""
    for _ in range(RETRIES):
        expect = store.guard_value(GUARD)
        out, written = _correlate(store, alerts, rules=rules, policy=policy, actor=actor, now=now)
        if not written:
            return out, written
        cs = ChangeSet(
            actor=actor,
            source="manual",
            incidents=written,
            guard=Guard(name=GUARD, expect=expect),
        )
        try:
            store.apply(cs)
        except WriteConflict:
            continue  # another process correlated first: read what it wrote, decide again
        return out, written
    raise WriteConflict(
        f"alert correlation lost to other writers {RETRIES} times in a row; send again",
        where="alerts",
    )


def _correlate(
    store: GraphStore,
    alerts: Sequence[Alert],
    *,
    rules: AlertRules,
    policy: Policy,
    actor: str,
    now: datetime,
) -> tuple[list[Received], list[Incident]]:
    open_incs = [i for i in store.list_incidents(open_only=True) if i.alerts]
    work = _Work({i.id: i for i in open_incs}, original={i.id: i for i in open_incs})
    by_fp = {a.fingerprint: i.id for i in open_incs for a in i.alerts}
    notes: dict[str, list[str]] = {}
    replace: set[str] = set()  # incidents whose CIs (so cause and impact) need placing
    out: list[Received] = []
    fresh: list[tuple[Alert, list[Match]]] = []
    for a in alerts:
        held = by_fp.get(a.fingerprint)
        if held is not None:
            out.append(_update(work, held, a, notes))
            continue
        if a.status == RESOLVED:
            out.append(Received(a.fingerprint, a.name, a.status, "unknown"))
            continue
        matches = map_labels(store, rules, a.labels)
        if not matches:
            out.append(Received(a.fingerprint, a.name, a.status, "unmapped"))
            continue
        fresh.append((a, matches))
    for cause, group in _groups(store, fresh, rules, now):
        joined = _joinable(store, work, cause, group, rules, now)
        records = [_alert_record(a, ms) for a, ms in group]
        if joined is not None:
            inc, shared = joined
            if shared != inc.cause_id:
                notes.setdefault(inc.id, []).append(
                    f"probable cause now {_name(store, shared)} ({shared}),"
                    f" was {_name(store, inc.cause_id or '')}"
                )
            every = [*inc.alerts, *records]
            inc = inc.model_copy(
                update={"alerts": every, "cause_id": shared, "title": _title(store, every, shared)}
            )
            action = "joined"
        else:
            first = min((a for a, _ in group), key=lambda a: a.starts_at)
            inc = Incident(
                id=_new_id(store, work, first),
                title=_title(store, records, cause),
                opened_at=min(first.starts_at, now),
                alerts=records,
                cause_id=cause,
            )
            notes.setdefault(inc.id, []).append(
                f"opened by {len(records)} alert(s); probable cause {_name(store, cause)} ({cause})"
            )
            action = "opened"
        work.put(inc)
        replace.add(inc.id)
        for a, ms in group:
            by_fp[a.fingerprint] = inc.id
            notes.setdefault(inc.id, []).append(
                f"alert {a.name} ({a.fingerprint}) {action} it: " + "; ".join(_matched(ms))
            )
            out.append(
                Received(
                    a.fingerprint,
                    a.name,
                    a.status,
                    action,
                    inc.id,
                    [m.ci.id for m in ms],
                    _matched(ms),
                )
            )
    return out, _finish(store, work, replace, notes, policy, rules, actor, now)


def _update(work: _Work, inc_id: str, a: Alert, notes: dict[str, list[str]]) -> Received:
    inc = work.incidents[inc_id]
    kept: list[IncidentAlert] = []
    ci_ids: list[str] = []
    for rec in inc.alerts:
        if rec.fingerprint == a.fingerprint:
            ci_ids = rec.ci_ids
            if rec.status != a.status or (a.status == RESOLVED and rec.ends_at != a.ends_at):
                notes.setdefault(inc_id, []).append(
                    f"alert {a.name} ({a.fingerprint}) {a.status}"
                    + (f" at {a.ends_at.isoformat()}" if a.status == RESOLVED and a.ends_at else "")
                )
            rec = rec.model_copy(
                update={
                    "status": a.status,
                    "ends_at": a.ends_at if a.status == RESOLVED else None,
                }
            )
        kept.append(rec)
    work.put(inc.model_copy(update={"alerts": kept}))
    action = "resolved" if a.status == RESOLVED else "updated"
    return Received(a.fingerprint, a.name, a.status, action, inc_id, list(ci_ids))


def _finish(
    store: GraphStore,
    work: _Work,
    replace: set[str],
    notes: dict[str, list[str]],
    policy: Policy,
    rules: AlertRules,
    actor: str,
    now: datetime,
) -> list[Incident]:
    out: list[Incident] = []
    for inc_id in sorted(work.touched):
        inc = work.incidents[inc_id]
        if inc_id in replace:
            before = (inc.priority, inc.service_ids)
            inc = _placed(store, inc, inc.cause_id or inc.alerts[0].ci_ids[0], policy, rules, now)
            if before != (inc.priority, inc.service_ids):
                notes.setdefault(inc_id, []).append(
                    f"priority {inc.priority.value}, services "
                    + (", ".join(_name(store, s) for s in inc.service_ids) or "none")
                )
        if all(a.status == RESOLVED for a in inc.alerts):
            ends = [a.ends_at for a in inc.alerts if a.ends_at is not None]
            at = min(max(max(ends, default=now), inc.opened_at), now)
            inc = inc.model_copy(
                update={
                    "state": IncidentState.RESOLVED,
                    "resolved_at": at,
                    "responded_at": inc.responded_at or at,
                }
            )
            notes.setdefault(inc_id, []).append("every alert resolved: incident resolved")
        added = [IncidentNote(at=now, actor=actor, text=t) for t in notes.get(inc_id, [])]
        if not added and inc == work.original.get(inc_id):
            continue  # a re-sent alert that changes nothing writes nothing
        out.append(inc.model_copy(update={"notes": [*inc.notes, *added]}))
    return out
