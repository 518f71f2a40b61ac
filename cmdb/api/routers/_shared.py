"""What the resource routers share: FastAPI parameters and the request as the app's caller.

The rules themselves (scope, limits, validation, CI references) live in ``cmdb.app``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, Request

from cmdb.app import caller as _caller
from cmdb.app.caller import Caller, unscoped_only
from cmdb.app.inputs import every_ci, instant, resolve_visible, type_names, validated
from cmdb.auth.tokens import Principal
from cmdb.domain.changeset import ApplyResult, ChangeSet
from cmdb.store.contract import GraphStore

__all__ = [
    "AsOf",
    "Types",
    "apply",
    "caller",
    "changeset",
    "every_ci",
    "instant",
    "request_id",
    "resolve_visible",
    "stamped",
    "type_names",
    "unscoped_only",
    "validated",
]

AsOf = Annotated[
    datetime | None,
    Query(description="an ISO 8601 instant (no zone: UTC): the answer as it was then"),
]
Types = Annotated[
    list[str] | None,
    Query(alias="type", description="relationship types to follow (repeatable); default all"),
]


def request_id(request: Request) -> str | None:
    rid = getattr(request.state, "request_id", None)
    return str(rid) if rid else None


def caller(principal: Principal, request: Request) -> Caller:
    return Caller(principal, request_id(request))


def changeset(principal: Principal, request: Request, **ops: Any) -> ChangeSet:
    return _caller.changeset(caller(principal, request), **ops)


def apply(store: GraphStore, principal: Principal, request: Request, **ops: Any) -> ApplyResult:
    return _caller.apply(store, caller(principal, request), **ops)


def stamped(store: GraphStore, request: Request) -> GraphStore:
    return _caller.stamped(store, request_id(request))
