"""``cmdb problem log|list|show|update|transition|link|similar``: problems and known
errors; the same use cases as REST and GraphQL (cmdb/app/problems.py).

Registered by the main CLI as ``app.add_typer(problem.app, name="problem")``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cmdb.app import problems
from cmdb.app.inputs import resolve_visible, validated
from cmdb.app.problem_inputs import NewProblem, ProblemLinks, ProblemPatch, ProblemStep, Words
from cmdb.domain.errors import InvalidInput, NotFound
from cmdb.domain.records import Problem, ProblemState
from cmdb.practice.problems import allowed_next
from cmdb.store.contract import GraphStore

from ._common import CliGroup, JsonOpt, cli, console, print_json
from .change import EVERYTHING, AtOpt, now_or, when_text

app = typer.Typer(
    cls=CliGroup,
    no_args_is_help=True,
    help="Problems and known errors: CIs at fault, incidents, workarounds, similar problems.",
)

IdArg = Annotated[str, typer.Argument(help="The problem's reference, e.g. PRB-000042.")]

# Errors name the arguments and options; a missing problem or incident is the store's answer.
# (An empty update or link is refused here first, naming the options to give.)
WORDS = Words(problem_id=None, cis="--ci", indexed=False, ci="--ci", incident=None, target="CI")


def _name(store: GraphStore, ci_id: str) -> str:
    # A problem may outlive a CI it names (an old snapshot): show the id rather than fail.
    try:
        return store.get_ci(ci_id).name
    except NotFound:
        return ci_id


def _dump(p: Problem) -> dict[str, object]:
    """The record as the REST API answers it: with known_error and allowed_next."""
    return {
        **p.model_dump(mode="json"),
        "known_error": p.known,
        "allowed_next": [s.value for s in allowed_next(p)],
    }


def _show(store: GraphStore, p: Problem, as_json: bool) -> None:
    if as_json:
        print_json(_dump(p))
        return
    con = console()
    con.print(f"{p.id}  {p.title}" + ("  [bold]KNOWN ERROR[/]" if p.known else ""))
    t = Table(show_header=False, box=None)
    rows = [
        ("state", p.state.value),
        ("allowed next", ", ".join(s.value for s in allowed_next(p)) or "none"),
        ("category", p.category),
        ("CIs at fault", ", ".join(_name(store, c) for c in p.ci_ids)),
        ("services affected", ", ".join(_name(store, s) for s in p.service_ids)),
        ("incidents", ", ".join(p.incident_ids)),
        ("changes", ", ".join(p.change_ids)),
        ("symptoms", "\n".join(p.symptoms)),
        ("description", p.description),
        ("root cause", p.root_cause),
        ("workaround", p.workaround),
        ("opened", when_text(p.opened_at)),
        ("known error", when_text(p.known_error_at)),
        ("resolved", when_text(p.resolved_at)),
    ]
    for k, v in rows:
        if v:
            t.add_row(k, v)
    con.print(t)


@app.command("log")
def log(
    ctx: typer.Context,
    problem_id: IdArg,
    title: Annotated[str, typer.Option("--title")],
    ci: Annotated[list[str], typer.Option("--ci", help="A CI at fault; repeatable.")] = [],  # noqa: B006
    incident: Annotated[
        list[str], typer.Option("--incident", help="An incident it causes; repeatable.")
    ] = [],  # noqa: B006
    symptom: Annotated[
        list[str], typer.Option("--symptom", help="An error message or sign; repeatable.")
    ] = [],  # noqa: B006
    description: Annotated[str, typer.Option("--description")] = "",
    category: Annotated[str, typer.Option("--category", help="Suspected cause category.")] = "",
    root_cause: Annotated[str, typer.Option("--root-cause")] = "",
    workaround: Annotated[str, typer.Option("--workaround")] = "",
    at: AtOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Log a problem against the CIs at fault and/or its incidents; with a root cause or a
    workaround already known it starts as a known error."""
    state = cli(ctx)
    store = state.store()
    new = validated(
        NewProblem,
        {
            "id": problem_id,
            "title": title,
            "cis": ci,
            "incident_ids": incident,
            "symptoms": symptom,
            "description": description,
            "category": category,
            "root_cause": root_cause,
            "workaround": workaround,
        },
    )
    made = problems.log(store, state.caller(), EVERYTHING, new, at=now_or(at), words=WORDS)
    _show(store, made, as_json)


@app.command("show")
def show(ctx: typer.Context, problem_id: IdArg, as_json: JsonOpt = False) -> None:
    """One problem with the states it may go to next."""
    store = cli(ctx).store()
    _show(store, problems.get(store, EVERYTHING, problem_id, WORDS), as_json)


@app.command("list")
def list_(
    ctx: typer.Context,
    ci: Annotated[
        str | None, typer.Option("--ci", help="Problems naming this CI or service.")
    ] = None,
    state: Annotated[list[ProblemState], typer.Option("--state", help="Repeatable.")] = [],  # noqa: B006
    known_errors: Annotated[
        bool,
        typer.Option(
            "--known-errors",
            help="Only the known error database: open problems with a root cause or workaround.",
        ),
    ] = False,
    incident: Annotated[
        str | None, typer.Option("--incident", help="Problems linked to this incident.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Problems, by reference."""
    store = cli(ctx).store()
    found = problems.list_problems(
        store,
        EVERYTHING,
        ci=ci,
        states=state,
        known_error=True if known_errors else None,
        incident=incident,
        words=WORDS,
    )
    if as_json:
        print_json([_dump(p) for p in found])
        return
    t = Table()
    for col in ("problem", "title", "state", "known error", "CIs at fault", "workaround"):
        t.add_column(col, overflow="fold")
    for p in found:
        t.add_row(
            p.id,
            p.title,
            p.state.value,
            "yes" if p.known else "",
            ", ".join(_name(store, c) for c in p.ci_ids),
            p.workaround,
        )
    console().print(t)


@app.command("transition")
def transition_(
    ctx: typer.Context,
    problem_id: IdArg,
    to: Annotated[ProblemState, typer.Argument(help="The next state.")],
    at: AtOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Move a problem to its next state (a known error needs its root cause or a
    workaround recorded first: `cmdb problem update --workaround ...` does both)."""
    state = cli(ctx)
    store = state.store()
    step = ProblemStep(to=to)
    moved = problems.transition(
        store, state.caller(), EVERYTHING, problem_id, step, at=now_or(at), words=WORDS
    )
    _show(store, moved, as_json)


@app.command("update")
def update(
    ctx: typer.Context,
    problem_id: IdArg,
    title: Annotated[str | None, typer.Option("--title")] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    category: Annotated[str | None, typer.Option("--category")] = None,
    root_cause: Annotated[str | None, typer.Option("--root-cause")] = None,
    workaround: Annotated[str | None, typer.Option("--workaround")] = None,
    symptom: Annotated[list[str], typer.Option("--symptom", help="Add a symptom.")] = [],  # noqa: B006
    ci: Annotated[list[str], typer.Option("--ci", help="Add a CI at fault.")] = [],  # noqa: B006
    drop_ci: Annotated[
        list[str], typer.Option("--drop-ci", help="No longer suspect this CI.")
    ] = [],  # noqa: B006
    at: AtOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Amend a problem until it is closed. Recording a root cause or a workaround on an open
    problem makes it a known error; changed CIs at fault recompute the services affected."""
    state = cli(ctx)
    store = state.store()
    p = problems.get(store, EVERYTHING, problem_id, WORDS)
    scalars = {
        "title": title,
        "description": description,
        "category": category,
        "root_cause": root_cause,
        "workaround": workaround,
    }
    fields: dict[str, object] = {k: v for k, v in scalars.items() if v is not None}
    if symptom:
        fields["symptoms"] = list(dict.fromkeys([*p.symptoms, *symptom]))
    if ci or drop_ci:
        added = [resolve_visible(store, EVERYTHING, r, where="--ci").id for r in ci]
        dropped = {resolve_visible(store, EVERYTHING, r, where="--drop-ci").id for r in drop_ci}
        fields["cis"] = [c for c in dict.fromkeys([*p.ci_ids, *added]) if c not in dropped]
    if not fields:
        raise InvalidInput("nothing to change: give at least one option", where=problem_id)
    patch = validated(ProblemPatch, fields)
    updated = problems.update(
        store, state.caller(), EVERYTHING, problem_id, patch, at=now_or(at), words=WORDS
    )
    _show(store, updated, as_json)


@app.command("link")
def link_(
    ctx: typer.Context,
    problem_id: IdArg,
    incident: Annotated[
        list[str], typer.Option("--incident", help="An incident it causes; repeatable.")
    ] = [],  # noqa: B006
    change: Annotated[
        list[str], typer.Option("--change", help="A change raised to fix it; repeatable.")
    ] = [],  # noqa: B006
    as_json: JsonOpt = False,
) -> None:
    """Link incidents (their services join the affected ones) and fixing changes."""
    state = cli(ctx)
    store = state.store()
    if not incident and not change:
        raise InvalidInput("give --incident, --change or both", where=problem_id)
    links = validated(ProblemLinks, {"incident_ids": incident, "change_ids": change})
    linked = problems.link(store, state.caller(), EVERYTHING, problem_id, links, words=WORDS)
    _show(store, linked, as_json)


@app.command("similar")
def similar(
    ctx: typer.Context,
    ci: Annotated[str, typer.Argument(help="The CI in trouble: id, kind=value or name.")],
    text: Annotated[
        str, typer.Option("--text", help="Symptoms or an error message: adds word evidence.")
    ] = "",
    limit: Annotated[int, typer.Option("--limit", min=1)] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Similar past problems for a CI, best first, with the evidence for each score."""
    store = cli(ctx).store()
    got = problems.similar(store, EVERYTHING, ci, text=text, limit=limit, words=WORDS)
    target, found = got.ci, got.items
    if as_json:
        print_json(found)
        return
    t = Table(title=f"problems like one on {target.name}", title_justify="left")
    for col in ("problem", "title", "state", "score", "known error: workaround", "reasons"):
        t.add_column(col, overflow="fold")
    for s in found:
        p = s.problem
        t.add_row(
            p.id,
            p.title,
            p.state.value,
            f"{s.score:g}",
            (p.workaround or p.root_cause) if s.known_error else "",
            "\n".join(s.reasons),
        )
    console().print(t)
    if not found:
        console().print("no similar problem")
