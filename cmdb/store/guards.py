"""Guarded writes, the same on both stores: a change set with a ``guard`` is applied only
while the store's counter of that name holds the value the writer read before deciding,
and the write moves the counter on. Each store checks it in the write's own transaction,
after taking its write lock (SQLite's ``BEGIN IMMEDIATE``; Neo4j's meta node), so two
writers that decided on the same reading cannot both commit."""

from __future__ import annotations

from cmdb.domain.changeset import Guard
from cmdb.domain.errors import WriteConflict


def checked(guard: Guard, found: int) -> int:
    """The counter's next value, or WriteConflict when someone moved it first."""
    if found != guard.expect:
        raise WriteConflict(
            f"{guard.name} moved on ({guard.expect} read, {found} now):"
            " another process wrote first; read again and retry",
            where="guard",
        )
    return found + 1
