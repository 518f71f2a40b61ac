"""What routes ask FastAPI for: the store, the settings, the caller and what it may see.

Routes are plain ``def`` functions (FastAPI runs them in its thread pool) because the
stores are synchronous: no blocking store call ever runs inside ``async def``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated

from fastapi import Depends, Request

from cmdb.api.scope import Visibility
from cmdb.auth.roles import Permission, Role, grants
from cmdb.auth.tokens import Forbidden, Principal, TokenStore
from cmdb.config import Settings
from cmdb.store.contract import GraphStore

LOCAL_DEV = Principal(name="local-development", role=Role.ADMIN)


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_store(request: Request) -> GraphStore:
    store: GraphStore = request.app.state.store
    return store


def get_tokens(request: Request) -> TokenStore:
    tokens: TokenStore = request.app.state.tokens
    return tokens


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def get_principal(request: Request) -> Principal:
    """The caller, authenticated once per request (cached on the request)."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    settings = get_settings(request)
    principal = (
        LOCAL_DEV if settings.auth_disabled else get_tokens(request).authenticate(bearer(request))
    )
    request.state.principal = principal
    return principal


def principal_for(request: Request) -> Principal:
    """The same, for code outside FastAPI's dependency injection (the GraphQL context)."""
    return get_principal(request)


def require(permission: Permission) -> Callable[[Request], Principal]:
    """A dependency: the caller, if its role grants ``permission``; else 403."""

    def check(request: Request) -> Principal:
        principal = get_principal(request)
        if not grants(principal.role, permission):
            raise Forbidden(f"the {principal.role.value} role may not {permission.value}")
        return principal

    check.__name__ = f"require_{permission.value}"
    # Marks the check, so a test can prove every route carries one (the security matrix).
    setattr(check, "permission", permission)  # noqa: B010 - a function takes any attribute
    return check


def get_visibility(request: Request) -> Visibility:
    """What the caller may see: everything, or its services and what they depend on.
    Computed at most once per request."""
    cached = getattr(request.state, "visibility", None)
    if isinstance(cached, Visibility):
        return cached
    vis = Visibility.for_principal(get_store(request), get_principal(request))
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
