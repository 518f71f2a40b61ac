"""Fakes shared by the test suites (house rule: fakes over mocks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DEFAULT_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand; stores take it as ``clock=`` so as-of is testable.

    It never moves on its own: two reads without an ``advance`` give the same instant.
    """

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        self._now = self._utc(start)

    @staticmethod
    def _utc(dt: datetime) -> datetime:
        if dt.tzinfo is None:
            raise ValueError("FakeClock wants aware datetimes")
        return dt.astimezone(UTC)

    def __call__(self) -> datetime:
        return self._now

    @property
    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        """Move forward (``advance(5)``, ``advance(minutes=2)``) and return the new instant."""
        step = timedelta(seconds=seconds, **delta)
        if step < timedelta(0):
            raise ValueError("a FakeClock only moves forward; use set() to go back")
        self._now += step
        return self._now

    def set(self, dt: datetime) -> datetime:
        self._now = self._utc(dt)
        return self._now

    def __repr__(self) -> str:
        return f"FakeClock({self._now.isoformat()})"
