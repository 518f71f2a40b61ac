"""Input rules every shell applies the same way: limits, instants, validation, CI refs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from cmdb.app.scope import Visibility
from cmdb.domain.errors import InvalidInput
from cmdb.domain.instant import out_of_range
from cmdb.domain.model import CI
from cmdb.domain.relationships import get_type
from cmdb.store.contract import CIFilter, GraphStore
from cmdb.store.refs import resolve_ci

# How many CI references one request may name (a change's CIs, an incident's, a question's).
MAX_REFS = 200

M = TypeVar("M", bound=BaseModel)


def instant(at: datetime | None, *, where: str = "at") -> datetime | None:
    """An instant without a zone is UTC; one outside the years records hold
    (cmdb.domain.instant) is refused, naming ``where``."""
    if at is None:
        return None
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    problem = out_of_range(aware)
    if problem is not None:
        raise InvalidInput(f"{where} {problem}", where=where)
    return aware


def type_names(types: list[str] | None) -> list[str] | None:
    return [get_type(t, where="type").name for t in types] if types else None


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
    return resolve_ci(store, ref, where=where, visible=vis.allows)


def every_ci(store: GraphStore, flt: CIFilter | None = None) -> Iterator[CI]:
    cursor: str | None = None
    while True:
        page = store.list_cis(flt, limit=1000, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
