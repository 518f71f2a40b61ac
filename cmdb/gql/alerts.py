# mypy: disable-error-code="untyped-decorator"
# (strawberry.field(...) with arguments is typed as returning Any without its mypy plugin)
"""An incident's alert fields in GraphQL, as REST shows them (``IncidentOut``): the
probable cause, the monitoring alerts grouped into it (state, labels, times, CIs) and its
notes. What a reader limited to services may see is cmdb.app.incidents' rule, the one
REST applies too: no labels, no notes, only the CIs in its view."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.types import Info

from cmdb.app.incidents import alerts_shown, cause_shown, notes_shown
from cmdb.domain.records import Incident
from cmdb.gql.context import GqlContext

AInfo = Info[GqlContext, None]


@strawberry.type(name="AlertLabel", description="One label of a monitoring alert.")
class AlertLabelType:
    name: str
    value: str


@strawberry.type(
    name="IncidentAlert",
    description="A monitoring alert grouped into an incident, kept by its fingerprint.",
)
class IncidentAlertType:
    fingerprint: str
    name: str = strawberry.field(description="its alertname label")
    status: str = strawberry.field(description='"firing" or "resolved"')
    ci_ids: list[str] = strawberry.field(description="the CIs its labels name")
    labels: list[AlertLabelType] = strawberry.field(description="its labels, by name")
    starts_at: datetime
    ends_at: datetime | None


@strawberry.type(name="IncidentNote", description="One line of an incident's story.")
class IncidentNoteType:
    at: datetime
    actor: str
    text: str


@strawberry.type
class IncidentAlerts:
    """Inherited by ``Incident``: what monitoring alerts did to it."""

    @strawberry.field(description="the probable cause its alerts share on the graph")
    async def cause_id(self, info: AInfo) -> str | None:
        return cause_shown(await info.context.visibility(), cast(Incident, self))

    @strawberry.field(description="the monitoring alerts grouped into it")
    async def alerts(self, info: AInfo) -> list[IncidentAlertType]:
        shown = alerts_shown(await info.context.visibility(), cast(Incident, self))
        return [
            IncidentAlertType(
                fingerprint=a.fingerprint,
                name=a.name,
                status=a.status,
                ci_ids=a.ci_ids,
                labels=[AlertLabelType(name=k, value=v) for k, v in sorted(a.labels.items())],
                starts_at=a.starts_at,
                ends_at=a.ends_at,
            )
            for a in shown
        ]

    @strawberry.field(description="what happened to it, oldest first")
    async def notes(self, info: AInfo) -> list[IncidentNoteType]:
        shown = notes_shown(await info.context.visibility(), cast(Incident, self))
        return [IncidentNoteType(at=n.at, actor=n.actor, text=n.text) for n in shown]
