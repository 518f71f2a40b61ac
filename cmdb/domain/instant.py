"""Instants in records: a time given without a zone is UTC, as everywhere a person types one
(an unzoned time compared with a zoned one fails deep inside a schedule otherwise)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


Instant = Annotated[datetime, AfterValidator(utc)]
