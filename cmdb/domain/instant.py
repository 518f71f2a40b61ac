"""Instants in records: a time given without a zone is UTC, as everywhere a person types one
(an unzoned time compared with a zoned one fails deep inside a schedule otherwise), and
within EARLIEST-LATEST."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator

# Service hours, SLA months and clocks move an instant through time zones and whole days,
# which overflows Python's dates near years 1 and 9999 (an internal error instead of an
# answer); no service desk or change board works outside these.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def out_of_range(value: datetime) -> str | None:
    """Why an aware instant cannot be used, or None."""
    if EARLIEST <= value < LATEST:
        return None
    return f"must be from {EARLIEST.year} to {LATEST.year} (UTC), not {value.isoformat()}"


def utc(value: datetime) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    problem = out_of_range(aware)
    if problem is not None:
        raise ValueError(f"the instant {problem}")
    return aware


Instant = Annotated[datetime, AfterValidator(utc)]
