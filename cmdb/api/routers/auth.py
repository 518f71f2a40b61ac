"""Credentials: who am I, and token management for admins.

Every path here is a credential endpoint, rate-limited per client address
(cmdb/web/ratelimit.py). A token's clear text appears once, in the answer that creates
it; nothing here ever returns a secret or its hash. Managing tokens takes an admin token
that is not scoped to services: a scoped admin could otherwise mint itself an unscoped one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from cmdb.auth.roles import GRANTS, Permission, Role, authority
from cmdb.auth.services import resolve_services
from cmdb.auth.tokens import BaseTokenStore, Principal, TokenInfo, parse_duration
from cmdb.domain.errors import Forbidden, InvalidInput
from cmdb.domain.records import ApprovalLevel
from cmdb.web.deps import Admin, Reader, Store, get_tokens

router = APIRouter(tags=["auth"])

KeyPath = Annotated[str, Path(pattern=r"^[0-9a-f]{1,64}$", description="the token's key")]


class TokenStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class WhoAmIOut(BaseModel):
    name: str
    role: Role
    permissions: list[Permission]
    authority: ApprovalLevel | None = Field(
        description="the most senior change approval the role may give; null: none"
    )
    scoped: bool
    services: list[str] = Field(description="service CI ids the token is limited to; [] = all")
    token_key: str | None


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: Role
    services: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="services (id, kind=value or unique name) the token is limited to",
    )
    expires_in: str | None = Field(
        default=None, max_length=16, description="a lifetime such as 30d, 12h or 90m"
    )
    expires_at: datetime | None = Field(default=None, description="or an instant (no zone: UTC)")


class TokenOut(BaseModel):
    key: str
    name: str
    role: Role
    services: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    status: TokenStatus


class TokenCreatedOut(BaseModel):
    token: str = Field(description="the bearer token; shown this once, never again")
    info: TokenOut


class TokenListOut(BaseModel):
    items: list[TokenOut]


Tokens = Annotated[BaseTokenStore, Depends(get_tokens)]


def _unscoped_admin(principal: Principal) -> None:
    if principal.scoped:
        raise Forbidden("a token scoped to services may not manage tokens")


def token_out(info: TokenInfo, *, now: datetime | None = None) -> TokenOut:
    now = now or datetime.now(UTC)
    status = (
        TokenStatus.REVOKED
        if info.revoked_at is not None
        else TokenStatus.EXPIRED
        if info.expires_at is not None and info.expires_at <= now
        else TokenStatus.ACTIVE
    )
    return TokenOut(
        key=info.key,
        name=info.name,
        role=info.role,
        services=list(info.services),
        created_at=info.created_at,
        expires_at=info.expires_at,
        revoked_at=info.revoked_at,
        status=status,
    )


def expiry(expires_in: str | None, expires_at: datetime | None) -> datetime | None:
    if expires_in is not None and expires_at is not None:
        raise InvalidInput("give expires_in or expires_at, not both", where="expires_in")
    if expires_in is not None:
        return datetime.now(UTC) + parse_duration(expires_in)
    return expires_at


@router.get("/auth/whoami", operation_id="whoami", response_model=WhoAmIOut)
def whoami(principal: Reader) -> WhoAmIOut:
    """The caller's token: its name, role, what the role grants and the services it sees."""
    return WhoAmIOut(
        name=principal.name,
        role=principal.role,
        permissions=sorted(GRANTS[principal.role]),
        authority=authority(principal.role),
        scoped=principal.scoped,
        services=list(principal.services),
        token_key=principal.token_key,
    )


@router.get("/tokens", operation_id="listTokens", response_model=TokenListOut)
def list_tokens(principal: Admin, tokens: Tokens) -> TokenListOut:
    """Every token with its status; never a secret or a hash."""
    _unscoped_admin(principal)
    now = datetime.now(UTC)
    return TokenListOut(items=[token_out(t, now=now) for t in tokens.list()])


@router.post("/tokens", operation_id="createToken", status_code=201, response_model=TokenCreatedOut)
def create_token(body: TokenIn, principal: Admin, store: Store, tokens: Tokens) -> TokenCreatedOut:
    """A new token; its clear text is in this answer only."""
    _unscoped_admin(principal)
    services = resolve_services(store, body.services)
    when = expiry(body.expires_in, body.expires_at)
    clear, info = tokens.create(body.name, body.role, services=services, expires_at=when)
    return TokenCreatedOut(token=clear, info=token_out(info))


@router.get("/tokens/{key}", operation_id="getToken", response_model=TokenOut)
def get_token(key: KeyPath, principal: Admin, tokens: Tokens) -> TokenOut:
    _unscoped_admin(principal)
    return token_out(tokens.get(key))


@router.delete("/tokens/{key}", operation_id="revokeToken", response_model=TokenOut)
def revoke_token(key: KeyPath, principal: Admin, tokens: Tokens) -> TokenOut:
    """Revoke a token at once (its next request gets 401); revoking twice is harmless."""
    _unscoped_admin(principal)
    return token_out(tokens.revoke(key))
