"""``cmdb change ...``: RFCs, their lifecycle, risk, schedule, collisions, windows, review;
the same use cases as REST and GraphQL (cmdb/app/changes.py, change_schedule.py).

Registered by the main CLI as ``app.add_typer(change.app, name="change")``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from cmdb.app import change_schedule, changes
from cmdb.app.change_inputs import ChangePatch, ChangeReview, ChangeStep, NewChange, Words
from cmdb.app.inputs import resolve_visible
from cmdb.app.scope import Visibility
from cmdb.domain.errors import InvalidInput
from cmdb.domain.records import (
    ApprovalLevel,
    Change,
    ChangeOutcome,
    ChangePriority,
    ChangeState,
    ChangeType,
    ExpectedImpact,
)
from cmdb.practice.lifecycle import allowed_next
from cmdb.practice.policy import Policy
from cmdb.practice.scheduling import ScheduleRow
from cmdb.store.contract import GraphStore

from ._common import Cli, CliGroup, JsonOpt, cli, console, parse_instant, print_json

app = typer.Typer(
    cls=CliGroup,
    no_args_is_help=True,
    help="Changes (RFCs): lifecycle, risk and approval, schedule, collisions, windows, review.",
)

IdArg = Annotated[str, typer.Argument(help="The RFC's reference, e.g. RFC-2026-0042.")]
AtOpt = Annotated[
    str | None,
    typer.Option("--at", metavar="TIME", help="The instant to act at (ISO 8601); default now."),
]


# The CLI works on the database itself: it sees everything, acts as the configured actor
# (Cli.caller), and its errors name its arguments and options.
EVERYTHING = Visibility()
WORDS = Words(
    body=None,
    change_id=None,
    cis="--ci",
    services="--service",
    ci_versions="--ci-version",
    indexed=False,
    to="STATE",
    review="use `cmdb change review`",
    ci="--ci",
    service="--service",
    start="--from",
    end="--to",
    days="--days",
    minutes="--minutes",
)


def policy_of(state: Cli) -> Policy:
    return changes.policy_of(state.settings)


def now_or(text: str | None, where: str = "--at") -> datetime:
    at = parse_instant(text, where=where)
    return at if at is not None else datetime.now(UTC)


def when_text(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M %Z") if at else ""


def _refs(store: GraphStore, refs: list[str], where: str) -> list[str]:
    return list(dict.fromkeys(resolve_visible(store, EVERYTHING, r, where=where).id for r in refs))


def _pairs(pairs: list[str]) -> dict[str, str]:
    """CI=VERSION options as CI reference -> version."""
    out: dict[str, str] = {}
    for pair in pairs:
        ref, sep, version = pair.rpartition("=")
        if not sep or not ref or not version:
            raise InvalidInput(f"expected CI=VERSION, got {pair!r}", where="--ci-version")
        out[ref] = version
    return out


def _versions(store: GraphStore, pairs: list[str]) -> dict[str, str]:
    return {_refs(store, [ref], "--ci-version")[0]: v for ref, v in _pairs(pairs).items()}


@app.command("create")
def create(
    ctx: typer.Context,
    change_id: IdArg,
    title: Annotated[str, typer.Option("--title", help="What the change does.")],
    ci: Annotated[list[str], typer.Option("--ci", help="An affected CI; repeatable.")] = [],  # noqa: B006
    ci_version: Annotated[
        list[str],
        typer.Option("--ci-version", metavar="CI=VERSION", help="Version a CI will have."),
    ] = [],  # noqa: B006
    service: Annotated[list[str], typer.Option("--service", help="A service it concerns.")] = [],  # noqa: B006
    type_: Annotated[ChangeType, typer.Option("--type")] = ChangeType.NORMAL,
    priority: Annotated[ChangePriority, typer.Option("--priority")] = ChangePriority.NORMAL,
    requester: Annotated[str, typer.Option("--requester")] = "",
    start: Annotated[str | None, typer.Option("--start", metavar="TIME")] = None,
    end: Annotated[str | None, typer.Option("--end", metavar="TIME")] = None,
    reason: Annotated[str, typer.Option("--reason")] = "",
    benefit: Annotated[str, typer.Option("--benefit", help="The business benefit.")] = "",
    backout: Annotated[str, typer.Option("--backout", help="The back-out plan.")] = "",
    impact: Annotated[ExpectedImpact | None, typer.Option("--impact")] = None,
    related: Annotated[list[str], typer.Option("--related", help="A related RFC.")] = [],  # noqa: B006
    reference: Annotated[list[str], typer.Option("--reference")] = [],  # noqa: B006
    resource: Annotated[list[str], typer.Option("--resource")] = [],  # noqa: B006
    at: AtOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Raise an RFC (a draft)."""
    state = cli(ctx)
    store = state.store()
    new = NewChange(
        id=change_id,
        title=title,
        type=type_,
        priority=priority,
        requester=requester,
        cis=ci,
        ci_versions=_pairs(ci_version),
        services=service,
        planned_start=parse_instant(start, where="--start"),
        planned_end=parse_instant(end, where="--end"),
        reason=reason,
        business_benefit=benefit,
        backout_plan=backout,
        expected_impact=impact,
        related_changes=related,
        references=reference,
        resources=resource,
    )
    made = changes.create(store, state.caller(), EVERYTHING, new, at=now_or(at), words=WORDS)
    _show(store, made, as_json)


def _show(store: GraphStore, ch: Change, as_json: bool) -> None:
    nxt = [s.value for s in allowed_next(ch)]
    if as_json:
        print_json({**ch.model_dump(mode="json"), "allowed_next": nxt})
        return
    con = console()
    names = [store.get_ci(c).name for c in ch.ci_ids]
    con.print(f"{ch.id}  {ch.title}")
    t = Table(show_header=False, box=None)
    rows = [
        ("type / priority", f"{ch.type.value} / {ch.priority.value}"),
        ("state", ch.state.value + (" (REVIEW REQUIRED)" if ch.review_required else "")),
        ("allowed next", ", ".join(nxt) or "none"),
        ("requester", ch.requester),
        (
            "CIs",
            ", ".join(
                n + (f" -> {ch.ci_versions[c]}" if c in ch.ci_versions else "")
                for c, n in zip(ch.ci_ids, names, strict=True)
            ),
        ),
        ("services", ", ".join(store.get_ci(s).name for s in ch.service_ids)),
        ("window", f"{when_text(ch.planned_start)} - {when_text(ch.planned_end)}"),
        ("reason", ch.reason),
        ("benefit", ch.business_benefit),
        ("back-out", ch.backout_plan),
        ("expected impact", ch.expected_impact.value if ch.expected_impact else ""),
        (
            "risk",
            f"{ch.risk.risk_class.value}, approval: {ch.risk.approval.value}"
            # The proposal version judged: authorising judges another one again.
            + (f", on proposal v{ch.risk.proposal_version}" if ch.risk.proposal_version else "")
            + f" ({ch.risk.why})"
            if ch.risk
            else "not assessed",
        ),
        ("outcome", ch.outcome.value if ch.outcome else ""),
        ("incidents", ", ".join(ch.incident_ids)),
        ("related", ", ".join(ch.related_changes)),
    ]
    for k, v in rows:
        if v:
            t.add_row(k, v)
    con.print(t)
    log = Table(title="log", title_justify="left")
    # The authority column only once someone decided with one: older logs look as before.
    decided = any(e.authority for e in ch.log)
    cols = ("state", "at", "by", "authority", "note") if decided else ("state", "at", "by", "note")
    for col in cols:
        log.add_column(col, overflow="fold")
    for e in ch.log:
        cells = [e.state.value, when_text(e.at), e.by]
        if decided:
            cells.append(e.authority.value if e.authority else "")
        log.add_row(*cells, e.note)
    con.print(log)


@app.command("show")
def show(ctx: typer.Context, change_id: IdArg, as_json: JsonOpt = False) -> None:
    """One RFC with its log and the states it may go to next."""
    store = cli(ctx).store()
    _show(store, changes.get(store, EVERYTHING, change_id, WORDS), as_json)


@app.command("list")
def list_(
    ctx: typer.Context,
    state: Annotated[ChangeState | None, typer.Option("--state")] = None,
    ci: Annotated[str | None, typer.Option("--ci", help="Changes that name this CI.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """RFCs, by reference."""
    store = cli(ctx).store()
    states = None if state is None else [state]
    found = changes.list_changes(store, EVERYTHING, states=states, ci=ci, words=WORDS)
    if as_json:
        print_json(found)
        return
    t = Table()
    for col in ("RFC", "title", "type", "state", "start", "end", "risk"):
        t.add_column(col, overflow="fold")
    for c in found:
        t.add_row(
            c.id,
            c.title,
            c.type.value,
            c.state.value,
            when_text(c.planned_start),
            when_text(c.planned_end),
            c.risk.risk_class.value if c.risk else "",
        )
    console().print(t)


@app.command("transition")
def transition_(
    ctx: typer.Context,
    change_id: IdArg,
    to: Annotated[ChangeState, typer.Argument(help="The next state.")],
    note: Annotated[str, typer.Option("--note")] = "",
    start: Annotated[
        str | None, typer.Option("--start", metavar="TIME", help="Set the window first.")
    ] = None,
    end: Annotated[str | None, typer.Option("--end", metavar="TIME")] = None,
    authority: Annotated[
        ApprovalLevel | None,
        typer.Option(
            "--authority",
            help="The change authority that decided (recorded on the log, and checked"
            " against the approval the change needs); default: none recorded, unchecked.",
        ),
    ] = None,
    at: AtOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Move an RFC to its next state (review: use `change review`). Working on the database
    itself, the CLI is not held to approval levels; --authority records who decided. A
    standard change authorised unassessed is assessed in the same step (recorded; with
    --authority, pre-approved only within the policy's ceiling)."""
    state = cli(ctx)
    store = state.store()
    step = ChangeStep(
        to=to,
        note=note,
        planned_start=parse_instant(start, where="--start"),
        planned_end=parse_instant(end, where="--end"),
    )
    moved = changes.transition(
        store,
        state.caller(),
        EVERYTHING,
        change_id,
        step,
        policy_of(state),
        authority=authority,
        at=now_or(at),
        words=WORDS,
    )
    _show(store, moved, as_json)


@app.command("update")
def update(
    ctx: typer.Context,
    change_id: IdArg,
    title: Annotated[str | None, typer.Option("--title")] = None,
    ci: Annotated[list[str], typer.Option("--ci", help="Add an affected CI.")] = [],  # noqa: B006
    drop_ci: Annotated[
        list[str], typer.Option("--drop-ci", help="It no longer changes this CI (nor its version).")
    ] = [],  # noqa: B006
    ci_version: Annotated[list[str], typer.Option("--ci-version", metavar="CI=VERSION")] = [],  # noqa: B006
    service: Annotated[
        list[str], typer.Option("--service", help="Add a service it concerns.")
    ] = [],  # noqa: B006
    drop_service: Annotated[
        list[str], typer.Option("--drop-service", help="It no longer concerns this service.")
    ] = [],  # noqa: B006
    priority: Annotated[ChangePriority | None, typer.Option("--priority")] = None,
    start: Annotated[str | None, typer.Option("--start", metavar="TIME")] = None,
    end: Annotated[str | None, typer.Option("--end", metavar="TIME")] = None,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
    benefit: Annotated[str | None, typer.Option("--benefit")] = None,
    backout: Annotated[str | None, typer.Option("--backout")] = None,
    impact: Annotated[ExpectedImpact | None, typer.Option("--impact")] = None,
    related: Annotated[list[str], typer.Option("--related", help="Add a related RFC.")] = [],  # noqa: B006
    reference: Annotated[list[str], typer.Option("--reference")] = [],  # noqa: B006
    resource: Annotated[list[str], typer.Option("--resource")] = [],  # noqa: B006
    as_json: JsonOpt = False,
) -> None:
    """Amend an RFC: its documentation (services included) until it is closed (an emergency
    change is documented after the fact this way); its CIs and window only as a draft or
    assessed (which drops the assessment), or for an emergency change."""
    state = cli(ctx)
    store = state.store()
    ch = changes.get(store, EVERYTHING, change_id, WORDS)
    fields: dict[str, object] = {}
    scalars = {
        "title": title,
        "priority": priority,
        "reason": reason,
        "business_benefit": benefit,
        "backout_plan": backout,
        "expected_impact": impact,
        "planned_start": parse_instant(start, where="--start"),
        "planned_end": parse_instant(end, where="--end"),
    }
    fields.update({k: v for k, v in scalars.items() if v is not None})
    versions = _versions(store, ci_version)
    added = [*_refs(store, ci, "--ci"), *versions]
    dropped = set(_refs(store, drop_ci, "--drop-ci"))
    if dropped & set(added):
        raise InvalidInput("a CI cannot be both added and dropped", where="--drop-ci")
    if added or dropped:
        fields["cis"] = [c for c in dict.fromkeys([*ch.ci_ids, *added]) if c not in dropped]
    if versions or dropped & set(ch.ci_versions):
        kept = {**ch.ci_versions, **versions}
        fields["ci_versions"] = {c: v for c, v in kept.items() if c not in dropped}
    services = _refs(store, service, "--service")
    gone = set(_refs(store, drop_service, "--drop-service"))
    if gone & set(services):
        raise InvalidInput("a service cannot be both added and dropped", where="--drop-service")
    if services or gone:
        kept_services = dict.fromkeys([*ch.service_ids, *services])
        fields["services"] = [s for s in kept_services if s not in gone]
    for name, extra in (
        ("related_changes", related),
        ("references", reference),
        ("resources", resource),
    ):
        if extra:
            fields[name] = list(dict.fromkeys([*getattr(ch, name), *extra]))
    if not fields:
        raise InvalidInput("nothing to change: give at least one option", where=change_id)
    # The options add to and drop from the stored lists; the amendment replaces them.
    patch = ChangePatch.model_validate(fields)
    _show(
        store,
        changes.update(store, state.caller(), EVERYTHING, change_id, patch, words=WORDS),
        as_json,
    )


@app.command("assess")
def assess(
    ctx: typer.Context, change_id: IdArg, at: AtOpt = None, as_json: JsonOpt = False
) -> None:
    """Assess the risk (impact engine + failed-change history, through the policy's rules)
    and record it; a draft moves to assessed."""
    state = cli(ctx)
    _, result = changes.assess(
        state.store(),
        state.caller(),
        EVERYTHING,
        change_id,
        policy_of(state),
        at=now_or(at),
        words=WORDS,
    )
    if as_json:
        print_json(result)
        return
    con = console()
    con.print(
        f"{result.change_id}: risk {result.risk_class.value}, approval {result.approval.value}"
    )
    con.print(f"why: {result.why}")
    f = result.facts
    con.print(
        f"impact score {f.score:g}, worst service {f.worst_severity}, customers"
        f" {len(f.customers)}, failed changes {f.history.failed}/{f.history.reviewed},"
        f" sites {len(f.sites)}"
    )
    t = Table(title="rules, in order", title_justify="left")
    for col in ("rule", "fired", "because"):
        t.add_column(col, overflow="fold")
    for c in result.checks:
        t.add_row(c.rule, "yes" if c.fired else "no", "; ".join(c.reasons))
    con.print(t)


@app.command("schedule")
def schedule(
    ctx: typer.Context,
    from_: Annotated[str | None, typer.Option("--from", metavar="TIME")] = None,
    to: Annotated[str | None, typer.Option("--to", metavar="TIME")] = None,
    days: Annotated[int, typer.Option("--days", min=1, help="Without --to: this many.")] = 30,
    service: Annotated[str | None, typer.Option("--service")] = None,
    ci: Annotated[str | None, typer.Option("--ci")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The schedule of changes in a period, optionally for one service or CI."""
    store = cli(ctx).store()
    got = change_schedule.schedule(
        store,
        EVERYTHING,
        start=now_or(from_, "--from"),
        end=parse_instant(to, where="--to"),
        days=days,
        service=service,
        ci=ci,
        words=WORDS,
    )
    rows = [_row(r) for r in got.items]
    if as_json:
        print_json(rows)
        return
    t = Table(title=f"changes {when_text(got.start)} - {when_text(got.end)}", title_justify="left")
    for col in ("RFC", "start", "end", "state", "risk", "CIs", "services hit"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(
            r.id,
            when_text(r.start),
            when_text(r.end),
            r.state,
            r.risk or "",
            ", ".join(r.cis),
            ", ".join(r.services),
        )
    console().print(t)


def _row(r: change_schedule.ScheduledChange) -> ScheduleRow:
    """A row as the CLI has always shown it: CIs by name, services as "name (severity)"."""
    return ScheduleRow(
        id=r.id,
        title=r.title,
        type=r.type.value,
        state=r.state.value,
        start=r.start,
        end=r.end,
        risk=r.risk,
        approval=r.approval,
        cis=[c.name for c in r.cis],
        services=[f"{s.name} ({s.severity})" for s in r.services],
    )


@app.command("collisions")
def collisions(
    ctx: typer.Context,
    change_id: Annotated[str | None, typer.Argument(help="Only this RFC's.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Clashes between changes whose windows overlap (same CI, parent and child, a joint
    quorum break or service hit), and every blackout, maintenance-window and service-hour
    violation."""
    store = cli(ctx).store()
    if change_id is not None:
        changes.visible_change(store, EVERYTHING, change_id, where=WORDS.change_id)
    got = change_schedule.collisions(store, EVERYTHING, change_id)
    found, viol = got.collisions, got.violations
    if as_json:
        print_json(got)
        return
    con = console()
    t = Table(title="collisions", title_justify="left")
    for col in ("RFC", "RFC", "kind", "overlap", "detail"):
        t.add_column(col, overflow="fold")
    for c in found:
        t.add_row(c.a, c.b, c.kind, f"{when_text(c.start)} - {when_text(c.end)}", c.detail)
    con.print(t)
    v = Table(title="window violations", title_justify="left")
    for col in ("RFC", "kind", "service", "from", "to", "detail"):
        v.add_column(col, overflow="fold")
    for x in viol:
        v.add_row(x.change_id, x.kind, x.service, when_text(x.start), when_text(x.end), x.detail)
    con.print(v)


@app.command("suggest-window")
def suggest_window(
    ctx: typer.Context,
    change_id: IdArg,
    minutes: Annotated[int, typer.Option("--minutes", min=1, help="How long it takes.")],
    from_: Annotated[str | None, typer.Option("--from", metavar="TIME")] = None,
    days: Annotated[int | None, typer.Option("--days", min=1, help="Search horizon.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The earliest window that fits every impacted service's maintenance windows, avoids
    their service hours and blackouts, and collides with no other change."""
    state = cli(ctx)
    got = change_schedule.suggest_window(
        state.store(),
        EVERYTHING,
        change_id,
        policy_of(state),
        minutes=minutes,
        start=now_or(from_, "--from"),
        days=days,
        words=WORDS,
    )
    if as_json:
        print_json(got)
        return
    con = console()
    if got.start is None:
        con.print(f"{change_id}: no window of {minutes} min until {when_text(got.searched_to)}")
    else:
        con.print(f"{change_id}: {when_text(got.start)} - {when_text(got.end)}")
    con.print(f"respecting: {', '.join(got.services) or 'no impacted service'}")
    if got.avoided:
        con.print(f"kept clear of: {', '.join(got.avoided)}")


@app.command("review")
def review(
    ctx: typer.Context,
    change_id: IdArg,
    outcome: Annotated[ChangeOutcome, typer.Option("--outcome")],
    note: Annotated[str, typer.Option("--note")] = "",
    at: AtOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Post-implementation review: record the outcome and link the incidents on impacted
    CIs opened during the change or soon after."""
    state = cli(ctx)
    got = changes.review(
        state.store(),
        state.caller(),
        EVERYTHING,
        change_id,
        ChangeReview(outcome=outcome, note=note),
        policy_of(state),
        at=now_or(at),
        words=WORDS,
    )
    if as_json:
        print_json({"change": got.change, "linked_incidents": got.linked})
        return
    con = console()
    con.print(f"{change_id}: reviewed, outcome {outcome.value}")
    linked = ", ".join(f"{i.id} ({i.title})" for i in got.linked)
    con.print("linked incidents: " + (linked or "none"))
