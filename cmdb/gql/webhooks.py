# mypy: disable-error-code="untyped-decorator"
# (strawberry.field(...) with arguments is typed as returning Any without its mypy plugin)
"""Webhook rules in GraphQL: the use cases of cmdb/app/webhooks.py, as REST's and the
CLI's. Admin only (a token scoped to services is refused: events name every service's
CIs); a rule's secret is in the answer of ``createWebhookRule`` and nowhere else."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from cmdb.app import webhooks
from cmdb.app.caller import Caller
from cmdb.auth.roles import Permission
from cmdb.domain.events import Delivery, DeliveryState, EventType, WebhookRule
from cmdb.gql.context import GqlContext

WInfo = Info[GqlContext, None]
MAX_DELIVERIES = 1000

strawberry.enum(EventType, name="EventType")
strawberry.enum(DeliveryState, name="DeliveryState")


def _caller(info: WInfo) -> Caller:
    ctx = info.context
    return Caller(ctx.require(Permission.ADMIN), ctx.request_id, "graphql")


@strawberry.type(name="WebhookRule", description="A URL subscribed to event types.")
class WebhookRuleType:
    id: strawberry.ID
    url: str
    events: list[EventType] = strawberry.field(description="none: every type")
    enabled: bool
    description: str
    created_by: str
    created_at: datetime


def _rule(rule: WebhookRule) -> WebhookRuleType:
    return WebhookRuleType(
        id=strawberry.ID(rule.id),
        url=rule.url,
        events=list(rule.event_types),
        enabled=rule.enabled,
        description=rule.description,
        created_by=rule.created_by,
        created_at=rule.created_at,
    )


@strawberry.type(name="WebhookRuleCreated")
class WebhookRuleCreatedType:
    secret: str = strawberry.field(
        description="whsec_<base64>: receivers verify signatures with it; shown this once"
    )
    rule: WebhookRuleType


@strawberry.type(name="WebhookAttempt", description="One attempt of a delivery.")
class WebhookAttemptType:
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@strawberry.type(
    name="WebhookDelivery",
    description="One event on its way to one rule; its id is the webhook-id the receiver "
    "sees, the same on every attempt and replay.",
)
class WebhookDeliveryType:
    id: strawberry.ID
    rule_id: str
    event_id: str
    event_seq: int
    event_type: EventType
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    log: list[WebhookAttemptType] = strawberry.field(description="the latest attempts")


def _delivery(d: Delivery) -> WebhookDeliveryType:
    return WebhookDeliveryType(
        id=strawberry.ID(d.id),
        rule_id=d.rule_id,
        event_id=d.event_id,
        event_seq=d.event_seq,
        event_type=d.event_type,
        state=d.state,
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at,
        created_at=d.created_at,
        log=[WebhookAttemptType(**a.model_dump()) for a in d.log],
    )


@strawberry.input(name="WebhookRuleInput")
class WebhookRuleInput:
    url: str = strawberry.field(description="http or https")
    events: list[EventType] | None = strawberry.field(
        default=None, description="the event types sent; none: every type"
    )
    description: str = ""


@strawberry.type
class WebhooksQuery:
    @strawberry.field(description="Every webhook rule, by id (admin); never a secret.")
    async def webhook_rules(self, info: WInfo) -> list[WebhookRuleType]:
        caller = _caller(info)
        got = await info.context.call(webhooks.list_rules, info.context.store, caller)
        return [_rule(r) for r in got]

    @strawberry.field(description="A rule's delivery log, newest event first (admin).")
    async def webhook_deliveries(
        self,
        info: WInfo,
        rule: strawberry.ID,
        limit: Annotated[int, strawberry.argument(description="at most 1000")] = 50,
    ) -> list[WebhookDeliveryType]:
        caller = _caller(info)
        n = max(1, min(limit, MAX_DELIVERIES))
        got = await info.context.call(
            webhooks.deliveries, info.context.store, caller, str(rule), limit=n
        )
        return [_delivery(d) for d in got]


@strawberry.type
class WebhooksMutation:
    @strawberry.mutation(
        description="Subscribe a URL to events (admin). Private, loopback and link-local "
        "addresses are refused unless the server allows them."
    )
    async def create_webhook_rule(
        self, info: WInfo, input: WebhookRuleInput
    ) -> WebhookRuleCreatedType:
        caller = _caller(info)
        ctx = info.context
        rule = await ctx.call(
            lambda: webhooks.create_rule(
                ctx.store,
                caller,
                url=input.url,
                events=[EventType(e).value for e in input.events or []],
                description=input.description,
                allow_private=ctx.settings.webhooks_allow_private,
            )
        )
        return WebhookRuleCreatedType(secret=rule.secret, rule=_rule(rule))

    @strawberry.mutation(description="Enable or disable a rule (admin).")
    async def set_webhook_rule_enabled(
        self, info: WInfo, id: strawberry.ID, enabled: bool
    ) -> WebhookRuleType:
        caller = _caller(info)
        ctx = info.context
        rule = await ctx.call(webhooks.set_enabled, ctx.store, caller, str(id), enabled)
        return _rule(rule)

    @strawberry.mutation(description="Delete a rule and its delivery log (admin).")
    async def delete_webhook_rule(self, info: WInfo, id: strawberry.ID) -> bool:
        caller = _caller(info)
        await info.context.call(webhooks.delete_rule, info.context.store, caller, str(id))
        return True

    @strawberry.mutation(
        description="Send an event (its id or seq) to a rule again, with the same "
        "webhook-id, at the delivery worker's next pass (admin)."
    )
    async def replay_webhook(
        self, info: WInfo, rule: strawberry.ID, event: str
    ) -> WebhookDeliveryType:
        caller = _caller(info)
        done = await info.context.call(
            webhooks.replay, info.context.store, caller, str(rule), event
        )
        return _delivery(done.delivery)
