"""Opaque pagination cursors: the last key seen, so pages stay stable under inserts."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator, Sequence

from cmdb.domain.errors import InvalidInput


def encode(last_key: str) -> str:
    return base64.urlsafe_b64encode(last_key.encode()).decode().rstrip("=")


def decode(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.b64decode(padded.encode(), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("malformed cursor", where="cursor") from exc
    if not text:
        raise InvalidInput("malformed cursor", where="cursor")
    return text


def by_id(page: Callable[[str], Sequence[Sequence[str]]]) -> Iterator[str]:
    """The second item of every row of the pages ``page(after)`` reads, each page the
    rows after the last id of the one before, in id order (rows are ``(id, value)``);
    ids are never empty, so the first page is the rows after ''."""
    last = ""
    while rows := page(last):
        for row in rows:
            yield row[1]
        last = rows[-1][0]
