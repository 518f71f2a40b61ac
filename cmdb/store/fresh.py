"""The CIs and relationships a batch creates, built without validating them a second time.

A change set's upserts are validated when the change set is made
(``cmdb.domain.changeset``); a new CI or relationship made from one adds only what the
planner fills in itself (ids it checked or made, times, sightings, provenance). Validating
the whole model again was about half of planning a bulk ingest's creates. Here the few
rules the full model adds (a known, concrete class; redundancy only on a Cluster, service
details only on a Service; identifiers once each, in order) are checked directly, and
anything else (a field given as null that the model refuses, an unknown class) returns
None, so that full validation decides and its error reads as before. Tests hold every
result equal to ``model_validate`` of the same values.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from cmdb.domain.built import built
from cmdb.domain.classes import check_class, is_a
from cmdb.domain.errors import InvalidInput
from cmdb.domain.model import CI, LifecycleStatus, Relationship, identifier_set
from cmdb.domain.service import ServiceDetails

# Fields an upsert may give as null where the CI model refuses null: full validation says so.
_NOT_NULL = ("description", "status", "agreements")


@cache
def _class_kind(name: str) -> tuple[bool, bool, bool]:
    """(known and concrete, a Cluster, a Service); one dict read per CI after the first."""
    try:
        check_class(name)
    except InvalidInput:
        return False, False, False
    return True, is_a(name, "Cluster"), is_a(name, "Service")


def new_ci(values: dict[str, Any]) -> CI | None:
    """The CI ``CI.model_validate(values)`` makes, for a CI the planner creates (keys by
    alias: ``class``), or None where full validation must decide."""
    cls_name = values["class"]
    known, cluster, service_class = _class_kind(cls_name)
    if not known or any(k in values and values[k] is None for k in _NOT_NULL):
        return None
    redundancy = values.get("redundancy")
    service = values.get("service")
    if (redundancy is not None and not cluster) or (service is not None and not service_class):
        return None
    if service is None and service_class:
        service = ServiceDetails()
    # Lists copied: the upsert's own lists stay the upsert's (validation copies them too).
    return built(
        CI,
        None,
        id=values["id"],
        ci_class=cls_name,
        name=values["name"],
        description=values.get("description", ""),
        status=values.get("status", LifecycleStatus.LIVE),
        owner=values.get("owner"),
        location=values.get("location"),
        version=values.get("version"),
        environment=values.get("environment"),
        criticality=values.get("criticality"),
        identifiers=identifier_set(values["identifiers"]),
        attributes=values["attributes"],
        redundancy=redundancy,
        service=service,
        agreements=list(values.get("agreements", ())),
        sources=values["sources"],
        provenance=values["provenance"],
        created_at=values.get("created_at"),
        updated_at=values.get("updated_at"),
    )


def new_rel(**values: Any) -> Relationship:
    """A relationship the planner creates, from values it has made valid itself: a type
    ``check_allowed`` returned, the ends' ids, a status, a confidence the upsert validated
    (or 1.0), attributes without nulls, this batch's sighting and its time."""
    return built(Relationship, None, **values)
