"""Problems and known errors: log one against the CIs at fault and the incidents it
causes, amend it, move it through its life, link incidents and fixing changes, read one or
a list, and the similar past problems for a CI (cmdb/practice/problems.py and similar.py
do the record work).

What ``/problems``, GraphQL's problem fields and mutations and ``cmdb problem`` all call.
A scoped caller reads a problem naming a CI or service in its view, shown with only the
ids it may see (linked incidents and changes: those it reads); anything else is missing to
it. It links only records it reads, and writes only problems whose CIs and services, those
the write would record included, are all in its view (judged before anything is
written). Similar problems are scored on what the caller sees only, so no reason names a
CI outside it.

What a caller sends is in :mod:`cmdb.app.problem_inputs`; errors name it in the caller's
own words (:class:`~cmdb.app.problem_inputs.Words`): a request's fields by default, the
CLI's arguments and options when it passes its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cmdb.app.caller import Caller, stamped
from cmdb.app.changes import now
from cmdb.app.inputs import resolve_visible
from cmdb.app.problem_inputs import (
    DEFAULT_SIMILAR,
    MAX_QUERY_TEXT,
    MAX_SIMILAR,
    REQUEST,
    NewProblem,
    ProblemLinks,
    ProblemPatch,
    ProblemStep,
    Words,
)
from cmdb.app.scope import (
    Visibility,
    change_readable,
    check_writable,
    in_view,
    incident_readable,
    readable,
)
from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.domain.model import CI
from cmdb.domain.records import Incident, Problem, ProblemState
from cmdb.practice import problems as practice
from cmdb.practice.problems import OPEN_STATES, affected_services
from cmdb.practice.similar import Similar, similar_problems
from cmdb.store.contract import GraphStore


@dataclass(frozen=True)
class SimilarProblems:
    """Past problems like one on a CI, best first, each as the caller is shown it."""

    ci: CI
    items: list[Similar]


@dataclass(frozen=True)
class ForIncident:
    """What a service desk looks at beside an incident."""

    problems: list[Problem]  # linked to it
    known_errors: list[Problem]  # open known errors on its CIs: the workarounds to try now


def in_kedb(problem: Problem) -> bool:
    """In the known error database: open, with its root cause or a workaround recorded."""
    return problem.known and problem.state in OPEN_STATES


# --- reading ------------------------------------------------------------------------------


def visible(
    store: GraphStore, vis: Visibility, problem_id: str, *, where: str | None = "problem_id"
) -> Problem:
    """The stored problem, if the caller reads it; NotFound otherwise, the same answer for
    one out of its view as for a missing one (``where=None``: the store's own answer for a
    missing one, for an unrestricted caller naming it by argument)."""
    try:
        problem: Problem | None = store.get_problem(problem_id)
    except NotFound:
        if where is None:
            raise
        problem = None
    if problem is None or not readable(vis, problem):
        raise NotFound(f"no problem {problem_id!r}", where=where)
    return problem


def shown(store: GraphStore, vis: Visibility, problem: Problem) -> Problem:
    """``problem`` with only the ids the caller may see: CIs and services in its view, and
    the incidents and changes it may read (a linked record's id is a hint too)."""
    if vis.unrestricted:
        return problem
    return problem.model_copy(
        update={
            "ci_ids": vis.keep(problem.ci_ids),
            "service_ids": vis.keep(problem.service_ids),
            "incident_ids": [i for i in problem.incident_ids if incident_readable(store, vis, i)],
            "change_ids": [c for c in problem.change_ids if change_readable(store, vis, c)],
        }
    )


def get(store: GraphStore, vis: Visibility, problem_id: str, words: Words = REQUEST) -> Problem:
    return shown(store, vis, visible(store, vis, problem_id, where=words.problem_id))


def check_incident(store: GraphStore, vis: Visibility, incident_id: str, where: str) -> None:
    """NotFound unless the caller reads the incident (one out of its view: as missing)."""
    if not incident_readable(store, vis, incident_id):
        raise NotFound(f"no incident {incident_id!r}", where=where)


def check_change(store: GraphStore, vis: Visibility, change_id: str, where: str) -> None:
    """NotFound unless the caller reads the change (one out of its view: as missing)."""
    if not change_readable(store, vis, change_id):
        raise NotFound(f"no change {change_id!r}", where=where)


def list_problems(
    store: GraphStore,
    vis: Visibility,
    *,
    ci: str | None = None,
    states: Sequence[ProblemState] | None = None,
    known_error: bool | None = None,
    incident: str | None = None,
    words: Words = REQUEST,
) -> list[Problem]:
    """The problems the caller reads, by reference: naming the CI ``ci`` (at fault, or a
    service affected; a reference), in one of ``states``, in the known error database or
    not, linked to ``incident`` (which must exist: an unknown one is a mistake, not an
    empty list)."""
    ci_id = resolve_visible(store, vis, ci, where=words.ci).id if ci else None
    if incident is not None:
        if words.incident is None and vis.unrestricted:
            store.get_incident(incident)
        else:
            check_incident(store, vis, incident, words.incident or "incident")
    found = [
        p
        for p in store.list_problems(ci_id=ci_id)
        if readable(vis, p)
        and (not states or p.state in states)
        and (known_error is None or in_kedb(p) is known_error)
        and (incident is None or incident in p.incident_ids)
    ]
    found.sort(key=lambda p: p.id)
    return [shown(store, vis, p) for p in found]


def similar(
    store: GraphStore,
    vis: Visibility,
    ci: str,
    *,
    text: str = "",
    limit: int = DEFAULT_SIMILAR,
    words: Words = REQUEST,
) -> SimilarProblems:
    """Past problems like one on the CI ``ci`` (a reference), best first, scored on what
    the caller sees (cmdb/practice/similar.py weighs the evidence)."""
    target = resolve_visible(store, vis, ci, where=words.target)
    found = similar_problems(in_view(store, vis), target.id, text=text, limit=limit)
    items = [s.model_copy(update={"problem": shown(store, vis, s.problem)}) for s in found]
    return SimilarProblems(ci=target, items=items)


def check_similar_bounds(*, text: str, limit: int) -> None:
    """The bounds of a similar-problems question, for a shell whose parameters do not
    declare them (REST's do)."""
    if not 1 <= limit <= MAX_SIMILAR:
        raise InvalidInput(f"limit must be between 1 and {MAX_SIMILAR}", where="limit")
    if len(text) > MAX_QUERY_TEXT:
        raise InvalidInput(f"text is longer than {MAX_QUERY_TEXT} characters", where="text")


def for_incident(store: GraphStore, vis: Visibility, inc: Incident) -> ForIncident:
    """The problems linked to ``inc`` and the known errors on its CIs, those the caller
    reads, as it is shown them."""

    def seen(found: list[Problem]) -> list[Problem]:
        return [shown(store, vis, p) for p in found if readable(vis, p)]

    return ForIncident(
        problems=seen(practice.problems_of_incident(store, inc.id)),
        known_errors=seen(practice.known_errors_for(store, inc.ci_ids, inc.service_ids)),
    )


# --- writing ------------------------------------------------------------------------------


def _stamped(store: GraphStore, caller: Caller) -> GraphStore:
    # The practice builds its own change sets: the request id reaches them this way.
    return store if caller.request_id is None else stamped(store, caller.request_id)


def _writable(
    store: GraphStore, vis: Visibility, problem_id: str, what: str, words: Words
) -> Problem:
    problem = visible(store, vis, problem_id, where=words.problem_id)
    check_writable(vis, problem, what)
    return problem


def _fault(store: GraphStore, vis: Visibility, refs: Sequence[str], words: Words) -> list[CI]:
    found: dict[str, CI] = {}
    for i, ref in enumerate(refs):
        ci = resolve_visible(store, vis, ref, where=words.item(words.cis, i))
        found.setdefault(ci.id, ci)
    return list(found.values())


def _names_something(cis: Sequence[CI], incident_ids: Sequence[str], words: Words) -> None:
    if not cis and not incident_ids:
        raise InvalidInput("a problem names a CI at fault or an incident", where=words.cis)


def _readable_refs(
    store: GraphStore, vis: Visibility, incident_ids: Iterable[str], change_ids: Iterable[str]
) -> None:
    """A scoped caller links only records it may read; others answer as if missing (the
    practice says the same of records that do not exist)."""
    if vis.unrestricted:
        return
    for inc_id in incident_ids:
        if not incident_readable(store, vis, inc_id):
            raise NotFound(f"no incident {inc_id}", where="incident_ids")
    for change_id in change_ids:
        if not change_readable(store, vis, change_id):
            raise NotFound(f"no change {change_id}", where="change_ids")


def _check_would_record(
    store: GraphStore,
    vis: Visibility,
    problem_id: str,
    cis: list[CI],
    incident_ids: Iterable[str],
    what: str,
) -> None:
    """The problem records the services a failure of its CIs takes down and those of its
    incidents: a scoped caller may write only what stays inside its view (checked before
    anything is written)."""
    if vis.unrestricted:
        return
    probe = Problem(
        id=problem_id,
        title="probe",
        ci_ids=[c.id for c in cis],
        service_ids=affected_services(store, cis, incident_ids),
        opened_at=now(),
    )
    check_writable(vis, probe, what)


def log(
    store: GraphStore,
    caller: Caller,
    vis: Visibility,
    new: NewProblem,
    *,
    at: datetime | None = None,
    words: Words = REQUEST,
) -> Problem:
    """Log a problem against the CIs at fault and/or the incidents it causes; the services
    affected are those of the incidents and those a failure of the CIs takes down or
    degrades. With a root cause or a workaround already known it starts a known error."""
    store = _stamped(store, caller)
    fault = _fault(store, vis, new.cis, words)
    _names_something(fault, new.incident_ids, words)
    _readable_refs(store, vis, new.incident_ids, ())
    _check_would_record(store, vis, new.id, fault, new.incident_ids, "record it")
    made = practice.log_problem(
        store,
        problem_id=new.id,
        title=new.title,
        cis=fault,
        actor=caller.name,
        now=at or now(),
        incident_ids=new.incident_ids,
        symptoms=new.symptoms,
        description=new.description,
        category=new.category,
        root_cause=new.root_cause,
        workaround=new.workaround,
    )
    return shown(store, vis, made)


def update(
    store: GraphStore,
    caller: Caller,
    vis: Visibility,
    problem_id: str,
    patch: ProblemPatch,
    *,
    at: datetime | None = None,
    words: Words = REQUEST,
) -> Problem:
    """Amend a problem until it is closed (the fields set in ``patch``). Recording a root
    cause or a workaround on an open problem makes it a known error in the same write; new
    CIs at fault recompute the services affected."""
    store = _stamped(store, caller)
    problem = _writable(store, vis, problem_id, "amend it", words)
    given = patch.model_dump(include=patch.model_fields_set)
    if not given:
        raise InvalidInput("nothing to change: give at least one field", where=words.body)
    fields: dict[str, object] = {k: v for k, v in given.items() if k != "cis"}
    if patch.cis is not None:
        fault = _fault(store, vis, patch.cis, words)
        _names_something(fault, problem.incident_ids, words)
        _check_would_record(
            store, vis, problem_id, fault, problem.incident_ids, "name CIs outside it"
        )
        fields["ci_ids"] = [c.id for c in fault]
    updated = practice.update_problem(store, problem_id, fields, actor=caller.name, now=at or now())
    return shown(store, vis, updated)


def transition(
    store: GraphStore,
    caller: Caller,
    vis: Visibility,
    problem_id: str,
    step: ProblemStep,
    *,
    at: datetime | None = None,
    words: Words = REQUEST,
) -> Problem:
    """One step of its life (logged, investigating, known_error, resolved, closed); an
    illegal one is refused naming the state and the allowed next ones, and a known error
    needs its root cause or a workaround recorded first."""
    store = _stamped(store, caller)
    _writable(store, vis, problem_id, "move it", words)
    moved = practice.transition_problem(
        store, problem_id, step.to, actor=caller.name, now=at or now()
    )
    return shown(store, vis, moved)


def link(
    store: GraphStore,
    caller: Caller,
    vis: Visibility,
    problem_id: str,
    links: ProblemLinks,
    *,
    words: Words = REQUEST,
) -> Problem:
    """Link the incidents it causes (their services join the affected ones) and the
    changes raised to remove the cause."""
    store = _stamped(store, caller)
    problem = _writable(store, vis, problem_id, "link it", words)
    if not links.incident_ids and not links.change_ids:
        raise InvalidInput("give incident_ids, change_ids or both", where=words.body)
    _readable_refs(store, vis, links.incident_ids, links.change_ids)
    if not vis.unrestricted:
        fault = [store.get_ci(c) for c in problem.ci_ids]
        incidents = [*problem.incident_ids, *links.incident_ids]
        _check_would_record(store, vis, problem_id, fault, incidents, "link it")
    linked = practice.link(
        store,
        problem_id,
        actor=caller.name,
        incident_ids=links.incident_ids,
        change_ids=links.change_ids,
    )
    return shown(store, vis, linked)
