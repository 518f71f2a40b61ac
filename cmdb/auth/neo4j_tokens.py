"""API tokens as ``ApiToken`` nodes (migration 0008), so every server process on one
Neo4j database sees the same tokens and revocations.

Uniqueness constraints on the key and on the secret's hash make a duplicate impossible
even under concurrent creation. Each call is one managed transaction (``execute_query``,
retried by the driver on transient errors): the writes are idempotent per key.
"""

from __future__ import annotations

from typing import Any

from neo4j import Driver, RoutingControl
from neo4j.exceptions import ServiceUnavailable, SessionExpired

from cmdb.auth.tokens import BaseTokenStore, Row
from cmdb.domain.errors import StoreUnavailable

_FIELDS = (
    "t.key AS key, t.name AS name, t.role AS role, t.services AS services,"
    " t.created_at AS created_at, t.expires_at AS expires_at, t.revoked_at AS revoked_at,"
    " t.secret_sha256 AS secret_sha256"
)


def _row(r: Any) -> Row:
    return (
        str(r["key"]),
        str(r["name"]),
        str(r["role"]),
        str(r["services"]),
        str(r["created_at"]),
        r["expires_at"],
        r["revoked_at"],
        str(r["secret_sha256"]),
    )


class Neo4jTokenStore(BaseTokenStore):
    """The token contract over the graph store's driver (one driver per process)."""

    def __init__(
        self, driver: Driver, *, database: str = "neo4j", cache_s: float = 5.0, **kw: Any
    ) -> None:
        super().__init__(cache_s=cache_s, **kw)
        self.driver = driver
        self.database = database

    def _query(self, query: str, *, write: bool, **params: Any) -> list[Any]:
        try:
            records, _, _ = self.driver.execute_query(
                query,
                params,
                database_=self.database,
                routing_=RoutingControl.WRITE if write else RoutingControl.READ,
            )
        except (ServiceUnavailable, SessionExpired) as exc:
            raise StoreUnavailable(f"Neo4j is unavailable: {exc}") from exc
        return list(records)

    def _insert(self, row: Row) -> None:
        key, name, role, services, created, expires, revoked, digest = row
        self._query(
            "CREATE (t:ApiToken {key: $key, name: $name, role: $role, services: $services,"
            " created_at: $created, expires_at: $expires, revoked_at: $revoked,"
            " secret_sha256: $digest})",
            write=True,
            key=key,
            name=name,
            role=role,
            services=services,
            created=created,
            expires=expires,
            revoked=revoked,
            digest=digest,
        )

    def _select(self, key: str) -> Row | None:
        records = self._query(
            f"MATCH (t:ApiToken {{key: $key}}) RETURN {_FIELDS}", write=False, key=key
        )
        return _row(records[0]) if records else None

    def _select_all(self) -> list[Row]:
        records = self._query(
            f"MATCH (t:ApiToken) RETURN {_FIELDS} ORDER BY t.created_at, t.key", write=False
        )
        return [_row(r) for r in records]

    def _mark_revoked(self, key: str, at: str) -> bool:
        records = self._query(
            "MATCH (t:ApiToken {key: $key})"
            " SET t.revoked_at = coalesce(t.revoked_at, $at) RETURN t.key AS key",
            write=True,
            key=key,
            at=at,
        )
        return bool(records)
