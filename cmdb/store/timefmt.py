"""One text form for instants, sortable as text: what SQLite compares for as-of queries."""

from __future__ import annotations

from datetime import UTC, datetime


def to_text(at: datetime) -> str:
    if at.tzinfo is None:
        # Naive instants are taken as UTC: the CLI and API always send aware ones.
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_text(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
