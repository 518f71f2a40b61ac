"""API tokens, kept in their own SQLite file (whatever the graph store), hashed.

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


class TokenStore:
    """Tokens in SQLite, and a short in-memory memory of tokens verified lately.

    The memory (``cache_s`` seconds, keyed by the token's hash) spares every request a
    SQLite read and lets the API check a token without leaving the event loop. A
    revocation through this store takes effect at once; one made by another process (the
    CLI) within ``cache_s``. Expiry is checked on every use.
    """

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], datetime] | None = None,
        cache_s: float = 5.0,
    ) -> None:
        self.path = path
        self._clock = clock or (lambda: datetime.now(UTC))
        self.cache_s = cache_s
        self._verified: dict[str, tuple[Principal, float, datetime | None]] = {}
        self._lock = threading.Lock()
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
        with self._conn() as db:
            db.execute(
                "INSERT INTO api_token VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    key,
                    info.name,
                    role.value,
                    ",".join(services),
                    _hash(secret),
                    _ts(now),
                    _ts(expires_at) if expires_at else None,
                ),
            )
        return f"{PREFIX}{key}_{secret}", info

    def list(self) -> list[TokenInfo]:
        with self._conn() as db:
            rows = db.execute(
                "SELECT key, name, role, services, created_at, expires_at, revoked_at "
                "FROM api_token ORDER BY created_at, key"
            ).fetchall()
        return [self._info(r) for r in rows]

    def get(self, key: str) -> TokenInfo:
        with self._conn() as db:
            row = db.execute(
                "SELECT key, name, role, services, created_at, expires_at, revoked_at "
                "FROM api_token WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            raise NotFound(f"no token {key!r}", where="key")
        return self._info(row)

    def revoke(self, key: str) -> TokenInfo:
        with self._lock:
            self._verified = {
                h: entry for h, entry in self._verified.items() if entry[0].token_key != key
            }
        with self._conn() as db:
            cur = db.execute(
                "UPDATE api_token SET revoked_at = ? WHERE key = ? AND revoked_at IS NULL",
                (_ts(self._clock()), key),
            )
            if (
                cur.rowcount == 0
                and not db.execute("SELECT 1 FROM api_token WHERE key = ?", (key,)).fetchone()
            ):
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
        with self._conn() as db:
            row = db.execute(
                "SELECT key, name, role, services, created_at, expires_at, revoked_at, "
                "secret_sha256 FROM api_token WHERE key = ?",
                (key,),
            ).fetchone()
        # Compare even when the key is unknown, so timing does not tell keys apart.
        expected = row[7] if row else _hash(secrets.token_hex(8))
        if not hmac.compare_digest(expected, _hash(secret)) or row is None:
            raise Unauthenticated("invalid token")
        info = self._info(row[:7])
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
        None (then call ``authenticate``). Touches no file: safe on the event loop."""
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
    def _info(row: Sequence[object]) -> TokenInfo:
        key, name, role, services, created, expires, revoked = row
        return TokenInfo(
            key=str(key),
            name=str(name),
            role=Role(str(role)),
            services=tuple(s for s in str(services).split(",") if s),
            created_at=datetime.fromisoformat(str(created)),
            expires_at=_parse_ts(expires if isinstance(expires, str) else None),
            revoked_at=_parse_ts(revoked if isinstance(revoked, str) else None),
        )
