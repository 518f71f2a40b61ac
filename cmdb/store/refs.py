"""Reading what a person types for a CI: its id, ``kind=value``, ``Class:name``, or a
unique name. Every shell resolves references here (through cmdb.app.inputs for a caller's
scope), so the CLI, REST and GraphQL accept the same spellings and answer the same errors.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from cmdb.domain.classes import all_classes
from cmdb.domain.errors import AmbiguousReference, NotFound
from cmdb.domain.identifiers import Identifier
from cmdb.domain.model import CI
from cmdb.store.contract import CIFilter, GraphStore

# How many CIs one reference may list as candidates.
MAX_CANDIDATES = 50

# Class names as typed: the case of a class is not worth an error.
_CLASSES = {c.lower(): c for c in all_classes()}


def class_name(ci: CI) -> str:
    """``Class:name``: how a candidate is shown, and a reference that picks it."""
    return f"{ci.ci_class}:{ci.name}"


def split_class(ref: str) -> tuple[str, str] | None:
    """``(class, name)`` when ``ref`` reads ``Class:name`` with a class the model knows
    (abstract ones too: ``Compute:srv-01`` is any host named srv-01), else None."""
    head, sep, name = ref.partition(":")
    cls = _CLASSES.get(head.strip().lower()) if sep else None
    return (cls, name.strip()) if cls is not None and name.strip() else None


def resolve_ci(
    store: GraphStore,
    ref: str,
    *,
    where: str = "ci",
    visible: Callable[[str], bool] | None = None,
) -> CI:
    """One CI for ``ref``, or an error that says why not (and lists candidates).

    Tried in turn: an id; ``Class:name`` (the class or a subclass of it, by exact name;
    a CI whose whole name is ``ref`` matches too, so a name holding a colon still
    resolves); ``kind=value``; an exact name. With ``visible`` (a caller's scope), CIs it
    does not allow are neither found nor listed as candidates: the answers are the same
    as for CIs that do not exist.
    """
    ref = ref.strip()
    if not ref:
        raise NotFound("empty CI reference", where=where)
    if visible is None or visible(ref):
        try:
            return store.get_ci(ref)
        except NotFound:
            pass

    def keep(found: list[CI]) -> list[CI]:
        return found if visible is None else [c for c in found if visible(c.id)]

    typed = split_class(ref)
    if typed is not None:
        cls, name = typed
        found = _named(store, name, cls) + _named(store, ref)
        missing = f"no {cls} named {name!r}"
    elif "=" in ref:
        ident = Identifier.parse(ref)
        found = store.find_by_identifier(ident)
        missing = f"no CI with {ident}"
    else:
        found = _named(store, ref)
        missing = f"no CI with name {ref!r}"
    found = keep(list({c.id: c for c in found}.values()))
    if not found:
        if typed is not None:
            # The name alone may be right and the class wrong: say which classes hold it.
            others = keep(_named(store, typed[1]))
            if others:
                missing += f" (found: {', '.join(candidates(others))})"
        raise NotFound(missing, where=where)
    if len(found) > 1:
        shown = candidates(found)
        raise AmbiguousReference(f"{ref} is ambiguous: {', '.join(shown)}", shown, where=where)
    return found[0]


def candidates(found: list[CI]) -> list[str]:
    """Each CI as ``Class:name``; where that still names several, with the CI's id (which
    is a reference of its own)."""
    seen = Counter(class_name(c) for c in found)
    return [f"{n} ({c.id})" if seen[n] > 1 else n for c in found for n in [class_name(c)]]


def _named(store: GraphStore, name: str, ci_class: str | None = None) -> list[CI]:
    flt = CIFilter(name=name, ci_class=ci_class)
    return store.list_cis(flt, limit=MAX_CANDIDATES).items
