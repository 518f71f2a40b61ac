"""Which token store a process uses: the one that lives where the graph store lives.

With the Neo4j store, tokens are ``ApiToken`` nodes on the same database (and driver), so
every server process and the CLI agree; with the embedded store, the SQLite file at
``CMDB_TOKENS_PATH``.
"""

from __future__ import annotations

from typing import cast

from cmdb.auth.tokens import BaseTokenStore, TokenStore
from cmdb.config import Settings
from cmdb.store.contract import GraphStore


def tokens_for(store: GraphStore, settings: Settings) -> BaseTokenStore:
    if store.kind == "neo4j":
        from neo4j import Driver

        from cmdb.auth.neo4j_tokens import Neo4jTokenStore

        # The store's own driver (one per process); through a timing wrapper too.
        driver = cast(Driver, getattr(store, "driver"))  # noqa: B009 - not on the Protocol
        database = str(getattr(store, "database", "neo4j"))
        return Neo4jTokenStore(driver, database=database, cache_s=settings.token_cache_s)
    return TokenStore(settings.tokens_path, cache_s=settings.token_cache_s)
