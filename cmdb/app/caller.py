"""Who asks, from where, in which request: what every write carries into history."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

from cmdb.auth.tokens import Principal
from cmdb.domain.changeset import ApplyResult, ChangeSet
from cmdb.domain.errors import CmdbError, Forbidden
from cmdb.store.contract import GraphStore


@dataclass(frozen=True)
class Caller:
    """The principal behind a request; ``source`` names the shell ("api", "cli")."""

    principal: Principal
    request_id: str | None = None
    source: str = "api"

    @property
    def name(self) -> str:
        return self.principal.name


def unscoped_only(principal: Principal, what: str) -> None:
    """Some requests reach the whole CMDB; a token scoped to services may not make them."""
    if principal.scoped:
        raise Forbidden(f"a token scoped to services cannot {what}")


def changeset(caller: Caller, **ops: Any) -> ChangeSet:
    """Who (the token's name), from where and which request: into history."""
    return ChangeSet(
        actor=caller.principal.name, source=caller.source, request_id=caller.request_id, **ops
    )


# A request sends one operation per change set: "ci_upserts[0].redundancy" is the body's field.
_ONE_OP = re.compile(r"^(ci|rel)_(upserts|retires)\[0\]\.?")


def apply(store: GraphStore, caller: Caller, **ops: Any) -> ApplyResult:
    """Apply one operation; an error names the request body's field, not the change set's."""
    try:
        return store.apply(changeset(caller, **ops))
    except CmdbError as exc:
        if exc.where and _ONE_OP.match(exc.where):
            exc.where = ".".join(p for p in ("body", _ONE_OP.sub("", exc.where)) if p)
        exc.message = exc.message.removeprefix("Value error, ")
        raise


class Stamped:
    """The store, with every change set it applies stamped with the request id: discovery
    and the record services build their own change sets and have no parameter for it."""

    def __init__(self, store: GraphStore, request_id: str | None) -> None:
        self._store = store
        self._request_id = request_id

    def apply(self, cs: ChangeSet) -> ApplyResult:
        return self._store.apply(cs.model_copy(update={"request_id": self._request_id}))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def stamped(store: GraphStore, request_id: str | None) -> GraphStore:
    return cast(GraphStore, Stamped(store, request_id))
