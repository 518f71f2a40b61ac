"""Opening the embedded store while another process is setting the same new file up.

A new file's switch to WAL is a write in rollback-journal mode; a second connection asking
for WAL meanwhile is told "database is locked" at once, without SQLite's busy handler (two
`cmdb serve` replicas started together on a new file: one failed to start)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from cmdb.store.embedded.store import EmbeddedStore


def _held(path: Path) -> sqlite3.Connection:
    """A connection holding a rollback-journal write on a new file, as the first
    process's journal switch does."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("CREATE TABLE other_setup (a)")
    return conn


def test_a_store_waits_for_another_connection_setting_the_file_up(tmp_path: Path) -> None:
    path = tmp_path / "cmdb.db"
    other = _held(path)
    released = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    released.start()
    t0 = time.monotonic()
    try:
        store = EmbeddedStore(path, timeout_s=30)
    finally:
        released.join()
    assert time.monotonic() - t0 >= 0.4  # it waited for the other, not failed at once
    assert store.counts().by_class == {}
    journal = store._conn().execute("PRAGMA journal_mode").fetchone()[0]
    assert journal == "wal"
    other.close()
    store.close()


def test_it_gives_up_after_its_timeout(tmp_path: Path) -> None:
    path = tmp_path / "cmdb.db"
    other = _held(path)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            EmbeddedStore(path, timeout_s=0.3)
    finally:
        other.execute("ROLLBACK")
        other.close()
