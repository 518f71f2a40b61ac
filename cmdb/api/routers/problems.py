"""``/problems``: problems and known errors, logged against the CIs at fault and linked to
their incidents and fixing changes, moved through their life, and the similar past problems
for a CI (the service desk's first look); the same practice as ``cmdb problem ...``
(cmdb/practice/problems.py, cmdb/practice/similar.py).

Scope as for changes and incidents (cmdb/api/routers/changes.py): a scoped token reads a
problem that names a CI or service in its view, shown with only the ids it may see (linked
incidents and changes included), and writes only problems whose CIs and services, those
the write would record included, are all in it. Similar problems are scored from what the
token sees only, so no reason names a CI outside its view.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cmdb.api.routers._shared import resolve_visible, stamped
from cmdb.api.routers.changes import now
from cmdb.app.inputs import MAX_REFS
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
from cmdb.domain.records import Problem, ProblemState
from cmdb.practice.problems import (
    OPEN_STATES,
    affected_services,
    allowed_next,
    link,
    log_problem,
    transition_problem,
    update_problem,
)
from cmdb.practice.similar import similar_problems
from cmdb.store.contract import GraphStore
from cmdb.web.deps import Editor, Reader, Store, Visible

router = APIRouter(prefix="/problems", tags=["problems"])

MAX_TEXT = 10_000
MAX_QUERY_TEXT = 2_000
MAX_SIMILAR = 100


# --- scope ---------------------------------------------------------------------------------


def seen(store: GraphStore, vis: Visibility, problem: Problem) -> Problem:
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


def visible_problem(store: GraphStore, vis: Visibility, problem_id: str) -> Problem:
    try:
        problem: Problem | None = store.get_problem(problem_id)
    except NotFound:
        problem = None
    if problem is None or not readable(vis, problem):
        raise NotFound(f"no problem {problem_id!r}", where="problem_id")
    return problem


def _writable_problem(store: GraphStore, vis: Visibility, problem_id: str, what: str) -> Problem:
    problem = visible_problem(store, vis, problem_id)
    check_writable(vis, problem, what)
    return problem


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
    services = affected_services(store, cis, incident_ids)
    probe = Problem(
        id=problem_id,
        title="probe",
        ci_ids=[c.id for c in cis],
        service_ids=services,
        opened_at=now(),
    )
    check_writable(vis, probe, what)


# --- models -------------------------------------------------------------------------------


class ProblemOut(Problem):
    known_error: bool = Field(
        description="its root cause or a workaround is known (as in similar problems; the"
        " known error database is the open ones: ?known_error=true)"
    )
    allowed_next: list[ProblemState] = Field(
        default_factory=list, description="the states it may go to next"
    )


class ProblemListOut(BaseModel):
    items: list[ProblemOut]


class SimilarProblemOut(BaseModel):
    problem: ProblemOut
    score: float = Field(description="the sum of the evidence weights (cmdb/practice/similar.py)")
    reasons: list[str] = Field(description="the evidence, strongest first")
    known_error: bool = Field(description="its root cause or a workaround is known")


class SimilarProblemsOut(BaseModel):
    ci_id: str
    items: list[SimilarProblemOut] = Field(description="best first")


def problem_out(store: GraphStore, vis: Visibility, problem: Problem) -> ProblemOut:
    shown = seen(store, vis, problem)
    return ProblemOut.model_validate(
        {**shown.model_dump(), "known_error": shown.known, "allowed_next": allowed_next(shown)}
    )


Text = Annotated[str, Field(max_length=MAX_TEXT)]
Refs = Annotated[list[str], Field(max_length=MAX_REFS)]
Symptoms = Annotated[list[Text], Field(max_length=MAX_REFS)]
Title = Annotated[str, Field(min_length=1, max_length=500)]
Category = Annotated[str, Field(max_length=200)]


class _In(BaseModel):
    # Unknown or server-owned fields (state, service_ids, times...) are refused (422).
    model_config = ConfigDict(extra="forbid")


class ProblemIn(_In):
    id: str = Field(
        min_length=1, max_length=128, pattern=r"^\S+$", description="The problem's reference."
    )
    title: Title
    cis: Refs = Field(
        default_factory=list, description="CIs at fault (suspected): id, kind=value or name."
    )
    incident_ids: Refs = Field(default_factory=list, description="Incidents it causes.")
    symptoms: Symptoms = Field(default_factory=list, description="Error messages and signs.")
    description: Text = ""
    category: Category = ""
    root_cause: Text = Field(default="", description="Known already: it starts a known error.")
    workaround: Text = Field(default="", description="Known already: it starts a known error.")


class ProblemPatchIn(_In):
    """Only the fields given change; lists replace the stored ones. Recording a root cause
    or a workaround on an open problem makes it a known error."""

    title: Title | None = None
    description: Text | None = None
    category: Category | None = None
    symptoms: Symptoms | None = None
    root_cause: Text | None = None
    workaround: Text | None = None
    cis: Refs | None = Field(default=None, description="The CIs at fault, replacing them.")


class ProblemTransitionIn(_In):
    to: ProblemState = Field(description="The next state.")


class ProblemLinksIn(_In):
    incident_ids: Refs = Field(default_factory=list, description="Incidents it causes.")
    change_ids: Refs = Field(default_factory=list, description="Changes raised to fix it.")


# --- reading -------------------------------------------------------------------------------


@router.get("", operation_id="listProblems", response_model=ProblemListOut)
def list_problems(
    _: Reader,
    store: Store,
    vis: Visible,
    ci: Annotated[
        str | None, Query(description="problems naming this CI (at fault) or service (affected)")
    ] = None,
    state: Annotated[list[ProblemState] | None, Query(description="repeatable")] = None,
    known_error: Annotated[
        bool | None,
        Query(
            description="true: the known error database (open problems whose root cause or"
            " workaround is known); false: the others"
        ),
    ] = None,
    incident: Annotated[str | None, Query(description="problems linked to this incident")] = None,
) -> ProblemListOut:
    """Problems by reference, filtered by CI or service, state, known error or incident."""
    ci_id = resolve_visible(store, vis, ci, where="ci").id if ci else None
    if incident is not None and not incident_readable(store, vis, incident):
        raise NotFound(f"no incident {incident!r}", where="incident")
    found = [
        p
        for p in store.list_problems(ci_id=ci_id)
        if readable(vis, p)
        and (not state or p.state in state)
        and (known_error is None or (p.known and p.state in OPEN_STATES) is known_error)
        and (incident is None or incident in p.incident_ids)
    ]
    found.sort(key=lambda p: p.id)
    return ProblemListOut(items=[problem_out(store, vis, p) for p in found])


@router.get("/similar", operation_id="similarProblems", response_model=SimilarProblemsOut)
def get_similar_problems(
    _: Reader,
    store: Store,
    vis: Visible,
    ci: Annotated[str, Query(description="The CI in trouble: id, kind=value or unique name.")],
    text: Annotated[
        str,
        Query(max_length=MAX_QUERY_TEXT, description="Symptoms or an error message, if any."),
    ] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_SIMILAR)] = 10,
) -> SimilarProblemsOut:
    """Similar past problems for a CI, best first, each with its score and the evidence
    for it: the CI was at fault, an incident of the problem hit it, a CI at fault is the
    same class and version or package, or near it in the graph (with the path), and shared
    words with ``text``. A known error's workaround is what a service desk tries first."""
    return similar_for(store, vis, ci, text=text, limit=limit)


def similar_for(
    store: GraphStore, vis: Visibility, ci: str, *, text: str, limit: int
) -> SimilarProblemsOut:
    target = resolve_visible(store, vis, ci, where="ci")
    view = in_view(store, vis)
    found = similar_problems(view, target.id, text=text, limit=limit)
    return SimilarProblemsOut(
        ci_id=target.id,
        items=[
            SimilarProblemOut(
                problem=problem_out(store, vis, s.problem),
                score=s.score,
                reasons=s.reasons,
                known_error=s.known_error,
            )
            for s in found
        ],
    )


@router.get("/{problem_id}", operation_id="getProblem", response_model=ProblemOut)
def get_problem(problem_id: str, _: Reader, store: Store, vis: Visible) -> ProblemOut:
    """One problem: CIs at fault, services affected, incidents, fixing changes, root cause,
    workaround, and the states it may go to next."""
    return problem_out(store, vis, visible_problem(store, vis, problem_id))


# --- writing -------------------------------------------------------------------------------


def _resolve(store: GraphStore, vis: Visibility, refs: list[str], where: str) -> list[CI]:
    found: dict[str, CI] = {}
    for i, ref in enumerate(refs):
        ci = resolve_visible(store, vis, ref, where=f"{where}.{i}")
        found.setdefault(ci.id, ci)
    return list(found.values())


@router.post("", operation_id="logProblem", status_code=201, response_model=ProblemOut)
def log_problem_route(
    body: ProblemIn, request: Request, store: Store, principal: Editor, vis: Visible
) -> ProblemOut:
    """Log a problem against the CIs at fault and/or the incidents it causes; the services
    affected are those of the incidents and those a failure of the CIs takes down or
    degrades. With a root cause or a workaround already known it starts a known error."""
    return log_for(stamped(store, request), vis, principal.name, body)


def log_for(store: GraphStore, vis: Visibility, actor: str, body: ProblemIn) -> ProblemOut:
    """The write behind POST /problems; ``store`` stamped."""
    cis = _resolve(store, vis, body.cis, "cis")
    if not cis and not body.incident_ids:
        raise InvalidInput("a problem names a CI at fault or an incident", where="cis")
    _readable_refs(store, vis, body.incident_ids, ())
    _check_would_record(store, vis, body.id, cis, body.incident_ids, "record it")
    made = log_problem(
        store,
        problem_id=body.id,
        title=body.title,
        cis=cis,
        actor=actor,
        now=now(),
        incident_ids=body.incident_ids,
        symptoms=body.symptoms,
        description=body.description,
        category=body.category,
        root_cause=body.root_cause,
        workaround=body.workaround,
    )
    return problem_out(store, vis, made)


@router.patch("/{problem_id}", operation_id="updateProblem", response_model=ProblemOut)
def update_problem_route(
    problem_id: str,
    body: ProblemPatchIn,
    request: Request,
    store: Store,
    principal: Editor,
    vis: Visible,
) -> ProblemOut:
    """Amend a problem until it is closed. Recording a root cause or a workaround on an open
    problem makes it a known error in the same write; new CIs at fault recompute the
    services affected."""
    return update_for(stamped(store, request), vis, principal.name, problem_id, body)


def update_for(
    store: GraphStore, vis: Visibility, actor: str, problem_id: str, body: ProblemPatchIn
) -> ProblemOut:
    problem = _writable_problem(store, vis, problem_id, "amend it")
    given: Mapping[str, Any] = body.model_dump(include=body.model_fields_set)
    if not given:
        raise InvalidInput("nothing to change: give at least one field", where="body")
    fields: dict[str, object] = {k: v for k, v in given.items() if k != "cis"}
    if body.cis is not None:
        cis = _resolve(store, vis, body.cis, "cis")
        if not cis and not problem.incident_ids:
            raise InvalidInput("a problem names a CI at fault or an incident", where="cis")
        _check_would_record(
            store, vis, problem_id, cis, problem.incident_ids, "name CIs outside it"
        )
        fields["ci_ids"] = [c.id for c in cis]
    updated = update_problem(store, problem_id, fields, actor=actor, now=now())
    return problem_out(store, vis, updated)


@router.post(
    "/{problem_id}/transition", operation_id="transitionProblem", response_model=ProblemOut
)
def transition_problem_route(
    problem_id: str,
    body: ProblemTransitionIn,
    request: Request,
    store: Store,
    principal: Editor,
    vis: Visible,
) -> ProblemOut:
    """One step of its life (logged, investigating, known_error, resolved, closed); an
    illegal one is refused (422) naming the state and the allowed next ones, and a known
    error needs its root cause or a workaround recorded first."""
    return transition_for(stamped(store, request), vis, principal.name, problem_id, body)


def transition_for(
    store: GraphStore, vis: Visibility, actor: str, problem_id: str, body: ProblemTransitionIn
) -> ProblemOut:
    _writable_problem(store, vis, problem_id, "move it")
    moved = transition_problem(store, problem_id, body.to, actor=actor, now=now())
    return problem_out(store, vis, moved)


@router.post("/{problem_id}/links", operation_id="linkProblem", response_model=ProblemOut)
def link_problem_route(
    problem_id: str,
    body: ProblemLinksIn,
    request: Request,
    store: Store,
    principal: Editor,
    vis: Visible,
) -> ProblemOut:
    """Link the incidents it causes (their services join the affected ones) and the
    changes raised to remove the cause."""
    return link_for(stamped(store, request), vis, principal.name, problem_id, body)


def link_for(
    store: GraphStore, vis: Visibility, actor: str, problem_id: str, body: ProblemLinksIn
) -> ProblemOut:
    problem = _writable_problem(store, vis, problem_id, "link it")
    if not body.incident_ids and not body.change_ids:
        raise InvalidInput("give incident_ids, change_ids or both", where="body")
    _readable_refs(store, vis, body.incident_ids, body.change_ids)
    if not vis.unrestricted:
        cis = [store.get_ci(c) for c in problem.ci_ids]
        incidents = [*problem.incident_ids, *body.incident_ids]
        _check_would_record(store, vis, problem_id, cis, incidents, "link it")
    linked = link(
        store,
        problem_id,
        actor=actor,
        incident_ids=body.incident_ids,
        change_ids=body.change_ids,
    )
    return problem_out(store, vis, linked)
