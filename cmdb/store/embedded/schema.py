"""The embedded store's SQLite schema. SQLite (WAL) is the durable truth.

Version 2 keeps CIs and relationships in rowid tables with a UNIQUE id. In version 1 they
were ``WITHOUT ROWID`` tables keyed by id: that stores each whole row (its JSON document,
hundreds of bytes) inside the id's B-tree, and random ids (uuid4, sha256) then split pages
on every batch. SQLite advises WITHOUT ROWID only for rows under ~1/20 of a page. A rowid
table appends the documents and keeps only (id, rowid) in the random-order index: a 10k-CI
ingest spends ~7x less time inserting relationships. Version 2 also drops the UNIQUE
(type, source_id, target_id) constraint: a relationship's id is a hash of exactly those
three (:func:`cmdb.domain.model.relationship_id`), so the id's uniqueness already says it,
and the extra index cost every insert a random B-tree write.
"""

from __future__ import annotations

SCHEMA_VERSION = 2


def incident_live_until(doc: str = "doc") -> str:
    """An incident's live_until from its document column ``doc``: the expression
    records_incident_live indexes, which a query repeats for SQLite to use the index."""
    return (
        f"CASE WHEN json_extract({doc}, '$.state') = 'open'"
        f" OR json_extract({doc}, '$.resolved_at') IS NULL"
        f" THEN '~' ELSE json_extract({doc}, '$.resolved_at') END"
    )


DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS cis (
    id TEXT NOT NULL UNIQUE,
    class TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    environment TEXT,
    owner TEXT,
    location TEXT,
    doc TEXT NOT NULL,
    gen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS cis_class ON cis(class, id);
CREATE INDEX IF NOT EXISTS cis_name ON cis(name);
CREATE INDEX IF NOT EXISTS cis_status ON cis(status);

-- A name search (CIFilter.name_contains) finds names containing its text anywhere: without
-- an index that is a scan of every name, lower-cased, per search (5-8 ms at 10k CIs, a
-- quarter of the API's CPU under a mixed read load). cis_names holds each CI's name
-- lower-cased as the search compares it (cmdb_lower: Python's folding past ASCII), split
-- into trigrams: a text of three or more characters looks up the rows holding all its
-- trigrams, and the search's own instr() test keeps exactly the names containing it.
-- Kept by triggers, so every write of a name (upsert, restore, migration) keeps it.
CREATE VIRTUAL TABLE IF NOT EXISTS cis_names
    USING fts5(ln, tokenize = 'trigram case_sensitive 1', detail = none);
-- The store's own batches index their new names in one statement after inserting them
-- (EmbeddedStore._write) and say so with the 'names_by_store' mark in meta, set and
-- cleared inside that write's transaction (so no other connection ever sees it): FTS5
-- flushes a segment at the end of each trigger statement, and one insert per CI cost
-- ~40 us a CI, more than the rest of the CI's SQL. Any other insert fires the trigger.
DROP TRIGGER IF EXISTS cis_names_insert;
CREATE TRIGGER IF NOT EXISTS cis_names_add AFTER INSERT ON cis
WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'names_by_store')
BEGIN INSERT INTO cis_names (rowid, ln) VALUES (NEW.rowid, cmdb_lower(NEW.name)); END;
CREATE TRIGGER IF NOT EXISTS cis_names_rename AFTER UPDATE OF name ON cis
WHEN NEW.name IS NOT OLD.name
BEGIN UPDATE cis_names SET ln = cmdb_lower(NEW.name) WHERE rowid = NEW.rowid; END;
CREATE TRIGGER IF NOT EXISTS cis_names_delete AFTER DELETE ON cis
BEGIN DELETE FROM cis_names WHERE rowid = OLD.rowid; END;

-- Unique identifier kinds (serial, fqdn, mac, ...) belong to one CI: the partial unique
-- index is what makes concurrent writers unable to create the same identity twice.
CREATE TABLE IF NOT EXISTS identifiers (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    ci_id TEXT NOT NULL REFERENCES cis(id),
    is_unique INTEGER NOT NULL,
    PRIMARY KEY (kind, value, ci_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS identifiers_unique ON identifiers(kind, value)
    WHERE is_unique = 1;
CREATE INDEX IF NOT EXISTS identifiers_ci ON identifiers(ci_id);

CREATE TABLE IF NOT EXISTS rels (
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    source_id TEXT NOT NULL REFERENCES cis(id),
    target_id TEXT NOT NULL REFERENCES cis(id),
    status TEXT NOT NULL,
    doc TEXT NOT NULL,
    gen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rels_source ON rels(source_id, type);
CREATE INDEX IF NOT EXISTS rels_target ON rels(target_id, type);
CREATE INDEX IF NOT EXISTS rels_gen ON rels(gen);

CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS record_links (
    kind TEXT NOT NULL,
    record_id TEXT NOT NULL,
    ci_id TEXT NOT NULL,
    PRIMARY KEY (kind, record_id, ci_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS record_links_ci ON record_links(ci_id, kind);
-- Each incident's live_until (cmdb.store.recent) as text: '~' (after every digit) while it
-- is open or has no resolution time, else its resolved_at as stored. A question about this
-- month reads the incidents at or after a bound through this index, not every incident.
-- It is made here (not a migration), so a file of any version gains it on opening.
CREATE INDEX IF NOT EXISTS records_incident_live ON records(LIVE_UNTIL) WHERE kind = 'incident';

CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    entity_kind TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    op TEXT NOT NULL,
    field TEXT NOT NULL,
    before TEXT,
    after TEXT,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    run_id TEXT,
    request_id TEXT,
    at TEXT NOT NULL,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS history_entity ON history(entity_id, seq);
CREATE INDEX IF NOT EXISTS history_kind_at ON history(entity_kind, at);

-- History is append-only at the store level, whatever code or person holds the file.
CREATE TRIGGER IF NOT EXISTS history_no_update BEFORE UPDATE ON history
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS history_no_delete BEFORE DELETE ON history
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
-- REPLACE deletes the row it conflicts with without firing DELETE triggers: refuse it.
CREATE TRIGGER IF NOT EXISTS history_no_replace BEFORE INSERT ON history
WHEN EXISTS (SELECT 1 FROM history WHERE seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;

-- The outbox: events written in the transaction of the change that caused them, read in
-- commit order (one writer at a time, so seq order is commit order). Webhook rules, their
-- deliveries (state and next attempt, so a restarted worker resumes) and the cursors of
-- the workers reading the outbox. Tables added since version 2: created if missing.
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_rules (id TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    event_seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    next_at TEXT NOT NULL,
    doc TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(state, next_at, event_seq);
CREATE INDEX IF NOT EXISTS deliveries_rule ON deliveries(rule_id, event_seq);
CREATE TABLE IF NOT EXISTS outbox_cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
-- What-if proposals (cmdb/store/embedded/proposals.py): every version kept, only added.
CREATE TABLE IF NOT EXISTS proposals (
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (id, version)
) WITHOUT ROWID
""".replace("LIVE_UNTIL", incident_live_until())

# Version 1 -> 2: rebuild ``cis`` and ``rels`` as rowid tables (SQLite's documented way to
# change a table's shape: create, copy, drop, rename, with foreign keys off meanwhile; the
# caller turns them off, runs this in one transaction, then checks them). The DDL above
# recreates the indexes afterwards. The other tables keep their shape.
MIGRATE_1_TO_2 = """
CREATE TABLE cis_v2 (
    id TEXT NOT NULL UNIQUE,
    class TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    environment TEXT,
    owner TEXT,
    location TEXT,
    doc TEXT NOT NULL,
    gen INTEGER NOT NULL
);
INSERT INTO cis_v2 (id, class, name, status, environment, owner, location, doc, gen)
    SELECT id, class, name, status, environment, owner, location, doc, gen FROM cis ORDER BY id;
CREATE TABLE rels_v2 (
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    source_id TEXT NOT NULL REFERENCES cis(id),
    target_id TEXT NOT NULL REFERENCES cis(id),
    status TEXT NOT NULL,
    doc TEXT NOT NULL,
    gen INTEGER NOT NULL
);
INSERT INTO rels_v2 (id, type, source_id, target_id, status, doc, gen)
    SELECT id, type, source_id, target_id, status, doc, gen FROM rels ORDER BY id;
DROP TABLE rels;
DROP TABLE cis;
ALTER TABLE cis_v2 RENAME TO cis;
ALTER TABLE rels_v2 RENAME TO rels
"""

MIGRATIONS: dict[int, str] = {1: MIGRATE_1_TO_2}  # from version -> the statements to the next
