"""The embedded store upgrades a version-1 file in place, whole or not at all."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cmdb.domain.errors import StoreUnavailable
from cmdb.sample.load import load_sample
from cmdb.store.contract import CIFilter
from cmdb.store.embedded.schema import SCHEMA_VERSION
from cmdb.store.embedded.store import EmbeddedStore

# The two tables as version 1 created them (the rest of the schema did not change).
V1_TABLES = """
CREATE TABLE cis (
    id TEXT PRIMARY KEY, class TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
    environment TEXT, owner TEXT, location TEXT, doc TEXT NOT NULL, gen INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX cis_class ON cis(class, id);
CREATE INDEX cis_name ON cis(name);
CREATE INDEX cis_status ON cis(status);
CREATE TABLE rels (
    id TEXT PRIMARY KEY, type TEXT NOT NULL, source_id TEXT NOT NULL REFERENCES cis(id),
    target_id TEXT NOT NULL REFERENCES cis(id), status TEXT NOT NULL, doc TEXT NOT NULL,
    gen INTEGER NOT NULL, UNIQUE (type, source_id, target_id)
) WITHOUT ROWID;
CREATE INDEX rels_source ON rels(source_id, type);
CREATE INDEX rels_target ON rels(target_id, type);
CREATE INDEX rels_gen ON rels(gen);
"""


def _v1_copy(src: Path, dst: Path) -> None:
    """``dst``: the data of ``src`` in a file shaped as version 1 wrote it."""
    conn = sqlite3.connect(dst, isolation_level=None)
    conn.execute("ATTACH DATABASE ? AS src", (str(src),))
    schema = conn.execute(
        "SELECT type, name, sql FROM src.sqlite_master WHERE sql IS NOT NULL"
        " AND tbl_name NOT IN ('cis', 'rels', 'cis_names') AND name NOT LIKE 'sqlite_%'"
        " AND name NOT LIKE 'cis_names%'"
        " ORDER BY type = 'table' DESC, type = 'trigger'"
    ).fetchall()
    for kind, _name, sql in schema:
        if kind == "table":
            conn.execute(sql)
    conn.executescript(V1_TABLES)
    for table in ("meta", "cis", "identifiers", "rels", "records", "record_links", "history"):
        conn.execute(f"INSERT INTO main.{table} SELECT * FROM src.{table}")
    for kind, _name, sql in schema:
        if kind != "table":
            conn.execute(sql)
    conn.execute("INSERT INTO main.sqlite_sequence SELECT * FROM src.sqlite_sequence")
    conn.execute("UPDATE main.meta SET value = '1' WHERE key = 'schema_version'")
    # Version 1 had no name index (cis_names) nor its marker.
    conn.execute("DELETE FROM main.meta WHERE key = 'names_indexed'")
    conn.execute("DETACH DATABASE src")
    conn.close()


def _snapshot(store: EmbeddedStore) -> tuple[object, ...]:
    page = store.list_cis(limit=10_000)
    rels = store.list_relationships(limit=10_000)
    history = list(store.iter_history())
    return (store.counts(), page.items, rels.items, [h.model_dump() for h in history])


@pytest.fixture
def v2_store(tmp_path: Path) -> EmbeddedStore:
    store = EmbeddedStore(tmp_path / "v2.db")
    load_sample(store, actor="test")
    return store


def _table_sql(path: Path, table: str) -> str:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
        return str(row[0])
    finally:
        conn.close()


def test_a_version_1_file_is_upgraded_with_every_row_kept(
    v2_store: EmbeddedStore, tmp_path: Path
) -> None:
    v1 = tmp_path / "v1.db"
    _v1_copy(Path(v2_store.path), v1)
    assert "WITHOUT ROWID" in _table_sql(v1, "cis")

    upgraded = EmbeddedStore(v1)
    assert "WITHOUT ROWID" not in _table_sql(v1, "cis")
    assert "WITHOUT ROWID" not in _table_sql(v1, "rels")
    assert upgraded._schema_version(upgraded._conn()) == SCHEMA_VERSION
    assert _snapshot(upgraded) == _snapshot(v2_store)
    # Foreign keys are back on: a relationship to a missing CI is refused.
    conn = upgraded._conn()
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO rels VALUES ('x', 'DEPENDS_ON', 'nope', 'nope', 'active', '{}', 1)"
        )
    # Its names were indexed on opening: a search finds what it found before.
    for text in ("booking", "srv-0", "db", "ferry b"):
        found = upgraded.list_cis(CIFilter(name_contains=text), limit=500).items
        assert found == v2_store.list_cis(CIFilter(name_contains=text), limit=500).items
        assert found, text
    # The upgraded file takes writes like a new one, and reopening it changes nothing.
    assert load_sample(upgraded, actor="test").created == 0
    assert _snapshot(EmbeddedStore(v1)) == _snapshot(upgraded)


def test_an_upgrade_that_would_leave_dangling_rows_changes_nothing(
    v2_store: EmbeddedStore, tmp_path: Path
) -> None:
    v1 = tmp_path / "v1.db"
    _v1_copy(Path(v2_store.path), v1)
    conn = sqlite3.connect(v1, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute(
        "INSERT INTO rels VALUES ('dangling', 'DEPENDS_ON', 'gone', 'gone', 'active', '{}', 1)"
    )
    conn.close()
    before = v1.read_bytes()

    with pytest.raises(StoreUnavailable, match="refer to missing rows"):
        EmbeddedStore(v1)
    assert "WITHOUT ROWID" in _table_sql(v1, "cis")
    conn = sqlite3.connect(v1)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
    assert conn.execute("SELECT count(*) FROM rels").fetchone()[0] > 1
    conn.close()
    assert len(v1.read_bytes()) >= len(before) // 2  # still the whole file, not truncated


def test_a_file_from_a_newer_version_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    EmbeddedStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(StoreUnavailable, match=r"new\.db has schema version 99"):
        EmbeddedStore(path)
