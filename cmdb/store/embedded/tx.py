"""Transactions on the embedded store: one small write, committed or rolled back whole;
one read snapshot across several statements."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from cmdb.domain.errors import StoreUnavailable


@contextmanager
def write_transaction(
    conn: sqlite3.Connection, begin: Callable[[sqlite3.Connection], None]
) -> Iterator[sqlite3.Connection]:
    """``begin`` (the store's BEGIN IMMEDIATE), the body, COMMIT; on any error, ROLLBACK
    and nothing written (an SQLite error becomes StoreUnavailable, others pass through:
    a WriteConflict decided inside, say)."""
    begin(conn)
    try:
        yield conn
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        conn.execute("ROLLBACK")
        raise StoreUnavailable(f"the write failed and was rolled back: {exc}") from exc
    except BaseException:
        conn.execute("ROLLBACK")
        raise


@contextmanager
def read_snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A deferred transaction around a read of several statements (chunks of ids, then
    the documents they name): every statement sees the same committed state."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")
