"""Reading what a person types for a CI: its id, ``kind=value``, or a unique name."""

from __future__ import annotations

from collections.abc import Callable

from cmdb.domain.errors import AmbiguousReference, NotFound
from cmdb.domain.identifiers import Identifier
from cmdb.domain.model import CI
from cmdb.store.contract import CIFilter, GraphStore


def resolve_ci(
    store: GraphStore,
    ref: str,
    *,
    where: str = "ci",
    visible: Callable[[str], bool] | None = None,
) -> CI:
    """One CI for ``ref``, or an error that says why not (and lists candidates).

    With ``visible`` (a caller's scope), CIs it does not allow are neither found nor
    listed as candidates: the answers are the same as for CIs that do not exist.
    """
    ref = ref.strip()
    if not ref:
        raise NotFound("empty CI reference", where=where)
    if visible is None or visible(ref):
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
    if visible is not None:
        found = [c for c in found if visible(c.id)]
    if not found:
        raise NotFound(f"no CI with {what}", where=where)
    if len(found) > 1:
        raise AmbiguousReference(
            f"{len(found)} CIs match {what}; use an id or a unique identifier",
            [c.label() for c in found],
            where=where,
        )
    return found[0]
