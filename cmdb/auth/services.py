"""The services a scoped token is limited to, from what a person types."""

from __future__ import annotations

from collections.abc import Sequence

from cmdb.domain.classes import is_a
from cmdb.domain.errors import InvalidInput
from cmdb.store.contract import GraphStore
from cmdb.store.refs import resolve_ci


def resolve_services(
    store: GraphStore, refs: Sequence[str], *, where: str = "services"
) -> list[str]:
    """Service CI ids for ``refs`` (id, kind=value or unique name), without repeats;
    a reference to anything but a service is refused."""
    ids: list[str] = []
    for i, ref in enumerate(refs):
        at = f"{where}[{i}]"
        ci = resolve_ci(store, ref, where=at)
        if not is_a(ci.ci_class, "Service"):
            raise InvalidInput(f"{ref!r} is a {ci.ci_class}, not a service", where=at)
        if ci.id not in ids:
            ids.append(ci.id)
    return ids
