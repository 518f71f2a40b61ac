"""The numbered migrations cover what the Neo4j store relies on."""

from __future__ import annotations

import re

from cmdb.store.neo4j import cypher
from cmdb.store.neo4j.migrations import load_migrations, required_constraints


def _statements() -> list[str]:
    return [s for m in load_migrations() for s in m.statements]


def test_migrations_are_numbered_in_order_and_idempotent() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == sorted(versions) == list(range(1, len(versions) + 1))
    for stmt in _statements():
        # A schema statement creates only what is missing; a backfill sets only what is.
        schema = stmt.startswith("CREATE") and "IF NOT EXISTS" in stmt
        backfill = stmt.startswith("MATCH") and " IS NULL " in stmt and "IN TRANSACTIONS" in stmt
        assert schema or backfill, stmt


def test_every_relationship_type_has_its_id_and_sequence_index() -> None:
    text = "\n".join(_statements())
    for rel_type in cypher.ALL_TYPES:
        for prop in ("id", "h_seq"):
            pattern = rf"FOR \(\)-\[r:{rel_type}\]-\(\) ON \(r\.{prop}\)"
            assert re.search(pattern, text), f"no index on {rel_type}.{prop}"


def test_identity_constraints_are_required() -> None:
    assert {"ci_id", "ci_pkey", "ident_key", "history_seq", "meta_name"} <= required_constraints()


def test_labels_come_from_the_class_hierarchy() -> None:
    assert cypher.labels_for("Pod") == "CI:Compute:Container:Pod"
    assert cypher.labels_for("Service") == "CI:Service"
