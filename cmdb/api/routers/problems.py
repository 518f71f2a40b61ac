"""``/problems``: problems and known errors, logged against the CIs at fault and linked to
their incidents and fixing changes, moved through their life, and the similar past problems
for a CI (the service desk's first look); the same practice as ``cmdb problem ...``
(cmdb/practice/problems.py, cmdb/practice/similar.py).

The same use cases as GraphQL and ``cmdb problem ...`` (cmdb/app/problems.py), scope
included: a scoped token reads a problem that names a CI or service in its view, shown with
only the ids it may see (linked incidents and changes included), and writes only problems
whose CIs and services, those the write would record included, are all in it. Similar
problems are scored from what the token sees only, so no reason names a CI outside its view.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from cmdb.api.routers._shared import caller
from cmdb.app import problems
from cmdb.app.problem_inputs import (
    DEFAULT_SIMILAR,
    MAX_QUERY_TEXT,
    MAX_SIMILAR,
    NewProblem,
    ProblemLinks,
    ProblemPatch,
    ProblemStep,
)
from cmdb.domain.records import Problem, ProblemState
from cmdb.practice.problems import allowed_next
from cmdb.web.deps import Editor, Reader, Store, Visible

router = APIRouter(prefix="/problems", tags=["problems"])


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


def problem_out(problem: Problem) -> ProblemOut:
    return ProblemOut.model_validate(
        {
            **problem.model_dump(),
            "known_error": problem.known,
            "allowed_next": allowed_next(problem),
        }
    )


# The bodies are the use cases' inputs (unknown or server-owned fields get 422).
class ProblemIn(NewProblem):
    pass


class ProblemPatchIn(ProblemPatch):
    """Only the fields given change; lists replace the stored ones. Recording a root cause
    or a workaround on an open problem makes it a known error."""


class ProblemTransitionIn(ProblemStep):
    pass


class ProblemLinksIn(ProblemLinks):
    pass


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
    found = problems.list_problems(
        store, vis, ci=ci, states=state, known_error=known_error, incident=incident
    )
    return ProblemListOut(items=[problem_out(p) for p in found])


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
    limit: Annotated[int, Query(ge=1, le=MAX_SIMILAR)] = DEFAULT_SIMILAR,
) -> SimilarProblemsOut:
    """Similar past problems for a CI, best first, each with its score and the evidence
    for it: the CI was at fault, an incident of the problem hit it, a CI at fault is the
    same class and version or package, or near it in the graph (with the path), and shared
    words with ``text``. A known error's workaround is what a service desk tries first."""
    got = problems.similar(store, vis, ci, text=text, limit=limit)
    return SimilarProblemsOut(
        ci_id=got.ci.id,
        items=[
            SimilarProblemOut(
                problem=problem_out(s.problem),
                score=s.score,
                reasons=s.reasons,
                known_error=s.known_error,
            )
            for s in got.items
        ],
    )


@router.get("/{problem_id}", operation_id="getProblem", response_model=ProblemOut)
def get_problem(problem_id: str, _: Reader, store: Store, vis: Visible) -> ProblemOut:
    """One problem: CIs at fault, services affected, incidents, fixing changes, root cause,
    workaround, and the states it may go to next."""
    return problem_out(problems.get(store, vis, problem_id))


# --- writing -------------------------------------------------------------------------------


@router.post("", operation_id="logProblem", status_code=201, response_model=ProblemOut)
def log_problem_route(
    body: ProblemIn, request: Request, store: Store, principal: Editor, vis: Visible
) -> ProblemOut:
    """Log a problem against the CIs at fault and/or the incidents it causes; the services
    affected are those of the incidents and those a failure of the CIs takes down or
    degrades. With a root cause or a workaround already known it starts a known error."""
    made = problems.log(store, caller(principal, request), vis, body)
    return problem_out(made)


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
    updated = problems.update(store, caller(principal, request), vis, problem_id, body)
    return problem_out(updated)


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
    moved = problems.transition(store, caller(principal, request), vis, problem_id, body)
    return problem_out(moved)


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
    linked = problems.link(store, caller(principal, request), vis, problem_id, body)
    return problem_out(linked)
