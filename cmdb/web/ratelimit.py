"""Per-address rate limits on credentials, in process (reliability 16).

Two token buckets per client address, both at ``token_rate_per_min``:

- *credential requests*: every request to a credential endpoint (``/auth``, ``/tokens``)
  takes one; an empty bucket answers 429.
- *failed authentications*: every 401, on any route (REST or GraphQL), takes one; an empty
  bucket answers 429 to *every* request from that address, before any token is checked,
  so a guesser cannot tell a right guess from a wrong one faster than the limit allows.

Pure ASGI, so it sees the 401 whichever layer produced it. The address is the ASGI
``client`` (uvicorn's ``--proxy-headers`` decides whether a proxy's header is trusted).
With the embedded store the buckets live in the process (behind several workers each
enforces its own limit); with the Neo4j store they are nodes on the database
(cmdb/web/shared_limits.py), so every process on it enforces one limit together.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, TypeVar

import orjson
from anyio import to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_ADDRESSES = 100_000
T = TypeVar("T")


class Buckets(Protocol):
    """``rate`` events per ``per`` seconds for each key: in memory or shared."""

    blocking: ClassVar[bool]  # each call does I/O: run it off the event loop

    def wait(self, key: str) -> float: ...
    def take(self, key: str) -> float: ...
    def spend(self, key: str) -> None: ...
    def known_clear(self, key: str) -> bool:
        """Whether ``wait(key)`` is 0, known without I/O (False: ask ``wait``)."""
        ...


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class TokenBuckets:
    """``rate`` events per ``per`` seconds for each key, bursts up to ``rate``."""

    blocking: ClassVar[bool] = False

    rate: int
    per: float = 60.0
    clock: Callable[[], float] = time.monotonic
    max_keys: int = MAX_ADDRESSES
    _buckets: dict[str, _Bucket] = field(default_factory=dict, repr=False)

    @property
    def _refill(self) -> float:
        return self.rate / self.per  # tokens per second

    def _bucket(self, key: str) -> _Bucket:
        now = self.clock()
        b = self._buckets.get(key)
        if b is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now)
            b = self._buckets[key] = _Bucket(float(self.rate), now)
        else:
            b.tokens = min(float(self.rate), b.tokens + (now - b.at) * self._refill)
            b.at = now
        return b

    def _prune(self, now: float) -> None:
        """Forget full buckets (they hold no state); if that is not enough, the oldest."""
        full = [
            k
            for k, b in self._buckets.items()
            if b.tokens + (now - b.at) * self._refill >= self.rate
        ]
        for k in full:
            del self._buckets[k]
        while len(self._buckets) >= self.max_keys:
            del self._buckets[next(iter(self._buckets))]

    def known_clear(self, key: str) -> bool:
        return False  # wait() itself is a dictionary look-up

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may act again (0: now), without taking anything."""
        b = self._bucket(key)
        return 0.0 if b.tokens >= 1.0 else (1.0 - b.tokens) / self._refill

    def take(self, key: str) -> float:
        """Take one if there is one and return 0; else the seconds to wait."""
        b = self._bucket(key)
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return 0.0
        return (1.0 - b.tokens) / self._refill

    def spend(self, key: str) -> None:
        """Take one unconditionally (an event that already happened), down to zero."""
        b = self._bucket(key)
        b.tokens = max(0.0, b.tokens - 1.0)


@dataclass
class RateLimits:
    credentials: Buckets
    failures: Buckets

    @classmethod
    def per_minute(cls, rate: int, *, clock: Callable[[], float] = time.monotonic) -> RateLimits:
        return cls(TokenBuckets(rate, clock=clock), TokenBuckets(rate, clock=clock))


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: RateLimits, credential_paths: tuple[str, ...]) -> None:
        self.app = app
        self.limits = limits
        self.credential_paths = credential_paths

    def _is_credential(self, path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in self.credential_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        addr = client_address(scope)
        failures, credentials = self.limits.failures, self.limits.credentials
        wait = 0.0 if failures.known_clear(addr) else await _call(failures, failures.wait, addr)
        if not wait and self._is_credential(str(scope.get("path", ""))):
            wait = await _call(credentials, credentials.take, addr)
        if wait:
            await _too_many(scope, send, wait)
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                await _call(failures, failures.spend, addr)
            await send(message)

        await self.app(scope, receive, watch)


async def _call(buckets: Buckets, fn: Callable[[str], T], key: str) -> T:
    # Shared buckets are a Neo4j round trip: never a blocking call inside async def.
    return await to_thread.run_sync(fn, key) if buckets.blocking else fn(key)


async def _too_many(scope: Scope, send: Send, wait: float) -> None:
    seconds = max(1, math.ceil(wait))
    rid = (scope.get("state") or {}).get("request_id")
    body = orjson.dumps(
        {
            "error": {
                "type": "rate_limited",
                "message": f"too many requests from this address; retry after {seconds} s",
                "request_id": rid,
            }
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(seconds).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
