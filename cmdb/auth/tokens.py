"""API tokens, hashed: in their own SQLite file (embedded store) or in Neo4j (neo4j store).

A token reads ``cmdb_<key>_<secret>``: ``key`` finds the row, ``secret`` is checked
against its SHA-256 with a constant-time compare. Secrets are 32 random bytes, so a fast
hash is enough (a slow password hash protects guessable secrets, which these are not).
The clear token is shown once, at creation, and never stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cmdb.auth.roles import Role
from cmdb.domain.errors import CmdbError, InvalidInput, NotFound

PREFIX = "cmdb_"
MAX_CACHED = 10_000  # verified tokens remembered at once (a flood of tokens resets it)
MAX_TOKEN_CHARS = 256  # a real token is about 60; anything longer is not worth hashing
_DURATION = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_token (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    services TEXT NOT NULL DEFAULT '',  -- comma-separated service CI ids; '' = every service
    secret_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT
);
"""


class Unauthenticated(CmdbError):
    """No token, or one that is unknown, forged, expired or revoked."""


@dataclass(frozen=True)
class TokenInfo:
    key: str
    name: str
    role: Role
    services: tuple[str, ...]  # empty: not scoped
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @property
    def scoped(self) -> bool:
        return bool(self.services)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name and role, and the services it is limited to."""

    name: str
    role: Role
    services: tuple[str, ...] = ()
    token_key: str | None = None

    @property
    def scoped(self) -> bool:
        return bool(self.services)


def parse_duration(text: str, *, where: str = "expires_in") -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s`` or ``2w``."""
    m = _DURATION.match(text)
    if not m or int(m.group(1)) == 0:
        raise InvalidInput(f"{text!r} is not a duration such as 30d, 12h, 90m or 2w", where=where)
    return timedelta(seconds=int(m.group(1)) * _UNIT_SECONDS[m.group(2).lower()])


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _ts(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def _parse_ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# A stored token as the backends hand it over: key, name, role, services (comma-joined),
# created_at, expires_at, revoked_at (ISO text or None), then the secret's SHA-256.
Row = tuple[str, str, str, str, str, str | None, str | None, str]


class BaseTokenStore(ABC):
    """The token contract: create, list, get, revoke and authenticate, with a short
    in-memory memory of tokens verified lately. A backend stores rows (``_insert``,
    ``_select``, ``_select_all``, ``_mark_revoked``); everything else is here, once.

    The memory (``cache_s`` seconds, keyed by the token's hash) spares every request a
    read and lets the API check a token without leaving the event loop. A revocation
    through this object takes effect at once; one made by another process (the CLI,
    another server process) within ``cache_s``. Expiry is checked on every use.
    """

    def __init__(
        self, *, clock: Callable[[], datetime] | None = None, cache_s: float = 5.0
    ) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self.cache_s = cache_s
        self._verified: dict[str, tuple[Principal, float, datetime | None]] = {}
        self._lock = threading.Lock()

    # -- what a backend provides ----------------------------------------------------------
    @abstractmethod
    def _insert(self, row: Row) -> None: ...

    @abstractmethod
    def _select(self, key: str) -> Row | None: ...

    @abstractmethod
    def _select_all(self) -> list[Row]:
        """Every token, by creation time then key."""

    @abstractmethod
    def _mark_revoked(self, key: str, at: str) -> bool:
        """Set revoked_at unless already set; False when the key is unknown."""

    # -- the contract ----------------------------------------------------------------------
    def create(
        self,
        name: str,
        role: Role,
        *,
        services: Sequence[str] = (),
        expires_at: datetime | None = None,
    ) -> tuple[str, TokenInfo]:
        """A new token: the clear text (show it once) and what is stored of it."""
        if not name.strip():
            raise InvalidInput("a token needs a name", where="name")
        if any(not s or "," in s or s != s.strip() for s in services):
            raise InvalidInput("a service reference is empty or holds a comma", where="services")
        if expires_at is not None and expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)  # an instant without a zone is UTC
        now = self._clock()
        if expires_at is not None and expires_at <= now:
            raise InvalidInput("the expiry is in the past", where="expires_at")
        key = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        info = TokenInfo(key, name.strip(), role, tuple(services), now, expires_at, None)
        self._insert(
            (
                key,
                info.name,
                role.value,
                ",".join(services),
                _ts(now),
                _ts(expires_at) if expires_at else None,
                None,
                _hash(secret),
            )
        )
        return f"{PREFIX}{key}_{secret}", info

    def list(self) -> list[TokenInfo]:
        return [self._info(r) for r in self._select_all()]

    def get(self, key: str) -> TokenInfo:
        row = self._select(key)
        if row is None:
            raise NotFound(f"no token {key!r}", where="key")
        return self._info(row)

    def revoke(self, key: str) -> TokenInfo:
        with self._lock:
            self._verified = {
                h: entry for h, entry in self._verified.items() if entry[0].token_key != key
            }
        if not self._mark_revoked(key, _ts(self._clock())):
            raise NotFound(f"no token {key!r}", where="key")
        return self.get(key)

    def authenticate(self, token: str | None) -> Principal:
        """The principal a presented token stands for, or Unauthenticated (never says which
        part was wrong: a forger learns nothing)."""
        if not token:
            raise Unauthenticated("a bearer token is required")
        if len(token) > MAX_TOKEN_CHARS:
            raise Unauthenticated("invalid token")
        rest = token.removeprefix(PREFIX)
        key, sep, secret = rest.partition("_")
        if not token.startswith(PREFIX) or not sep or not key or not secret:
            raise Unauthenticated("invalid token")
        row = self._select(key)
        # Compare even when the key is unknown, so timing does not tell keys apart.
        expected = row[7] if row else _hash(secrets.token_hex(8))
        if not hmac.compare_digest(expected, _hash(secret)) or row is None:
            raise Unauthenticated("invalid token")
        info = self._info(row)
        if info.revoked_at is not None:
            raise Unauthenticated("invalid token")
        if info.expires_at is not None and info.expires_at <= self._clock():
            raise Unauthenticated("token expired")
        principal = Principal(info.name, info.role, info.services, info.key)
        if self.cache_s > 0:
            with self._lock:
                if len(self._verified) >= MAX_CACHED:
                    self._verified.clear()
                self._verified[_hash(token)] = (
                    principal,
                    time.monotonic() + self.cache_s,
                    info.expires_at,
                )
        return principal

    def recently_verified(self, token: str | None) -> Principal | None:
        """The principal of a token verified less than ``cache_s`` ago and still valid, else
        None (then call ``authenticate``). Touches no storage: safe on the event loop."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        entry = self._verified.get(_hash(token))
        if entry is None:
            return None
        principal, deadline, expires_at = entry
        if time.monotonic() >= deadline or (expires_at is not None and expires_at <= self._clock()):
            return None
        return principal

    @staticmethod
    def _info(row: Row) -> TokenInfo:
        key, name, role, services, created, expires, revoked, _ = row
        return TokenInfo(
            key=str(key),
            name=str(name),
            role=Role(str(role)),
            services=tuple(s for s in str(services).split(",") if s),
            created_at=datetime.fromisoformat(str(created)),
            expires_at=_parse_ts(expires),
            revoked_at=_parse_ts(revoked),
        )


_COLUMNS = "key, name, role, services, created_at, expires_at, revoked_at, secret_sha256"


class TokenStore(BaseTokenStore):
    """Tokens in their own SQLite file: the embedded store's backend (and any process
    that shares the file sees the same tokens)."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], datetime] | None = None,
        cache_s: float = 5.0,
    ) -> None:
        super().__init__(clock=clock, cache_s=cache_s)
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._conn() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:
                yield db
        finally:
            db.close()

    def _insert(self, row: Row) -> None:
        with self._conn() as db:
            db.execute(f"INSERT INTO api_token ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)

    def _select(self, key: str) -> Row | None:
        with self._conn() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM api_token WHERE key = ?", (key,)).fetchone()
        return tuple(row) if row else None

    def _select_all(self) -> list[Row]:
        with self._conn() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM api_token ORDER BY created_at, key")
            return [tuple(r) for r in rows.fetchall()]

    def _mark_revoked(self, key: str, at: str) -> bool:
        with self._conn() as db:
            cur = db.execute(
                "UPDATE api_token SET revoked_at = ? WHERE key = ? AND revoked_at IS NULL",
                (at, key),
            )
            if cur.rowcount:
                return True
            return (
                db.execute("SELECT 1 FROM api_token WHERE key = ?", (key,)).fetchone() is not None
            )
