"""Service-level details: portfolio, customers, SLAs with service-hour calendars, OLAs."""

from __future__ import annotations

from datetime import date, time
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cmdb.domain.instant import Instant
from cmdb.domain.numbers import MAX_INT, StoredInt


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServiceKind(StrEnum):
    CUSTOMER_FACING = "customer_facing"
    SUPPORTING = "supporting"


class PortfolioState(StrEnum):
    PIPELINE = "pipeline"
    LIVE = "live"
    RETIRED = "retired"


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


class TimeRange(_Model):
    start: time
    end: time  # 00:00 as an end means midnight at the end of the day

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.end != time(0) and self.end <= self.start:
            raise ValueError("a time range must end after it starts")
        return self


class CalendarException(_Model):
    """A day that differs from the weekly pattern: a holiday, or a critical business day."""

    day: date
    hours: list[TimeRange] = Field(default_factory=list)  # empty: closed all day
    reason: str = ""


class ServiceCalendar(_Model):
    timezone: str = "UTC"
    weekly: dict[Weekday, list[TimeRange]] = Field(default_factory=dict)
    exceptions: list[CalendarException] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @classmethod
    def always(cls, timezone: str = "UTC") -> ServiceCalendar:
        whole_day = [TimeRange(start=time(0), end=time(0))]
        return cls(timezone=timezone, weekly={d: whole_day for d in Weekday})


class AllowedInterruptions(_Model):
    """Scheduled interruptions the customer agreed to: how many, how long, with what notice."""

    per_month: int = Field(default=0, ge=0, le=MAX_INT)
    max_minutes: int = Field(default=0, ge=0, le=MAX_INT)
    notice_hours: int = Field(default=0, ge=0, le=MAX_INT)
    kinds: list[str] = Field(default_factory=list)


class SLA(_Model):
    name: str
    service_hours: ServiceCalendar = Field(default_factory=ServiceCalendar.always)
    availability_target: float = Field(ge=0, le=100, description="percent, within hours")
    response_minutes: dict[Priority, StoredInt] = Field(default_factory=dict)
    resolution_minutes: dict[Priority, StoredInt] = Field(default_factory=dict)
    scheduled_interruptions: AllowedInterruptions = Field(default_factory=AllowedInterruptions)
    customers: list[str] = Field(default_factory=list)


class AgreementKind(StrEnum):
    OLA = "ola"
    SUPPLIER_CONTRACT = "supplier_contract"


class Agreement(_Model):
    """An OLA on a component, or a supplier contract behind a bought-in one."""

    kind: AgreementKind
    name: str
    party: str = Field(description="the internal team or supplier that signs it")
    availability_target: float | None = Field(default=None, ge=0, le=100)
    response_minutes: dict[Priority, StoredInt] = Field(default_factory=dict)
    resolution_minutes: dict[Priority, StoredInt] = Field(default_factory=dict)


class Blackout(_Model):
    """A business-critical period (a freeze): no change may touch the service then."""

    start: Instant
    end: Instant
    reason: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Blackout:
        if self.end <= self.start:
            raise ValueError("a blackout must end after it starts")
        return self


class ServiceDetails(_Model):
    kind: ServiceKind = ServiceKind.SUPPORTING
    portfolio: PortfolioState = PortfolioState.LIVE
    customers: list[str] = Field(default_factory=list)
    sla: SLA | None = None
    # Change scheduling: when changes that take the service down may happen (none: any
    # time outside its service hours), and the periods no change may touch it.
    maintenance_windows: ServiceCalendar | None = None
    blackouts: list[Blackout] = Field(default_factory=list)
