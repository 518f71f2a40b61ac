"""The name index (cis_names) stays whole when the store fills it per batch, not per row.

``apply`` and ``restore`` index the names of the CIs they insert in one statement and mark
it in ``meta`` meanwhile, so the per-row trigger stays quiet; every other insert still
fires it. These tests hold the index equal to the names, whichever way a row came in.
"""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest

from cmdb.domain.changeset import ChangeSet
from cmdb.domain.errors import CmdbError
from cmdb.store import snapshot
from cmdb.store.contract import CIFilter
from cmdb.store.embedded.store import EmbeddedStore
from tests.contract.builders import ACTOR, SOURCE, up


def _names(path: Path) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(rowid, lower-cased name) of every CI, and what the index holds."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT rowid, name FROM cis ORDER BY rowid").fetchall()
        cis = [(rowid, name.lower()) for rowid, name in rows]  # as cmdb_lower folds them
        indexed = conn.execute("SELECT rowid, ln FROM cis_names ORDER BY rowid").fetchall()
        marks = conn.execute("SELECT count(*) FROM meta WHERE key = 'names_by_store'").fetchone()
    finally:
        conn.close()
    assert marks == (0,), "the batch's mark outlived its transaction"
    return cis, indexed


def _batch(names: list[str]) -> ChangeSet:
    return ChangeSet(
        actor=ACTOR, source=SOURCE, ci_upserts=[up("Server", f"k-{n}", name=n) for n in names]
    )


@pytest.fixture
def store(tmp_path: Path) -> EmbeddedStore:
    return EmbeddedStore(tmp_path / "names.db")


def test_batches_index_every_new_name_once(store: EmbeddedStore, tmp_path: Path) -> None:
    store.apply(_batch(["Alpha-Web", "beta-db", "Gamma-Cache"]))
    # A second batch: one CI again (an update, renamed), two new ones.
    store.apply(_batch(["beta-db", "delta-queue", "Épsilon-Büro"]))
    renamed = ChangeSet(
        actor=ACTOR, source=SOURCE, ci_upserts=[up("Server", "k-beta-db", name="Beta-Renamed")]
    )
    store.apply(renamed)
    cis, indexed = _names(tmp_path / "names.db")
    assert len(cis) == 5
    assert indexed == cis
    found = store.list_cis(CIFilter(name_contains="büro")).items
    assert [c.name for c in found] == ["Épsilon-Büro"]
    assert [c.name for c in store.list_cis(CIFilter(name_contains="renamed")).items] == [
        "Beta-Renamed"
    ]
    assert store.list_cis(CIFilter(name_contains="beta-db")).items == []


@pytest.mark.parametrize(
    ("table", "when"),
    [
        ("cis", "NEW.name = 'second-one'"),  # inside the bulk: before the names go in
        ("identifiers", "NEW.value = 'k-second-one'"),  # after them, in the same write
    ],
)
def test_a_failed_batch_leaves_neither_names_nor_mark(
    store: EmbeddedStore, tmp_path: Path, table: str, when: str
) -> None:
    store.apply(_batch(["first-one"]))
    conn = sqlite3.connect(tmp_path / "names.db", isolation_level=None)
    conn.execute(
        f"CREATE TRIGGER boom BEFORE INSERT ON {table} WHEN {when}"
        " BEGIN SELECT RAISE(ABORT, 'boom'); END"
    )
    conn.close()
    with pytest.raises(CmdbError):
        store.apply(_batch(["second-one", "third-one"]))
    cis, indexed = _names(tmp_path / "names.db")
    assert [n for _, n in cis] == ["first-one"]
    assert indexed == cis


def test_inserts_outside_the_store_still_index_their_names(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    store.apply(_batch(["kept-by-store"]))
    conn = sqlite3.connect(tmp_path / "names.db", isolation_level=None)
    conn.create_function("cmdb_lower", 1, str.lower, deterministic=True)
    conn.execute(
        "INSERT INTO cis (id, class, name, status, doc, gen) VALUES"
        " ('ci_by_hand', 'Host', 'Typed-By-Hand', 'live', '{}', 1)"
    )
    conn.close()
    cis, indexed = _names(tmp_path / "names.db")
    assert indexed == cis
    assert [n for _, n in indexed] == ["kept-by-store", "typed-by-hand"]


def test_restore_indexes_the_names_it_writes(store: EmbeddedStore, tmp_path: Path) -> None:
    store.apply(_batch(["one-restored", "two-restored"]))
    buf = io.BytesIO()
    snapshot.export(store, buf)
    buf.seek(0)
    snapshot.import_(EmbeddedStore(tmp_path / "restored.db"), buf)
    cis, indexed = _names(tmp_path / "restored.db")
    assert len(cis) == 2
    assert indexed == cis


def test_a_file_with_the_per_row_trigger_gets_the_quiet_one(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    EmbeddedStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER cis_names_add")
    # The trigger as files made before this change hold it: it would index names twice.
    conn.execute(
        "CREATE TRIGGER cis_names_insert AFTER INSERT ON cis BEGIN INSERT INTO cis_names"
        " (rowid, ln) VALUES (NEW.rowid, cmdb_lower(NEW.name)); END"
    )
    conn.close()
    store = EmbeddedStore(path)
    store.apply(_batch(["after-upgrade", "and-another"]))
    cis, indexed = _names(path)
    assert indexed == cis
    conn = sqlite3.connect(path)
    triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
    conn.close()
    assert "cis_names_insert" not in triggers and "cis_names_add" in triggers
