"""Decoding the documents the store itself wrote, without re-running the domain's checks.

Every CI and relationship document on a node was dumped from a model that had just been
validated, so the domain's Python validators have nothing left to do on it: the checks
(``_known_class``, ``Redundancy._one_of``, ``TimeRange._ordered``...) pass again, and the
normalisations (identifiers normalised, de-duplicated and sorted; a Service given its
default details; instants made aware) give back what they are handed. Those Python calls
were ~40 % of decoding a CI. The decoders here run pydantic-core on the same core schema
with just those validators taken out: the types, constraints (``ge``/``le``, lengths),
enums, defaults and ``extra="forbid"`` all still apply, and the result is the same class.

Only validators named in ``IDEMPOTENT`` are removed; any other (one added later, say)
stays in, so a new rule costs speed, never correctness. ``tests/integration/
test_neo4j_decode.py`` holds the decoded models equal to ``model_validate_json`` on real
data (the sample estate, a generated estate, discovered Kubernetes objects), and
``tests/unit/test_store_decode.py`` on the embedded store's documents. Both stores read
through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import SchemaValidator

from cmdb.domain.model import CI, Relationship, Sighting
from cmdb.domain.records import Incident
from cmdb.store.gcpause import gc_paused

M = TypeVar("M", bound=BaseModel)

# (module, qualified name) of validators that are checks, or normalisations that give back
# their input when it is already normal, i.e. a no-op on a document the store dumped.
IDEMPOTENT: frozenset[tuple[str, str]] = frozenset(
    {
        ("cmdb.domain.model", "CI._class_rules"),
        ("cmdb.domain.model", "CI._known_class"),
        ("cmdb.domain.model", "Redundancy._one_of"),
        ("cmdb.domain.model", "Relationship._known_type"),
        ("cmdb.domain.identifiers", "Identifier._normalise"),
        ("cmdb.domain.identifiers", "Identifier._not_too_long"),
        ("cmdb.domain.service", "ServiceCalendar._known_zone"),
        ("cmdb.domain.service", "TimeRange._ordered"),
        ("cmdb.domain.service", "Blackout._ordered"),
        ("cmdb.domain.instant", "utc"),
    }
)


def _name(schema: dict[str, Any]) -> tuple[str, str]:
    fn = schema["function"]["function"]
    return (getattr(fn, "__module__", ""), getattr(fn, "__qualname__", ""))


def _strip(schema: Any, removed: set[tuple[str, str]]) -> Any:
    if isinstance(schema, list):
        return [_strip(s, removed) for s in schema]
    if not isinstance(schema, dict):
        return schema
    kind = schema.get("type")
    if kind in ("function-after", "function-before") and _name(schema) in IDEMPOTENT:
        removed.add(_name(schema))
        return _strip(schema["schema"], removed)
    return {k: _strip(v, removed) for k, v in schema.items()}


def _models(schema: Any, out: set[type]) -> set[type]:
    if isinstance(schema, dict):
        if schema.get("type") == "model" and isinstance(schema.get("cls"), type):
            out.add(schema["cls"])
        for v in schema.values():
            _models(v, out)
    elif isinstance(schema, list):
        for v in schema:
            _models(v, out)
    return out


def _without(schema: Any, model: type, fields: frozenset[str]) -> Any:
    """``schema`` with ``fields`` of ``model`` left out: the JSON keys are skipped unread
    (extra keys ignored), and the built instances have no such attribute at all."""
    if isinstance(schema, list):
        return [_without(s, model, fields) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") == "model" and schema.get("cls") is model:
        inner = dict(schema["schema"])
        inner["fields"] = {k: v for k, v in inner["fields"].items() if k not in fields}
        config = {**schema.get("config", {}), "extra_fields_behavior": "ignore"}
        return {**schema, "schema": inner, "config": config}
    return {k: _without(v, model, fields) for k, v in schema.items()}


class TrustedDecoder:
    """``model_validate_json`` for one model class, minus the idempotent validators (and,
    with ``without``, minus some of the model's own fields)."""

    def __init__(self, model: type[M], *, without: frozenset[str] = frozenset()) -> None:
        self.model = model
        self.removed: set[tuple[str, str]] = set()
        schema = _strip(model.__pydantic_core_schema__, self.removed)
        if without:
            schema = _without(schema, model, without)
        # pydantic-core builds a "model" schema of a complete class from the class's own
        # __pydantic_validator__ (a "prebuilt" validator), whatever the schema says: the
        # stripped schema would be ignored and every validator would still run. Marked
        # incomplete while the validator is built, the classes are built from this schema.
        classes = _models(schema, set())
        saved = {c: c.__dict__.get("__pydantic_complete__", False) for c in classes}
        try:
            for c in classes:
                c.__pydantic_complete__ = False  # type: ignore[attr-defined]
            self._validator = SchemaValidator(schema)
        finally:
            for c, complete in saved.items():
                c.__pydantic_complete__ = complete  # type: ignore[attr-defined]

    def json(self, doc: str | bytes) -> Any:
        return self._validator.validate_json(doc)

    def python(self, data: Any) -> Any:
        return self._validator.validate_python(data)


_CI = TrustedDecoder(CI)
# What a walk of the graph never reads (GraphStore.subgraph(brief=True)): per-source
# sightings and per-field provenance are most of a CI document and ~2/3 of decoding it;
# identifiers and agreements are lists of models a walk has no use for either.
BRIEF_LEFT_OUT = frozenset({"sources", "provenance", "identifiers", "agreements"})
_CI_BRIEF = TrustedDecoder(CI, without=BRIEF_LEFT_OUT)
_REL = TrustedDecoder(Relationship)
_SIGHTING = TrustedDecoder(Sighting)
_INCIDENT = TrustedDecoder(Incident)


def ci(doc: str | bytes) -> CI:
    out: CI = _CI.json(doc)
    return out


def ci_brief(doc: str | bytes) -> CI:
    """A CI without the fields of :data:`BRIEF_LEFT_OUT`: reading one raises
    AttributeError (never a wrong empty value); the rest is as :func:`ci` decodes it."""
    out: CI = _CI_BRIEF.json(doc)
    return out


def rel(doc: str | bytes) -> Relationship:
    out: Relationship = _REL.json(doc)
    return out


def incidents(docs: Iterable[str]) -> list[Incident]:
    """Incidents as the store wrote them: a month of a busy service desk's is thousands,
    read by every impact question (the instants' checks were a fifth of decoding one)."""
    with gc_paused():
        return [_INCIDENT.json(d) for d in docs]


def sighting(data: Any) -> Sighting:
    """A sighting from its parsed JSON (a dict taken out of a document)."""
    out: Sighting = _SIGHTING.python(data)
    return out


def sighting_json(doc: str | bytes) -> Sighting:
    out: Sighting = _SIGHTING.json(doc)
    return out


def cis(docs: Iterable[str]) -> list[CI]:
    """Many CIs at once, with the cyclic collector paused: each CI is a dozen container
    objects, and the collector's passes over a growing list of them took 60-80 % of
    decoding 20k CIs (no cycles are made, reference counting frees them)."""
    with gc_paused():
        return [ci(d) for d in docs]


def cis_brief(docs: Iterable[str]) -> list[CI]:
    """Many brief CIs (:func:`ci_brief`), the collector paused (as :func:`cis`)."""
    with gc_paused():
        return [ci_brief(d) for d in docs]


def rels(docs: Iterable[str]) -> list[Relationship]:
    """Many relationships at once, the collector paused (as :func:`cis`)."""
    with gc_paused():
        return [rel(d) for d in docs]
