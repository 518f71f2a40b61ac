"""Cursor pagination for the API, with the store's cursor semantics (cmdb/store/cursor.py).

A cursor is the opaque last key (an id) seen, so pages stay stable under inserts. A
caller scoped to services sees only some rows: those pages are filled from as many store
pages as it takes, and the cursor then names the last row *returned*, which is exactly
what the store would have given had it filtered itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Query

from cmdb.domain.errors import InvalidInput
from cmdb.store import cursor as cursors
from cmdb.web.deps import SettingsDep

T = TypeVar("T")

DEFAULT_LIMIT = 100

# fetch(limit, cursor) -> (rows ordered by key, the store's next cursor)
Fetch = Callable[[int, str | None], tuple[list[T], str | None]]


async def page_limit(
    settings: SettingsDep,
    limit: Annotated[
        int, Query(ge=1, description="rows per page, at most the server's page limit")
    ] = DEFAULT_LIMIT,
) -> int:
    # async: pure, and a sync dependency costs a thread-pool hop on every list request.
    if limit > settings.page_limit_max:
        raise InvalidInput(f"limit is at most {settings.page_limit_max}", where="limit")
    return limit


Limit = Annotated[int, Depends(page_limit)]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]


def filtered_page(
    fetch: Fetch[T],
    keep: Callable[[T], bool] | None,
    key: Callable[[T], str],
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[T], str | None]:
    """One page of at most ``limit`` rows that ``keep`` accepts (None: every row)."""
    cursors.decode(cursor)  # a malformed cursor is the caller's 422, whatever we fetch
    if keep is None:
        return fetch(limit, cursor)
    rows: list[T] = []
    at = cursor
    while True:
        batch, nxt = fetch(limit, at)
        for i, row in enumerate(batch):
            if not keep(row):
                continue
            rows.append(row)
            if len(rows) == limit:
                more = i < len(batch) - 1 or nxt is not None
                return rows, cursors.encode(key(row)) if more else None
        if nxt is None:
            return rows, None
        at = nxt
