"""What the resource routers share: CI references seen through the caller's scope, as-of
parameters, and change sets stamped with who, from where and in which request."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar, cast

from fastapi import Query, Request
from pydantic import BaseModel, ValidationError

from cmdb.api.scope import Visibility
from cmdb.auth.tokens import Principal
from cmdb.domain.changeset import ApplyResult, ChangeSet
from cmdb.domain.errors import AmbiguousReference, CmdbError, Forbidden, InvalidInput, NotFound
from cmdb.domain.identifiers import Identifier
from cmdb.domain.model import CI
from cmdb.domain.relationships import get_type
from cmdb.store.contract import CIFilter, GraphStore
from cmdb.store.refs import resolve_ci

SOURCE = "api"

M = TypeVar("M", bound=BaseModel)

AsOf = Annotated[
    datetime | None,
    Query(description="an ISO 8601 instant (no zone: UTC): the answer as it was then"),
]
Types = Annotated[
    list[str] | None,
    Query(alias="type", description="relationship types to follow (repeatable); default all"),
]


def instant(at: datetime | None) -> datetime | None:
    return at if at is None or at.tzinfo is not None else at.replace(tzinfo=UTC)


def type_names(types: list[str] | None) -> list[str] | None:
    return [get_type(t, where="type").name for t in types] if types else None


def request_id(request: Request) -> str | None:
    rid = getattr(request.state, "request_id", None)
    return str(rid) if rid else None


def validated(model: type[M], data: dict[str, Any], *, where: str | None = None) -> M:
    """``model`` from ``data``, or InvalidInput naming the field (never a 500)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise InvalidInput(msg, where=".".join(p for p in (where, loc) if p) or None) from exc


def resolve_visible(store: GraphStore, vis: Visibility, ref: str, *, where: str = "ref") -> CI:
    """One CI for ``ref`` (id, kind=value, unique name) among those the caller may see.

    A scoped caller never learns of CIs outside its scope: they are neither found nor
    listed as candidates, and the answers are the same as for CIs that do not exist.
    """
    if vis.unrestricted:
        return resolve_ci(store, ref, where=where)
    ref = ref.strip()
    if not ref:
        raise NotFound("empty CI reference", where=where)
    if vis.allows(ref):
        try:
            return store.get_ci(ref)
        except NotFound:
            pass
    if "=" in ref:
        ident = Identifier.parse(ref)
        found = store.find_by_identifier(ident)
        what = str(ident)
    else:
        found = store.list_cis(CIFilter(name=ref), limit=50).items
        what = f"name {ref!r}"
    found = [c for c in found if vis.allows(c.id)]
    if not found:
        raise NotFound(f"no CI with {what}", where=where)
    if len(found) > 1:
        raise AmbiguousReference(
            f"{len(found)} CIs match {what}; use an id or a unique identifier",
            [c.label() for c in found],
            where=where,
        )
    return found[0]


def unscoped_only(principal: Principal, what: str) -> None:
    """Some requests reach the whole CMDB; a token scoped to services may not make them."""
    if principal.scoped:
        raise Forbidden(f"a token scoped to services cannot {what}")


def changeset(principal: Principal, request: Request, **ops: Any) -> ChangeSet:
    """Who (the token's name), from where ("api") and which request: into history."""
    return ChangeSet(actor=principal.name, source=SOURCE, request_id=request_id(request), **ops)


# A route sends one operation per change set: "ci_upserts[0].redundancy" is the body's field.
_ONE_OP = re.compile(r"^(ci|rel)_(upserts|retires)\[0\]\.?")


def apply(store: GraphStore, principal: Principal, request: Request, **ops: Any) -> ApplyResult:
    try:
        return store.apply(changeset(principal, request, **ops))
    except CmdbError as exc:
        if exc.where and _ONE_OP.match(exc.where):
            exc.where = ".".join(p for p in ("body", _ONE_OP.sub("", exc.where)) if p)
        exc.message = exc.message.removeprefix("Value error, ")
        raise


class _Stamped:
    """The store, with every change set it applies stamped with the request id: discovery
    builds its own change sets (discovery.reconcile) and has no parameter for it."""

    def __init__(self, store: GraphStore, request_id: str | None) -> None:
        self._store = store
        self._request_id = request_id

    def apply(self, cs: ChangeSet) -> ApplyResult:
        return self._store.apply(cs.model_copy(update={"request_id": self._request_id}))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def stamped(store: GraphStore, request: Request) -> GraphStore:
    return cast(GraphStore, _Stamped(store, request_id(request)))


def every_ci(store: GraphStore, flt: CIFilter | None = None) -> Iterator[CI]:
    cursor: str | None = None
    while True:
        page = store.list_cis(flt, limit=1000, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
