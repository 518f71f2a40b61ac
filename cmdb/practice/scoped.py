"""A reader limited to a set of CI ids: which records it reads, and how it is shown them.

``Scope``: ``None`` reads everything; a collection of CI ids (a service-scoped token's
view, see :mod:`cmdb.app.scope`) reads the change, incident and problem records naming at
least one CI or service inside it (:func:`reads`), since they concern what the reader
looks after, and is shown only the ids inside (:func:`seen`): an id outside must not even
be hinted at. The reports, the record lists and the GraphQL types all apply these, so a
report counts exactly what the lists show.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any, TypeVar

from cmdb.domain.records import Change, Incident, Problem, Record

if TYPE_CHECKING:  # only annotated: reading a CI must not load the risk model and numpy
    from cmdb.practice.risk import Assessment

Scope = Collection[str] | None
Rec = TypeVar("Rec", Change, Incident, Problem)


def named(rec: Record) -> list[str]:
    """Every CI and service a change, incident or problem names."""
    return [*rec.ci_ids, *rec.service_ids]


def reads(scope: Scope, rec: Record) -> bool:
    """Without a scope every record; with one, the records naming something inside it."""
    return scope is None or any(i in scope for i in named(rec))


def wholly_inside(scope: Scope, rec: Record) -> bool:
    """Every CI and service ``rec`` names is inside ``scope``."""
    return scope is None or all(i in scope for i in named(rec))


def seen(scope: Scope, rec: Rec) -> Rec:
    """``rec`` as a scoped reader is shown it: only the CI and service ids inside the scope."""
    if scope is None:
        return rec
    update: dict[str, Any] = {
        "ci_ids": [i for i in rec.ci_ids if i in scope],
        "service_ids": [i for i in rec.service_ids if i in scope],
    }
    if isinstance(rec, Change):
        update["ci_versions"] = {k: v for k, v in rec.ci_versions.items() if k in scope}
        if rec.risk is not None:
            # The explanation names services and customers the change reaches beyond the
            # view; the class, approval and rule are what a scoped reader needs.
            update["risk"] = rec.risk.model_copy(
                update={"why": "", "service_ids": [i for i in rec.risk.service_ids if i in scope]}
            )
        # A step's note may carry the assessment's explanation (or anything a person wrote).
        update["log"] = [e.model_copy(update={"note": ""}) for e in rec.log]
    return rec.model_copy(update=update)


def assessment_seen(scope: Scope, a: Assessment) -> Assessment:
    """A live risk assessment as a scoped reader is shown it: the class, approval, rule and
    score, without the facts and reasons that name what lies outside its view (services,
    customers, sites, other changes)."""
    if scope is None:
        return a
    f = a.facts
    facts = f.model_copy(
        update={
            "customer_facing_down": [],
            "customers": [],
            "sla_breach": [],
            "sites": [],
            "service_ids": [i for i in f.service_ids if i in scope],
            "history": f.history.model_copy(update={"changes": []}),
            "proposal_spofs": [p for p in f.proposal_spofs if p.service_id in scope],
        }
    )
    checks = [c.model_copy(update={"reasons": []}) for c in a.checks]
    return a.model_copy(update={"why": "", "facts": facts, "checks": checks})
