"""Rate-limit buckets in Neo4j (``RateBucket`` nodes, migration 0008), shared by every
server process on one database: requests spread over N processes meet one limit.

The same token buckets as cmdb/web/ratelimit.py (``rate`` per ``per`` seconds, bursts up
to ``rate``), so a limit means the same on both stores. Taking a token is one query in one
write transaction: ``MERGE`` on the unique key creates the bucket once even when two
processes race, and ``SET b._lock`` takes the node's write lock before the level is read,
so concurrent takes queue instead of losing updates (Neo4j's read-committed isolation
would otherwise let two read the same level). The clock is the wall clock, shared by
processes on different hosts within their skew.

A bucket records when it will be full again (``full_at``); a full bucket holds no state,
so such buckets are deleted, at most once a minute per process.

Every request asks the failures bucket of its address whether it must wait (a read on
the database, about a third of the database's work for reading one CI). A process keeps
an answer "no wait" for ``CLEAR_FOR_S`` and forgets it as soon as it takes or spends on
that key itself: failures another process records reach this one within that time, the
ones it records at once. A blocked answer is never kept.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from neo4j import Driver, RoutingControl

CLEAN_EVERY_S = 60.0
CLEAR_FOR_S = 1.0  # how long a "no wait" answer is trusted in this process
MAX_CLEAR_KEYS = 100_000
CLEAN_BATCH = 1000

_TAKE = """
MERGE (b:RateBucket {key: $key})
  ON CREATE SET b.tokens = toFloat($rate), b.at = $now
SET b._lock = true
WITH b, CASE WHEN $now > b.at THEN $now ELSE b.at END AS at
WITH b, at, b.tokens + (at - b.at) * $refill AS grown
WITH b, at, CASE WHEN grown > $rate THEN toFloat($rate) ELSE grown END AS have
WITH b, at, have,
     CASE WHEN have >= 1.0 THEN have - 1.0 WHEN $spend THEN 0.0 ELSE have END AS left
SET b.tokens = left, b.at = at, b.full_at = at + ($rate - left) / $refill
REMOVE b._lock
RETURN have
"""
_LEVEL = "MATCH (b:RateBucket {key: $key}) RETURN b.tokens AS tokens, b.at AS at"
_CLEAN = """
MATCH (b:RateBucket) WHERE b.full_at < $now
WITH b LIMIT $batch
SET b._lock = true
WITH b WHERE b.full_at < $now
DELETE b
"""


@dataclass
class Neo4jBuckets:
    """The TokenBuckets interface (wait/take/spend) over RateBucket nodes. Every call is
    a round trip: the middleware runs them off the event loop (``blocking``)."""

    blocking: ClassVar[bool] = True

    driver: Driver
    name: str  # "credentials" or "failures": one bucket per (name, client address)
    rate: int
    per: float = 60.0
    database: str = "neo4j"
    clock: Callable[[], float] = time.time
    ticks: Callable[[], float] = time.monotonic  # for CLEAR_FOR_S, apart from the clock
    _cleaned_at: float = field(default=float("-inf"), repr=False)
    _clear_until: dict[str, float] = field(default_factory=dict, repr=False)
    # Takes and spends made by this process, numbered (next() on a count is atomic).
    _numbers: Iterator[int] = field(default_factory=itertools.count, repr=False)
    _takes: int = field(default=0, repr=False)

    @property
    def _refill(self) -> float:
        return self.rate / self.per

    def _run(self, query: str, *, write: bool, **params: Any) -> list[Any]:
        records, _, _ = self.driver.execute_query(
            query,
            params,
            database_=self.database,
            routing_=RoutingControl.WRITE if write else RoutingControl.READ,
        )
        return list(records)

    def _take(self, key: str, *, spend: bool) -> float:
        self._takes = next(self._numbers) + 1
        self._clear_until.pop(key, None)
        now = float(self.clock())
        records = self._run(
            _TAKE,
            write=True,
            key=f"{self.name}:{key}",
            rate=self.rate,
            refill=self._refill,
            now=now,
            spend=spend,
        )
        self._clean(now)
        have = float(records[0]["have"])
        return 0.0 if have >= 1.0 else (1.0 - have) / self._refill

    def _clean(self, now: float) -> None:
        if now - self._cleaned_at < CLEAN_EVERY_S:
            return
        self._cleaned_at = now
        self._run(_CLEAN, write=True, now=now, batch=CLEAN_BATCH)

    def known_clear(self, key: str) -> bool:
        until = self._clear_until.get(key)
        return until is not None and self.ticks() < until

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may act again (0: now), without taking anything."""
        asked, takes = self.ticks(), self._takes
        records = self._run(_LEVEL, write=False, key=f"{self.name}:{key}")
        wait = 0.0
        if records:
            elapsed = max(0.0, float(self.clock()) - float(records[0]["at"]))
            have = min(float(self.rate), float(records[0]["tokens"]) + elapsed * self._refill)
            wait = 0.0 if have >= 1.0 else (1.0 - have) / self._refill
        if wait or takes != self._takes:  # blocked, or a take here may not be in the answer
            self._clear_until.pop(key, None)
        else:
            if len(self._clear_until) >= MAX_CLEAR_KEYS:
                self._clear_until.clear()  # a bound on memory; answers are only re-asked
            self._clear_until[key] = asked + CLEAR_FOR_S
        return wait

    def take(self, key: str) -> float:
        """Take one if there is one and return 0; else the seconds to wait."""
        return self._take(key, spend=False)

    def spend(self, key: str) -> None:
        """Take one unconditionally (an event that already happened), down to zero."""
        self._take(key, spend=True)
