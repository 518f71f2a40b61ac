"""The generic import document: pydantic models, and the JSON Schema published from them.

One set of models validates both the JSON and the CSV import (the CSV reader builds the same
dictionaries and hands them to these models), so the two formats cannot drift apart, and
``schemas/import.schema.json`` is generated from them, so the published schema cannot drift
either: ``tests/unit/discovery/test_schema_drift.py`` fails when the committed file differs.

Regenerate with ``python -m discovery.schema`` (``--check`` only compares).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cmdb.domain.classes import check_class, concrete_classes
from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import IdentifierKind, normalise
from cmdb.domain.model import Criticality, LifecycleStatus
from cmdb.domain.relationships import REGISTRY, parse_phrase

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "import.schema.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# The standard CI fields an import may set (the rest of a CI's data goes in attributes).
STANDARD_FIELDS: tuple[str, ...] = (
    "description",
    "status",
    "owner",
    "location",
    "version",
    "environment",
    "criticality",
)

_Values = str | list[str] | None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImportIdentifiers(_Model):
    """Identifiers by kind; a kind that repeats (two IPs, two MACs) takes a list."""

    serial: _Values = None
    fqdn: _Values = None
    hostname: _Values = None
    ip: _Values = None
    mac: _Values = None
    cloud_id: _Values = None
    k8s_uid: _Values = None
    purl: _Values = None
    asset_tag: _Values = None
    key: _Values = None

    @field_validator("*")
    @classmethod
    def _normalised(cls, value: _Values, info: ValidationInfo) -> _Values:
        # The field name is the kind, so one validator checks every kind its own way.
        assert info.field_name is not None
        kind = IdentifierKind(info.field_name)
        if value is None:
            return None
        if isinstance(value, str):
            return _normalise_one(kind, value)
        return [_normalise_one(kind, v, index=i) for i, v in enumerate(value)]

    def pairs(self) -> list[tuple[IdentifierKind, str]]:
        """Every (kind, value), in kind order then given order."""
        out: list[tuple[IdentifierKind, str]] = []
        for kind in IdentifierKind:
            value = getattr(self, kind.value)
            values = [value] if isinstance(value, str) else value or []
            out.extend((kind, v) for v in values)
        return out


def _normalise_one(kind: IdentifierKind, value: str, *, index: int | None = None) -> str:
    try:
        return normalise(kind, value)
    except InvalidInput as exc:
        at = f"value {index}: " if index is not None else ""
        raise ValueError(f"{at}{exc.message}") from exc


class IdentifierEntry(_Model):
    """The list form of an identifier: ``{"kind": "ip", "value": "10.0.0.1"}``."""

    kind: IdentifierKind
    value: str


# Every identifier kind the domain knows is a field above: checked once, at import.
assert set(ImportIdentifiers.model_fields) == {k.value for k in IdentifierKind}, "kinds drifted"


_CLASS_NAMES: list[JsonValue] = list(concrete_classes())


class ImportCI(_Model):
    """One configuration item. ``key`` names it within the import, for relationships."""

    key: str = Field(min_length=1, description="unique within the document")
    ci_class: str = Field(
        alias="class",
        description="a concrete CI class",
        json_schema_extra={"enum": _CLASS_NAMES},
    )
    name: str = Field(min_length=1, max_length=512)
    identifiers: ImportIdentifiers = Field(
        default_factory=ImportIdentifiers,
        description='{"kind": value or [values]}, or a list of {"kind", "value"} objects',
    )
    description: str | None = None
    status: LifecycleStatus | None = None
    owner: str | None = None
    location: str | None = None
    version: str | None = None
    environment: str | None = None
    criticality: Criticality | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("ci_class")
    @classmethod
    def _known_class(cls, value: str) -> str:
        try:
            return check_class(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from exc

    @field_validator(
        "identifiers",
        mode="before",
        json_schema_input_type=ImportIdentifiers | list[IdentifierEntry],
    )
    @classmethod
    def _list_form(cls, value: Any) -> Any:
        """Accept ``[{"kind": "ip", "value": "10.0.0.1"}, ...]`` as the map form."""
        if not isinstance(value, list):
            return value
        grouped: dict[str, list[Any]] = {}
        for i, entry in enumerate(value):
            if not isinstance(entry, dict) or set(entry) != {"kind", "value"}:
                raise ValueError(f"entry {i}: expected an object with kind and value")
            grouped.setdefault(str(entry["kind"]), []).append(entry["value"])
        return grouped

    def standard_fields(self) -> dict[str, Any]:
        """The standard fields that are set, as plain JSON values."""
        dumped = self.model_dump(mode="json", include=set(STANDARD_FIELDS), exclude_none=True)
        return {f: dumped[f] for f in STANDARD_FIELDS if f in dumped}


_TYPE_HELP = "a relationship type name or phrase, either way round: " + ", ".join(
    f"{t.name} ({t.forward!r} / {t.reverse!r})" for t in REGISTRY.values()
)


class ImportRel(_Model):
    """A relationship between two CIs of the import, named by their keys."""

    source: str = Field(min_length=1, description="key of the source CI")
    type: str = Field(description=_TYPE_HELP, examples=["DEPENDS_ON", "depends on", "used by"])
    target: str = Field(min_length=1, description="key of the target CI")
    confidence: float = Field(default=1.0, ge=0, le=1)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        try:
            parse_phrase(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from exc
        return value

    def resolved(self) -> tuple[str, str, str]:
        """(registry type name, source key, target key): a reverse phrase swaps the ends."""
        rtype, reverse = parse_phrase(self.type)
        if reverse:
            return rtype.name, self.target, self.source
        return rtype.name, self.source, self.target


class ImportDocument(_Model):
    """A graph-cmdb generic import: CIs and the relationships between them."""

    version: Literal[1]
    cis: list[ImportCI] = Field(default_factory=list)
    relationships: list[ImportRel] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_keys(self) -> ImportDocument:
        first: dict[str, int] = {}
        for i, ci in enumerate(self.cis):
            if ci.key in first:
                dup = f"cis[{first[ci.key]}]"
                raise ValueError(f"cis[{i}].key: {ci.key!r} is also the key of {dup}")
            first[ci.key] = i
        return self


def format_loc(loc: Sequence[int | str]) -> str:
    """A pydantic error location as a JSON path: ``("cis", 3, "class")`` -> ``cis[3].class``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def errors_of(exc: ValidationError) -> list[tuple[tuple[int | str, ...], str]]:
    """(location, message) per error, messages without pydantic's "Value error, " prefix."""
    out: list[tuple[tuple[int | str, ...], str]] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = _unknown_field(loc)
        out.append((loc, msg))
    return out


def _unknown_field(loc: tuple[int | str, ...]) -> str:
    if len(loc) >= 2 and loc[-2] == "identifiers":
        known = ", ".join(k.value for k in IdentifierKind)
        return f"unknown identifier kind {loc[-1]!r}; known: {known}"
    return f"unknown field {loc[-1]!r}"


def schema_json() -> str:
    """The JSON Schema of the import document: pretty, keys sorted so it diffs stably."""
    schema: dict[str, Any] = {"$schema": JSON_SCHEMA_DIALECT}
    schema.update(ImportDocument.model_json_schema(by_alias=True))
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write ``schemas/import.schema.json``; with ``--check``, only say whether it is current."""
    args = list(sys.argv[1:] if argv is None else argv)
    text = schema_json()
    current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else None
    if "--check" in args:
        if current != text:
            print(f"{SCHEMA_PATH} is out of date: run python -m discovery.schema", file=sys.stderr)
            return 1
        return 0
    if current != text:
        SCHEMA_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
