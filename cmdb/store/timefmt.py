"""One text form for instants, sortable as text: what SQLite compares for as-of queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_ZERO = timedelta(0)


def to_text(at: datetime) -> str:
    if at.tzinfo is None:
        # Naive instants are taken as UTC: the CLI and API always send aware ones.
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_text(text: str) -> datetime:
    # fromisoformat reads to_text's form (the "Z" included, from Python 3.11) ~50x faster
    # than strptime with its format; history reads and as-of replays parse one per row.
    at = datetime.fromisoformat(text)
    if at.utcoffset() != _ZERO:
        raise ValueError(f"not a UTC instant: {text!r}")
    return at if at.tzinfo is UTC else at.replace(tzinfo=UTC)


def aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
