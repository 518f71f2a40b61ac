"""``/webhooks``: event rules (a URL subscribed to event types), their delivery logs,
replay, and the event outbox; admin only, the same as ``cmdb webhooks`` (cmdb.app.webhooks).

A rule's secret is in the answer that creates it and nowhere else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from cmdb.api.routers._shared import caller
from cmdb.app import webhooks
from cmdb.domain.events import Delivery, Event, EventType, WebhookRule
from cmdb.web.deps import Admin, SettingsDep, Store

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

RuleId = Annotated[str, Path(description="the rule's id (wh_...)", max_length=64)]


class WebhookRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=webhooks.MAX_URL, description="http(s) only")
    events: list[EventType] = Field(
        default_factory=list, description="the event types sent; none: every type"
    )
    description: str = Field(default="", max_length=1000)


class WebhookRulePatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: str = Field(min_length=1, max_length=128)


class WebhookRuleOut(BaseModel):
    id: str
    url: str
    events: list[EventType]
    enabled: bool
    description: str
    created_by: str
    created_at: datetime


class WebhookRuleCreatedOut(BaseModel):
    secret: str = Field(description="whsec_<base64>: verify signatures with it; shown once")
    rule: WebhookRuleOut


class WebhookRuleListOut(BaseModel):
    items: list[WebhookRuleOut]


class DeliveryOut(Delivery):
    """One event on its way to one rule: its ``id`` is the webhook-id the receiver sees."""


class EventOut(Event):
    """An event as the outbox holds it."""


class DeliveryListOut(BaseModel):
    items: list[DeliveryOut]


class EventListOut(BaseModel):
    items: list[EventOut]


def _out(rule: WebhookRule) -> WebhookRuleOut:
    return WebhookRuleOut(
        id=rule.id,
        url=rule.url,
        events=rule.event_types,
        enabled=rule.enabled,
        description=rule.description,
        created_by=rule.created_by,
        created_at=rule.created_at,
    )


@router.get("", operation_id="listWebhookRules", response_model=WebhookRuleListOut)
def list_rules(principal: Admin, store: Store, request: Request) -> WebhookRuleListOut:
    """Every rule, by id; never a secret."""
    rules = webhooks.list_rules(store, caller(principal, request))
    return WebhookRuleListOut(items=[_out(r) for r in rules])


@router.post(
    "", operation_id="createWebhookRule", status_code=201, response_model=WebhookRuleCreatedOut
)
def create_rule(
    body: WebhookRuleIn, principal: Admin, store: Store, settings: SettingsDep, request: Request
) -> WebhookRuleCreatedOut:
    """A new rule, enabled; its signing secret is in this answer only."""
    rule = webhooks.create_rule(
        store,
        caller(principal, request),
        url=body.url,
        events=[e.value for e in body.events],
        description=body.description,
        allow_private=settings.webhooks_allow_private,
    )
    return WebhookRuleCreatedOut(secret=rule.secret, rule=_out(rule))


@router.get("/events", operation_id="listEvents", response_model=EventListOut)
def list_events(
    principal: Admin,
    store: Store,
    request: Request,
    after: Annotated[
        int, Query(ge=0, le=webhooks.MAX_SEQ, description="events after this seq")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventListOut:
    """The outbox: events in commit order, after a seq."""
    got = webhooks.events(store, caller(principal, request), after_seq=after, limit=limit)
    return EventListOut(items=[EventOut.model_validate(e.model_dump()) for e in got])


@router.get("/{rule_id}", operation_id="getWebhookRule", response_model=WebhookRuleOut)
def get_rule(rule_id: RuleId, principal: Admin, store: Store, request: Request) -> WebhookRuleOut:
    return _out(webhooks.get_rule(store, caller(principal, request), rule_id))


@router.patch("/{rule_id}", operation_id="updateWebhookRule", response_model=WebhookRuleOut)
def update_rule(
    rule_id: RuleId, body: WebhookRulePatchIn, principal: Admin, store: Store, request: Request
) -> WebhookRuleOut:
    """Enable or disable a rule (a disabled one is sent nothing)."""
    rule = webhooks.set_enabled(store, caller(principal, request), rule_id, body.enabled)
    return _out(rule)


@router.delete("/{rule_id}", operation_id="deleteWebhookRule", status_code=204)
def delete_rule(rule_id: RuleId, principal: Admin, store: Store, request: Request) -> Response:
    """The rule and its delivery log."""
    webhooks.delete_rule(store, caller(principal, request), rule_id)
    return Response(status_code=204)


@router.get(
    "/{rule_id}/deliveries", operation_id="listWebhookDeliveries", response_model=DeliveryListOut
)
def list_deliveries(
    rule_id: RuleId,
    principal: Admin,
    store: Store,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> DeliveryListOut:
    """The rule's delivery log, newest event first: state, attempts, each attempt's answer."""
    got = webhooks.deliveries(store, caller(principal, request), rule_id, limit=limit)
    return DeliveryListOut(items=[DeliveryOut.model_validate(d.model_dump()) for d in got])


@router.post(
    "/{rule_id}/replay", operation_id="replayWebhook", status_code=202, response_model=DeliveryOut
)
def replay(
    rule_id: RuleId, body: ReplayIn, principal: Admin, store: Store, request: Request
) -> DeliveryOut:
    """Send an event to the rule again (with the same webhook-id), at the worker's next pass."""
    done = webhooks.replay(store, caller(principal, request), rule_id, body.event_id)
    return DeliveryOut.model_validate(done.delivery.model_dump())
