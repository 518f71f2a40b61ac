"""Numbered ``.cypher`` migrations: constraints and indexes, each ``IF NOT EXISTS``.

Applied by ``cmdb db migrate`` (and by tests' set-up); checked when a store opens, so a
database without its uniqueness constraints refuses writes instead of growing duplicates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from neo4j import Driver, RoutingControl

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.cypher$")
_CONSTRAINT = re.compile(r"CREATE CONSTRAINT (\w+) IF NOT EXISTS", re.IGNORECASE)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def load_migrations() -> list[Migration]:
    out: list[Migration] = []
    folder = resources.files("cmdb.store.neo4j") / "migrations"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        m = _NAME.match(entry.name)
        if not m:
            continue
        text = entry.read_text(encoding="utf-8")
        body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
        stmts = tuple(s.strip() for s in body.split(";") if s.strip())
        out.append(Migration(int(m.group(1)), entry.name, stmts))
    return out


def required_constraints() -> set[str]:
    return {
        name
        for mig in load_migrations()
        for stmt in mig.statements
        if (name := _match(stmt)) is not None
    }


def _match(stmt: str) -> str | None:
    m = _CONSTRAINT.search(stmt)
    return m.group(1) if m else None


def migrate(driver: Driver, database: str) -> list[str]:
    """Apply every statement (idempotent by ``IF NOT EXISTS``); return the files applied."""
    applied: list[str] = []
    for mig in load_migrations():
        for stmt in mig.statements:
            # Schema commands run in their own transaction: Neo4j refuses them mixed with
            # data. Auto-commit, so a backfill may commit in batches (CALL ... IN
            # TRANSACTIONS) rather than hold every node of a big graph in one.
            with driver.session(database=database) as session:
                session.run(stmt).consume()
        driver.execute_query(
            "MERGE (m:CmdbMigration {version: $v}) SET m.name = $n",
            v=mig.version,
            n=mig.name,
            database_=database,
        )
        applied.append(mig.name)
    driver.execute_query("CALL db.awaitIndexes(300)", database_=database)
    return applied


def missing_constraints(driver: Driver, database: str) -> set[str]:
    records, _, _ = driver.execute_query(
        "SHOW CONSTRAINTS YIELD name RETURN collect(name) AS names",
        database_=database,
        routing_=RoutingControl.READ,
    )
    present = set(records[0]["names"]) if records else set()
    return required_constraints() - present
