"""The generic import, what its two forms share: validated entries in, records out.

``discovery.adapters.json`` reads ``ImportDocument`` files and ``discovery.adapters.csv``
reads CSV files, each turning an entry into the dictionary the JSON form holds and validating
it with the models of ``discovery.schema``, so the formats cannot drift. This module holds
what comes after: a CI key defined once per call, and relationships checked once every file
of the call has been read, so one file's relationships may name another file's CIs; a key no
file defines is a Problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import ValidationError

from cmdb.domain.errors import ForbiddenRelationship
from cmdb.domain.identifiers import Identifier
from cmdb.domain.relationships import check_allowed
from discovery.adapters._build import problem
from discovery.records import DiscoveredCI, DiscoveredRel, Item, Problem, Severity
from discovery.schema import ImportCI, ImportRel, errors_of

Loc = tuple[int | str, ...]


@dataclass
class Pending:
    """A valid relationship waiting for every file to be read; ``at`` names its fields."""

    rel: ImportRel
    where: str
    at: Callable[[str], str]


@dataclass
class Run:
    """State shared by the files of one call: the CIs defined so far and the relationships."""

    classes: dict[str, str] = field(default_factory=dict)
    defined_at: dict[str, str] = field(default_factory=dict)
    pending: list[Pending] = field(default_factory=list)


M = TypeVar("M", ImportCI, ImportRel)


def validate(model: type[M], raw: object, place: Callable[[Loc], str]) -> M | list[Problem]:
    """The validated entry, or one Problem per error, each at its own place."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        return [problem(Severity.ERROR, place(loc), msg) for loc, msg in errors_of(exc)]


def field_place(where: str, sep: str) -> Callable[[str], str]:
    return lambda name: f"{where}{sep}{name}"


def define(ci: ImportCI, where: str, key_where: str, run: Run) -> Iterator[Item]:
    first = run.defined_at.get(ci.key)
    if first is not None:
        yield problem(Severity.ERROR, key_where, f"key {ci.key!r} is already defined at {first}")
        return
    run.defined_at[ci.key] = where
    run.classes[ci.key] = ci.ci_class
    yield to_record(ci, where)


def to_record(ci: ImportCI, where: str | None = None) -> DiscoveredCI:
    return DiscoveredCI(
        key=ci.key,
        ci_class=ci.ci_class,
        name=ci.name,
        identifiers=tuple(Identifier(kind=k, value=v) for k, v in ci.identifiers.pairs()),
        fields=ci.standard_fields(),
        attributes=ci.attributes,
        where=where,
    )


def relationships(run: Run) -> Iterator[Item]:
    for item in run.pending:
        rel = _relationship(item, run.classes)
        if rel is not None:
            yield rel


def _relationship(item: Pending, classes: Mapping[str, str]) -> Item | None:
    type_name, source, target = item.rel.resolved()
    for end in ("source", "target"):
        key = getattr(item.rel, end)
        if key not in classes:
            return problem(Severity.ERROR, item.at(end), f"no CI with key {key!r} in the input")
    try:
        check_allowed(type_name, classes[source], classes[target])
    except ForbiddenRelationship as exc:
        return problem(Severity.ERROR, item.at("type"), exc.message)
    return DiscoveredRel(
        type=type_name,
        source=source,
        target=target,
        confidence=item.rel.confidence,
        attributes=item.rel.attributes,
        where=item.where,
    )
