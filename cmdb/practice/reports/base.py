"""What every report shares: the period it counts, its ranked breakdowns."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from pydantic import BaseModel

from cmdb.domain.errors import InvalidInput
from cmdb.practice.windows import utc

NameOf = Callable[[str], str]
NONE_KEY = "(none)"
DEFAULT_TOP = 10


class Period(BaseModel):
    """Which records a report counts, by when they began (None: unbounded)."""

    start: datetime | None = None
    end: datetime | None = None

    def check(self) -> Period:
        if self.start and self.end and utc(self.end) <= utc(self.start):
            raise InvalidInput("the period must end after it starts", where="to")
        return self

    @property
    def bounded(self) -> bool:
        return self.start is not None or self.end is not None

    def holds(self, at: datetime | None) -> bool:
        if at is None:
            return not self.bounded
        if self.start is not None and utc(at) < utc(self.start):
            return False
        return self.end is None or utc(at) < utc(self.end)


class Count(BaseModel):
    key: str
    name: str
    count: int


def tally(
    counter: Mapping[str, int], name_of: NameOf | None = None, top: int | None = None
) -> list[Count]:
    """Largest first, then by key; ``name_of`` only for the rows kept."""
    rows = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    if top is not None:
        rows = rows[:top]
    return [Count(key=k, name=name_of(k) if name_of else k, count=n) for k, n in rows]


def days(delta: timedelta) -> float:
    return round(delta.total_seconds() / 86400.0, 2)
