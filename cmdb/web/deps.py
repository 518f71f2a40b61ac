"""What routes ask FastAPI for: the store, the settings, the caller and what it may see.

Routes are plain ``def`` functions (FastAPI runs them in its thread pool) because the
stores are synchronous: no blocking store call ever runs inside ``async def``. The
dependencies below are ``async`` (a sync dependency costs a thread-pool hop each, several
per request) and send only their blocking part to the pool: a token not verified lately
(a SQLite read), and a service scope (a store walk).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from cmdb.app.scope import Visibility
from cmdb.auth.roles import Permission, Role, grants
from cmdb.auth.tokens import BaseTokenStore, Principal
from cmdb.config import Settings
from cmdb.domain.errors import Forbidden
from cmdb.store.contract import GraphStore

LOCAL_DEV = Principal(name="local-development", role=Role.ADMIN)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def store_of(request: Request) -> GraphStore:
    store: GraphStore = request.app.state.store
    return store


def tokens_of(request: Request) -> BaseTokenStore:
    tokens: BaseTokenStore = request.app.state.tokens
    return tokens


async def get_settings(request: Request) -> Settings:
    return settings_of(request)


async def get_store(request: Request) -> GraphStore:
    return store_of(request)


async def get_tokens(request: Request) -> BaseTokenStore:
    return tokens_of(request)


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _known(request: Request) -> Principal | None:
    """The caller if known without I/O: already checked in this request, local
    development, or a token verified lately."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    if settings_of(request).auth_disabled:
        return LOCAL_DEV
    return tokens_of(request).recently_verified(bearer(request))


async def get_principal(request: Request) -> Principal:
    """The caller, authenticated once per request (cached on the request)."""
    principal = _known(request)
    if principal is None:
        principal = await run_in_threadpool(tokens_of(request).authenticate, bearer(request))
    request.state.principal = principal
    return principal


def require(permission: Permission) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: the caller, if its role grants ``permission``; else 403."""

    async def check(request: Request) -> Principal:
        principal = await get_principal(request)
        if not grants(principal.role, permission):
            raise Forbidden(f"the {principal.role.value} role may not {permission.value}")
        return principal

    check.__name__ = f"require_{permission.value}"
    # Marks the check, so a test can prove every route carries one (the security matrix).
    setattr(check, "permission", permission)  # noqa: B010 - a function takes any attribute
    return check


async def get_visibility(request: Request) -> Visibility:
    """What the caller may see: everything, or its services and what they depend on.
    Computed at most once per request."""
    cached = getattr(request.state, "visibility", None)
    if isinstance(cached, Visibility):
        return cached
    principal = await get_principal(request)
    vis = (
        Visibility(None)
        if not principal.scoped
        else await run_in_threadpool(Visibility.for_principal, store_of(request), principal)
    )
    request.state.visibility = vis
    return vis


Store = Annotated[GraphStore, Depends(get_store)]
Caller = Annotated[Principal, Depends(get_principal)]
Reader = Annotated[Principal, Depends(require(Permission.READ))]
Editor = Annotated[Principal, Depends(require(Permission.EDIT))]
Discoverer = Annotated[Principal, Depends(require(Permission.DISCOVER))]
Admin = Annotated[Principal, Depends(require(Permission.ADMIN))]
Visible = Annotated[Visibility, Depends(get_visibility)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def ids_allowed(vis: Visibility, ids: Iterable[str]) -> bool:
    return all(vis.allows(i) for i in ids)
