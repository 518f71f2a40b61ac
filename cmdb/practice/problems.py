"""Problems and known errors in a store: logged against the CIs at fault, linked to their
incidents, moved through their life, and recorded as known errors once a root cause or a
workaround is known. Every write is one change set carrying the problem record.

A problem records as its services those currently affected (the services of its
incidents) and those potentially affected (what the impact engine says a failure of the
CIs at fault takes down or degrades): what a service desk needs when the next incident on
one of them comes in.

    logged -> investigating -> known_error -> resolved -> closed
    (logged -> known_error, investigating | known_error -> resolved, any open -> closed)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from pydantic import ValidationError

from cmdb.domain.changeset import ChangeSet
from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.domain.model import CI
from cmdb.domain.records import Problem, ProblemState
from cmdb.store.contract import GraphStore
from impact.queries import incident_impact

P = ProblemState

NEXT: dict[ProblemState, tuple[ProblemState, ...]] = {
    P.LOGGED: (P.INVESTIGATING, P.KNOWN_ERROR, P.CLOSED),
    P.INVESTIGATING: (P.KNOWN_ERROR, P.RESOLVED, P.CLOSED),
    P.KNOWN_ERROR: (P.RESOLVED, P.CLOSED),
    P.RESOLVED: (P.CLOSED,),
    P.CLOSED: (),
}
OPEN_STATES = frozenset({P.LOGGED, P.INVESTIGATING, P.KNOWN_ERROR})

# What an amendment may touch (state, links and times move through their own steps).
AMENDABLE = frozenset(
    {"title", "description", "category", "symptoms", "root_cause", "workaround", "ci_ids"}
)


def save(store: GraphStore, problems: Sequence[Problem], *, actor: str) -> None:
    store.apply(ChangeSet(actor=actor, source="manual", problems=list(problems)))


def validated(data: dict[str, object]) -> Problem:
    """A Problem from ``data``, or InvalidInput naming the field at fault."""
    try:
        return Problem.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "state"
        raise InvalidInput(str(err["msg"]).removeprefix("Value error, "), where=where) from exc


def affected_services(
    store: GraphStore, cis: Sequence[CI], incident_ids: Iterable[str]
) -> list[str]:
    """Services currently affected (those of the incidents) and potentially affected (those
    a failure of ``cis`` takes down or degrades), by id."""
    out: set[str] = {c.id for c in cis if c.service is not None}
    for inc_id in incident_ids:
        out.update(store.get_incident(inc_id).service_ids)
    if cis:
        out.update(s.id for s in incident_impact(store, cis).services)
    return sorted(out)


def _check_incidents(store: GraphStore, incident_ids: Iterable[str]) -> list[str]:
    ids = sorted(set(incident_ids))
    for inc_id in ids:
        try:
            store.get_incident(inc_id)
        except NotFound as exc:
            raise NotFound(f"no incident {inc_id}", where="incident_ids") from exc
    return ids


def _fault(store: GraphStore, ci_ids: Iterable[str]) -> list[CI]:
    out: list[CI] = []
    for ci_id in sorted(set(ci_ids)):
        try:
            out.append(store.get_ci(ci_id))
        except NotFound as exc:
            raise NotFound(f"no CI {ci_id}", where="ci_ids") from exc
    return out


def log_problem(
    store: GraphStore,
    *,
    problem_id: str,
    title: str,
    cis: Sequence[CI],
    actor: str,
    now: datetime,
    incident_ids: Sequence[str] = (),
    symptoms: Sequence[str] = (),
    description: str = "",
    category: str = "",
    root_cause: str = "",
    workaround: str = "",
) -> Problem:
    """A new problem; with a root cause or a workaround already known it starts as a known
    error."""
    try:
        store.get_problem(problem_id)
    except NotFound:
        pass
    else:
        raise InvalidInput(f"a problem {problem_id} exists already", where="id")
    if not cis and not incident_ids:
        raise InvalidInput("a problem names a CI at fault or an incident", where="ci_ids")
    incidents = _check_incidents(store, incident_ids)
    problem = validated(
        {
            "id": problem_id,
            "title": title,
            "description": description,
            "category": category,
            "ci_ids": sorted({c.id for c in cis}),
            "service_ids": affected_services(store, cis, incidents),
            "incident_ids": incidents,
            "symptoms": list(symptoms),
            "root_cause": root_cause,
            "workaround": workaround,
            "opened_at": now,
        }
    )
    if problem.known:
        problem = problem.model_copy(update={"state": P.KNOWN_ERROR, "known_error_at": now})
    save(store, [problem], actor=actor)
    return problem


def allowed_next(problem: Problem) -> list[ProblemState]:
    return list(NEXT[problem.state])


def transition_problem(
    store: GraphStore, problem_id: str, to: ProblemState, *, actor: str, now: datetime
) -> Problem:
    """One step; an illegal one names the state and the allowed next ones."""
    problem = store.get_problem(problem_id)
    moved = _moved(problem, to, now)
    save(store, [moved], actor=actor)
    return moved


def _moved(problem: Problem, to: ProblemState, now: datetime) -> Problem:
    allowed = allowed_next(problem)
    if to not in allowed:
        nxt = ", ".join(s.value for s in allowed) or "none (it is closed)"
        raise InvalidInput(
            f"{problem.id} is {problem.state.value}: it cannot go to {to.value};"
            f" allowed next: {nxt}",
            where="state",
        )
    if to is P.KNOWN_ERROR and not problem.known:
        raise InvalidInput(
            f"{problem.id}: a known error records its root cause or a workaround first",
            where="root_cause",
        )
    update: dict[str, object] = {"state": to}
    if to is P.KNOWN_ERROR:
        update["known_error_at"] = now
    if to is P.RESOLVED:
        update["resolved_at"] = now
    return problem.model_copy(update=update)


def update_problem(
    store: GraphStore, problem_id: str, fields: dict[str, object], *, actor: str, now: datetime
) -> Problem:
    """Amend a problem. Recording a root cause or a workaround on an open problem makes it a
    known error in the same write; new CIs at fault recompute the services affected."""
    unknown = sorted(set(fields) - AMENDABLE)
    if unknown:
        raise InvalidInput(f"these fields are not amended by hand: {', '.join(unknown)}")
    problem = store.get_problem(problem_id)
    if problem.state is P.CLOSED:
        raise InvalidInput(f"{problem_id} is closed", where="state")
    data = {**problem.model_dump(), **fields}
    if "ci_ids" in fields:
        cis = _fault(store, fields["ci_ids"])  # type: ignore[arg-type]
        if not cis and not problem.incident_ids:
            # The rule log_problem applies: a problem about nothing could not be found again.
            raise InvalidInput("a problem names a CI at fault or an incident", where="ci_ids")
        data["ci_ids"] = [c.id for c in cis]
        data["service_ids"] = affected_services(store, cis, problem.incident_ids)
    updated = validated(data)
    if updated.known and updated.state in (P.LOGGED, P.INVESTIGATING):
        updated = _moved(updated, P.KNOWN_ERROR, now)
    save(store, [updated], actor=actor)
    return updated


def link(
    store: GraphStore,
    problem_id: str,
    *,
    actor: str,
    incident_ids: Sequence[str] = (),
    change_ids: Sequence[str] = (),
) -> Problem:
    """Link incidents (their services join the affected ones) and the changes raised to
    remove the cause."""
    problem = store.get_problem(problem_id)
    incidents = _check_incidents(store, [*problem.incident_ids, *incident_ids])
    for change_id in change_ids:
        try:
            store.get_change(change_id)
        except NotFound as exc:
            raise NotFound(f"no change {change_id}", where="change_ids") from exc
    cis = [store.get_ci(c) for c in problem.ci_ids]
    updated = problem.model_copy(
        update={
            "incident_ids": incidents,
            "change_ids": sorted({*problem.change_ids, *change_ids}),
            "service_ids": affected_services(store, cis, incidents),
        }
    )
    save(store, [updated], actor=actor)
    return updated


def known_errors(store: GraphStore, *, ci_id: str | None = None) -> list[Problem]:
    """Open problems whose root cause or workaround is known (the known error database),
    optionally those naming ``ci_id`` (at fault, or a service affected)."""
    return [p for p in store.list_problems(ci_id=ci_id) if p.known and p.state in OPEN_STATES]


def known_errors_for(
    store: GraphStore, ci_ids: Iterable[str], service_ids: Iterable[str] = ()
) -> list[Problem]:
    """Open known errors with one of ``ci_ids`` at fault: the workarounds a service desk
    can try on an incident there, by problem id. Only an incident that names no CI is
    matched on its services (every known error upstream of a busy service would match)."""
    cis = list(dict.fromkeys(ci_ids))
    keys = cis or list(dict.fromkeys(service_ids))
    found: dict[str, Problem] = {}
    for key in keys:
        for problem in known_errors(store, ci_id=key):
            if not cis or key in problem.ci_ids:
                found[problem.id] = problem
    return [found[k] for k in sorted(found)]


def problems_of_incident(store: GraphStore, incident_id: str) -> list[Problem]:
    return [p for p in store.list_problems() if incident_id in p.incident_ids]
