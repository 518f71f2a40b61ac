"""Opaque pagination cursors: the last key seen, so pages stay stable under inserts."""

from __future__ import annotations

import base64

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
