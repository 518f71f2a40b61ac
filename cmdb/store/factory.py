"""Opens the configured store. The shells call this; nothing else picks a store."""

from __future__ import annotations

from cmdb.config import Settings, StoreKind
from cmdb.domain.errors import InvalidInput
from cmdb.store.contract import GraphStore


def open_store(settings: Settings) -> GraphStore:
    if settings.store is StoreKind.EMBEDDED:
        from cmdb.store.embedded.store import EmbeddedStore

        return EmbeddedStore(settings.db_path)
    if settings.neo4j_password is None:
        raise InvalidInput("the neo4j store needs CMDB_NEO4J_PASSWORD", where="CMDB_NEO4J_PASSWORD")
    from cmdb.store.neo4j.store import Neo4jStore

    return Neo4jStore.connect(
        settings.neo4j_uri,
        settings.neo4j_user,
        settings.neo4j_password.get_secret_value(),
        database=settings.neo4j_database,
        tx_timeout_s=settings.neo4j_tx_timeout_s,
    )
