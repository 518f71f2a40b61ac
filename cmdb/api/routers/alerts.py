"""``/alerts``: Prometheus Alertmanager's webhook (payload version 4) in; its alerts
correlated on the graph into incidents (cmdb.app.alerts, cmdb.practice.alerts).

A token with the ``alert`` permission (the ``monitoring`` role, or any role that opens
incidents), not limited to services.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from cmdb.api.routers._shared import caller
from cmdb.api.routers.incidents import IncidentOut, incident_out
from cmdb.app import alerts
from cmdb.app.alert_inputs import AlertmanagerPayload
from cmdb.auth.roles import Permission
from cmdb.auth.tokens import Principal
from cmdb.web.deps import SettingsDep, Store, Visible, require

router = APIRouter(prefix="/alerts", tags=["alerts"])

Alerter = Annotated[Principal, Depends(require(Permission.ALERT))]


class AlertmanagerIn(AlertmanagerPayload):
    pass


class AlertOutcomeOut(BaseModel):
    fingerprint: str
    name: str
    status: str
    action: str = Field(
        description="opened, joined, updated, resolved; unmapped (its labels name no CI) or"
        " unknown (resolved, and no open incident holds it)"
    )
    incident_id: str | None
    ci_ids: list[str]
    matched: list[str] = Field(description="which label named which CI, and how")


class AlertsOut(BaseModel):
    receiver: str
    alerts: list[AlertOutcomeOut]
    unmapped: list[str] = Field(description="fingerprints of the alerts naming no CI")
    incidents: list[IncidentOut] = Field(description="the incidents written, as written")


@router.post("/alertmanager", operation_id="receiveAlertmanager", response_model=AlertsOut)
def receive_alertmanager(
    body: AlertmanagerIn,
    request: Request,
    store: Store,
    principal: Alerter,
    vis: Visible,
    settings: SettingsDep,
) -> AlertsOut:
    """An Alertmanager notification: firing alerts whose CIs share a probable cause are one
    incident (the cause its first CI, services and priority from the impact engine); later
    alerts join an open one; the incident is resolved once all its alerts are."""
    got = alerts.receive(store, caller(principal, request), vis, body, settings)
    return AlertsOut(
        receiver=got.receiver,
        alerts=[
            AlertOutcomeOut(
                fingerprint=a.fingerprint,
                name=a.name,
                status=a.status,
                action=a.action,
                incident_id=a.incident_id,
                ci_ids=a.ci_ids,
                matched=a.matched,
            )
            for a in got.alerts
        ],
        unmapped=[a.fingerprint for a in got.unmapped],
        incidents=[incident_out(i) for i in got.incidents],
    )
