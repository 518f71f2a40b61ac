"""``cmdb webhooks``: event rules, their delivery logs, replay, the outbox, and the
delivery worker (``cmdb webhooks deliver``). The same use cases as the REST API
(cmdb.app.webhooks); the secret is printed once, by ``add``."""

from __future__ import annotations

from typing import Annotated

import typer

from cmdb.app import webhooks
from cmdb.domain.errors import InvalidInput
from cmdb.domain.events import WebhookRule

from ._common import CliGroup, JsonOpt, cli, print_json

app = typer.Typer(
    cls=CliGroup,
    no_args_is_help=True,
    help="Webhook rules: send events (CI, relationship, discovery, change, incident) to URLs.",
)

RuleArg = Annotated[str, typer.Argument(help="The rule's id (see cmdb webhooks list).")]


def _row(rule: WebhookRule) -> dict[str, object]:
    return {
        "id": rule.id,
        "url": rule.url,
        "events": [e.value for e in rule.event_types],
        "enabled": rule.enabled,
        "description": rule.description,
        "created_by": rule.created_by,
        "created_at": rule.created_at.isoformat(),
    }


def _line(rule: WebhookRule) -> str:
    kinds = ",".join(e.value for e in rule.event_types) or "*"
    state = "enabled" if rule.enabled else "disabled"
    return f"{rule.id}  {state:<8} {rule.url}  events={kinds}"


@app.command("add")
def add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="Where to POST events (http or https).")],
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event",
            metavar="TYPE",
            help="An event type, e.g. ci.created (repeatable; none: every type).",
        ),
    ] = None,
    description: Annotated[str, typer.Option("--description", help="What it is for.")] = "",
    rule_id: Annotated[
        str | None, typer.Option("--id", help="The rule's id (default: a new wh_... id).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """A new rule; its signing secret is printed this once."""
    state = cli(ctx)
    rule = webhooks.create_rule(
        state.store(),
        state.caller(),
        url=url,
        events=event or [],
        description=description,
        allow_private=state.settings.webhooks_allow_private,
        rule_id=rule_id,
    )
    if as_json:
        print_json({"secret": rule.secret, "rule": _row(rule)})
        return
    typer.echo(rule.secret)
    typer.echo(f"created {_line(rule)}. Store the secret now: it is not shown again.", err=True)


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every rule; never a secret."""
    state = cli(ctx)
    rules = webhooks.list_rules(state.store(), state.caller())
    if as_json:
        print_json([_row(r) for r in rules])
        return
    typer.echo("\n".join(_line(r) for r in rules) if rules else "no webhook rules")


def _enable(ctx: typer.Context, rule_id: str, enabled: bool, as_json: bool) -> None:
    state = cli(ctx)
    rule = webhooks.set_enabled(state.store(), state.caller(), rule_id, enabled)
    if as_json:
        print_json(_row(rule))
    else:
        typer.echo(_line(rule))


@app.command("enable")
def enable(ctx: typer.Context, rule_id: RuleArg, as_json: JsonOpt = False) -> None:
    """Send the rule events again."""
    _enable(ctx, rule_id, True, as_json)


@app.command("disable")
def disable(ctx: typer.Context, rule_id: RuleArg, as_json: JsonOpt = False) -> None:
    """Send the rule nothing until it is enabled."""
    _enable(ctx, rule_id, False, as_json)


@app.command("delete")
def delete(ctx: typer.Context, rule_id: RuleArg) -> None:
    """Delete the rule and its delivery log."""
    state = cli(ctx)
    webhooks.delete_rule(state.store(), state.caller(), rule_id)
    typer.echo(f"deleted {rule_id}")


@app.command("deliveries")
def deliveries(
    ctx: typer.Context,
    rule_id: RuleArg,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The rule's delivery log, newest event first."""
    state = cli(ctx)
    got = webhooks.deliveries(state.store(), state.caller(), rule_id, limit=limit)
    if as_json:
        print_json(got)
        return
    if not got:
        typer.echo("no deliveries")
    for d in got:
        last = d.log[-1] if d.log else None
        answer = "" if last is None else f"  last: {last.status_code or '-'} {last.error or 'ok'}"
        typer.echo(
            f"{d.id}  {d.event_type.value:<26} {d.state.value:<9} attempts={d.attempts}"
            f"  next={d.next_attempt_at.isoformat()}{answer}"
        )


@app.command("replay")
def replay(
    ctx: typer.Context,
    rule_id: RuleArg,
    event_id: Annotated[
        str | None, typer.Argument(help="The event's id or seq (see cmdb webhooks events).")
    ] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Every delivery of the rule that ran out of attempts.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Send an event to the rule again, with the same webhook-id, at the worker's next pass
    (or, with --failed, every delivery of the rule whose attempts ran out)."""
    if (event_id is None) == (not failed):
        raise InvalidInput("give an event or --failed, not both or neither", where="EVENT_ID")
    state = cli(ctx)
    if failed:
        again = webhooks.replay_failed(state.store(), state.caller(), rule_id)
        if as_json:
            print_json(again)
        else:
            typer.echo(f"queued {len(again)} failed deliveries of {rule_id} again")
        return
    assert event_id is not None
    done = webhooks.replay(state.store(), state.caller(), rule_id, event_id)
    if as_json:
        print_json(done.delivery)
    else:
        typer.echo(f"queued {done.delivery.id} ({done.event.type.value}) for {rule_id}")


@app.command("events")
def events(
    ctx: typer.Context,
    after: Annotated[int, typer.Option("--after", metavar="SEQ", min=0)] = 0,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """The outbox: events in commit order, after a seq."""
    state = cli(ctx)
    got = webhooks.events(state.store(), state.caller(), after_seq=after, limit=limit)
    if as_json:
        print_json(got)
        return
    if not got:
        typer.echo("no events")
    for e in got:
        typer.echo(
            f"{e.seq:>6}  {e.id}  {e.type.value:<26} {e.occurred_at.isoformat()}"
            f"  {','.join(e.subject_ids)}"
        )


@app.command("deliver")
def deliver(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    interval: Annotated[
        float | None,
        typer.Option(
            "--interval",
            metavar="SECONDS",
            min=0.01,
            help="Idle wait between passes (CMDB_WEBHOOKS_INTERVAL_S).",
        ),
    ] = None,
    lease: Annotated[
        float,
        typer.Option(
            "--lease",
            metavar="SECONDS",
            min=0.1,
            help="How long the worker holds the deliveries it takes; if it dies, another"
            " (or it, restarted) sends them after this.",
        ),
    ] = 300.0,
) -> None:
    """The delivery worker: queue new events for the rules that want them and send every
    due delivery, until interrupted (or one pass with --once)."""
    import contextlib
    import dataclasses
    import signal
    import threading

    from cmdb.app.webhook_delivery import Worker, config_of

    state = cli(ctx)
    cfg = dataclasses.replace(config_of(state.settings), lease_s=lease)
    worker = Worker(state.store(), cfg)
    try:
        if once:
            r = worker.run_once()
            typer.echo(f"queued {r.queued}, delivered {r.delivered}, failed attempts {r.failed}")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        typer.echo("delivering webhooks (Ctrl-C stops)", err=True)
        with contextlib.suppress(KeyboardInterrupt):
            worker.run(stop, interval_s=interval or state.settings.webhooks_interval_s)
    finally:
        worker.close()


@app.command("purge")
def purge(
    ctx: typer.Context,
    older_than: Annotated[
        float | None,
        typer.Option(
            "--older-than",
            metavar="DAYS",
            min=0,
            help="Purge what finished more than DAYS ago (CMDB_WEBHOOKS_RETENTION_DAYS).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Retention: delete delivered and failed deliveries, and the events no delivery is
    left for, older than the retention; pending deliveries and their events stay."""
    from cmdb.app.webhook_delivery import purge_finished

    state = cli(ctx)
    gone = purge_finished(
        state.store(),
        state.caller(),
        older_than_days=older_than,
        retention_days=state.settings.webhooks_retention_days,
    )
    if as_json:
        print_json({"events": gone.events, "deliveries": gone.deliveries, "before": gone.before})
    else:
        events = f"{gone.events} event" + ("" if gone.events == 1 else "s")
        deliveries = f"{gone.deliveries} deliver" + ("y" if gone.deliveries == 1 else "ies")
        typer.echo(
            f"purged {events} and {deliveries}"
            f" finished before {gone.before.isoformat(timespec='seconds')}"
        )
