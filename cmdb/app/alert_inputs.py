"""What Prometheus Alertmanager sends to a webhook receiver (payload version 4), validated
before anything is read or written: a bad payload is refused naming the field.

Every field Alertmanager documents is declared; anything else is refused, as for every
other request body.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

MAX_ALERTS = 1000
MAX_LABELS = 100

Name = Annotated[str, Field(min_length=1, max_length=200)]
Value = Annotated[str, Field(max_length=4096)]
Labels = Annotated[dict[Name, Value], Field(max_length=MAX_LABELS)]
Url = Annotated[str, Field(max_length=4096)]
Status = Literal["firing", "resolved"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class AlertmanagerAlert(_Spec):
    status: Status
    labels: Labels
    annotations: Labels = Field(default_factory=dict)
    starts_at: AwareDatetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(
        default=None, alias="endsAt", description="Alertmanager's zero time: none yet"
    )
    generator_url: Url = Field(default="", alias="generatorURL")
    fingerprint: str = Field(min_length=1, max_length=128, pattern=r"^[0-9A-Za-z_.:-]+$")


class AlertmanagerPayload(_Spec):
    """An Alertmanager webhook notification (``version`` "4")."""

    version: Literal["4"]
    group_key: str = Field(alias="groupKey", max_length=8192)
    truncated_alerts: int = Field(default=0, ge=0, alias="truncatedAlerts")
    status: Status
    receiver: str = Field(max_length=500)
    group_labels: Labels = Field(default_factory=dict, alias="groupLabels")
    common_labels: Labels = Field(default_factory=dict, alias="commonLabels")
    common_annotations: Labels = Field(default_factory=dict, alias="commonAnnotations")
    external_url: Url = Field(default="", alias="externalURL")
    alerts: list[AlertmanagerAlert] = Field(min_length=1, max_length=MAX_ALERTS)
