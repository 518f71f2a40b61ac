"""The Neo4j store's reads: each one query in one auto-commit transaction.

Every read of the store is a single query, so it needs no explicit transaction: an
auto-commit query is one round trip (RUN and PULL sent together), where the driver sends a
managed transaction in three (BEGIN; RUN and PULL; COMMIT). On loopback a small read took
0.54 ms of client CPU managed against 0.30 ms auto-commit, and the API makes one to three
reads a request.

A managed transaction is retried by the driver on transient errors; an auto-commit query
is not, so the same errors (those the driver calls retryable: a dead connection, a
cluster member gone, a deadlock) are retried here, with exponential backoff, for as long
as the driver would retry a managed one. A read is whole or not at all: the records are
taken inside the attempt, so a retry starts the query again rather than resuming it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import backoff
from neo4j import Driver, Query, Result
from neo4j.exceptions import DriverError, Neo4jError, ServiceUnavailable, SessionExpired

from cmdb.domain.errors import StoreUnavailable

T = TypeVar("T")

# The driver's own defaults for managed transactions (max_transaction_retry_time and its
# first delay), so reads give up when a managed read would have.
RETRY_S = 30.0
FIRST_DELAY_S = 1.0


def _not_retryable(exc: Exception) -> bool:
    return not (isinstance(exc, DriverError | Neo4jError) and exc.is_retryable())


def rows_of(result: Result) -> list[dict[str, Any]]:
    # dict(zip(...)), not Record.data(): data() walks every value recursively looking for
    # graph types, which the store's flat answers never hold.
    return [dict(zip(r.keys(), r.values(), strict=True)) for r in result]


def chunks_of(result: Result) -> list[Any]:
    """The rows of a ``cypher.chunked`` query, from its few records."""
    out: list[Any] = []
    for rec in result:
        out += rec[0]
    return out


class Reader:
    """Runs the store's read queries against one database, routed to a reader."""

    def __init__(
        self,
        driver: Driver,
        database: str,
        *,
        timeout_s: float,
        retry_s: float = RETRY_S,
        first_delay_s: float = FIRST_DELAY_S,
    ) -> None:
        self.driver = driver
        self.database = database
        self._timeout = timeout_s
        self._retrying = backoff.on_exception(
            backoff.expo,
            (DriverError, Neo4jError),
            giveup=_not_retryable,
            max_time=retry_s,
            factor=first_delay_s,
            logger=None,  # the driver logs the failures themselves
        )(self._once)

    def read(self, query: str, params: dict[str, Any], take: Callable[[Result], T]) -> T:
        """``take`` applied to the answer of ``query``; StoreUnavailable once retries end."""
        try:
            return self._retrying(query, params, take)
        except (ServiceUnavailable, SessionExpired) as exc:
            raise StoreUnavailable(f"Neo4j is unavailable: {exc}") from exc

    def _once(self, query: str, params: dict[str, Any], take: Callable[[Result], T]) -> T:
        with self.driver.session(database=self.database, default_access_mode="READ") as s:
            return take(s.run(Query(query, timeout=self._timeout), params))
