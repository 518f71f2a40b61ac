"""The generic import: JSON documents and CSV files, validated by the models of ``schema``.

JSON: one ``ImportDocument`` per file (``schemas/import.schema.json``). CSV: a CIs file
(``key,class,name`` + standard-field columns + identifier columns named after identifier
kinds, repeatable for several values + ``attr.<name>`` columns) and a relationships file,
recognised by its header ``source,type,target[,confidence]`` (+ ``attr.<name>``). The
``key`` column is the CI's key in the import, so the identifier of kind ``key`` is written
``id.key``; any identifier column may carry that ``id.`` prefix. Each CSV row is turned into
the dictionary the JSON form would hold and validated by the same model, so the formats
cannot drift.

A malformed envelope or header refuses the file (``InvalidInput``); a bad CI or relationship
is a ``Problem`` naming its place (``file:cis[3].class``, ``file:12:class``) and the rest
proceeds. Relationships are checked once every file of the call has been read, so one file's
relationships may name another file's CIs; a key no file defines is a Problem.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from cmdb.domain.errors import ForbiddenRelationship, InvalidInput
from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.domain.relationships import check_allowed
from discovery.io import json_document, read_text
from discovery.records import DiscoveredCI, DiscoveredRel, Item, Problem, Severity
from discovery.schema import (
    STANDARD_FIELDS,
    ImportCI,
    ImportDocument,
    ImportRel,
    errors_of,
    format_loc,
)

ATTR_PREFIX = "attr."
ID_PREFIX = "id."
CI_COLUMNS = ("key", "class", "name")
REL_COLUMNS = ("source", "type", "target")
_KINDS = frozenset(k.value for k in IdentifierKind)
# Identifier columns: a kind's bare name (``ip``) or prefixed (``id.ip``); ``key`` is taken.
_ID_COLUMNS = {f"{ID_PREFIX}{k}": k for k in _KINDS} | {k: k for k in _KINDS - set(CI_COLUMNS)}

Loc = tuple[int | str, ...]


@dataclass
class _Pending:
    """A valid relationship waiting for every file to be read; ``at`` names its fields."""

    rel: ImportRel
    where: str
    at: Callable[[str], str]


@dataclass
class _Run:
    """State shared by the files of one call: the CIs defined so far and the relationships."""

    classes: dict[str, str] = field(default_factory=dict)
    defined_at: dict[str, str] = field(default_factory=dict)
    pending: list[_Pending] = field(default_factory=list)


# --- JSON -------------------------------------------------------------------------------


def read_json(paths: Sequence[Path]) -> Iterator[Item]:
    run = _Run()
    for path in paths:
        yield from _json_file(path, run)
    yield from _relationships(run)


def _json_file(path: Path, run: _Run) -> Iterator[Item]:
    doc = json_document(path)
    _check_envelope(doc, path)
    assert isinstance(doc, dict)
    for i, raw in enumerate(doc.get("cis", [])):
        yield from _ci_item(raw, ("cis", i), path, run)
    for i, raw in enumerate(doc.get("relationships", [])):
        base: Loc = ("relationships", i)
        rel = _validate(ImportRel, raw, _json_place(path, base))
        if isinstance(rel, ImportRel):
            where = f"{path}:{format_loc(base)}"
            run.pending.append(_Pending(rel, where, _field_place(where, ".")))
        else:
            yield from rel


def _check_envelope(doc: object, path: Path) -> None:
    """Validate all but the entries with the document model: a bad envelope refuses the file."""
    if not isinstance(doc, dict):
        raise InvalidInput("an import document is a JSON object", where=str(path))
    # Entries are validated one by one (a bad one is a Problem), so stand in empty lists.
    shell = {
        k: ([] if k in ("cis", "relationships") and isinstance(v, list) else v)
        for k, v in doc.items()
    }
    try:
        ImportDocument.model_validate(shell)
    except ValidationError as exc:
        loc, msg = errors_of(exc)[0]
        raise InvalidInput(msg, where=f"{path}:{format_loc(loc)}" if loc else str(path)) from exc


def _ci_item(raw: object, base: Loc, path: Path, run: _Run) -> Iterator[Item]:
    ci = _validate(ImportCI, raw, _json_place(path, base))
    if isinstance(ci, ImportCI):
        yield from _define(ci, f"{path}:{format_loc(base)}", f"{path}:{format_loc(base)}.key", run)
    else:
        yield from ci


# --- CSV --------------------------------------------------------------------------------


def read_csv(paths: Sequence[Path]) -> Iterator[Item]:
    """CIs files first (whatever the order given), then relationship files."""
    run = _Run()
    tables = [_table(path) for path in paths]
    for path, header, rows in tables:
        if not _is_rel_header(header):
            yield from _csv_cis(path, header, rows, run)
    for path, header, rows in tables:
        if _is_rel_header(header):
            yield from _csv_rels(path, header, rows, run)
    yield from _relationships(run)


Row = tuple[int, list[str]]


def _table(path: Path) -> tuple[Path, list[str], Iterator[Row]]:
    """The header (stripped; an Excel BOM removed) and the rows with their line numbers."""
    reader = csv.reader(io.StringIO(read_text(path).removeprefix("\ufeff"), newline=""))
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise InvalidInput("empty CSV file: expected a header row", where=f"{path}:1")
    return path, [h.strip() for h in header], _rows(reader, path)


def _rows(reader: Any, path: Path) -> Iterator[Row]:
    line = reader.line_num
    try:
        for cells in reader:
            start, line = line + 1, reader.line_num  # a quoted cell may span lines
            if any(c.strip() for c in cells):
                yield start, cells
    except csv.Error as exc:
        raise InvalidInput(f"invalid CSV: {exc}", where=f"{path}:{reader.line_num}") from exc


def _is_rel_header(header: list[str]) -> bool:
    return tuple(h.lower() for h in header[:3]) == REL_COLUMNS


def _check_header(
    path: Path, header: list[str], allowed: set[str], required: Sequence[str]
) -> None:
    seen: set[str] = set()
    for col in header:
        where = f"{path}:1:{col or '(empty)'}"
        if col not in allowed and not (col.startswith(ATTR_PREFIX) and len(col) > len(ATTR_PREFIX)):
            raise InvalidInput(f"unknown column {col!r}", where=where)
        # Identifier columns repeat (two ip columns); anything else twice is ambiguous.
        if col in seen and col not in _ID_COLUMNS:
            raise InvalidInput(f"column {col!r} appears twice", where=where)
        seen.add(col)
    missing = [c for c in required if c not in seen]
    if missing:
        raise InvalidInput(f"missing column(s) {', '.join(missing)}", where=f"{path}:1")


def _csv_cis(path: Path, header: list[str], rows: Iterator[Row], run: _Run) -> Iterator[Item]:
    _check_header(path, header, {*CI_COLUMNS, *STANDARD_FIELDS, *_ID_COLUMNS}, CI_COLUMNS)
    # A model error on identifiers.ip points at the column the file calls it by.
    columns = {_ID_COLUMNS[c]: c for c in reversed(header) if c in _ID_COLUMNS}
    for line, cells in rows:
        raw = _ci_row(header, cells)
        if isinstance(raw, str):
            yield _problem(f"{path}:{line}", raw)
            continue
        ci = _validate(ImportCI, raw, _csv_place(path, line, columns))
        if isinstance(ci, ImportCI):
            yield from _define(ci, f"{path}:{line}", f"{path}:{line}:key", run)
        else:
            yield from ci


def _ci_row(header: list[str], cells: list[str]) -> dict[str, Any] | str:
    """The JSON-form dictionary of a CI row (empty cells left out), or what is wrong."""
    if len(cells) > len(header):
        return f"{len(cells)} cells but the header has {len(header)} columns"
    raw: dict[str, Any] = {}
    idents: dict[str, list[str]] = {}
    attrs: dict[str, str] = {}
    for col, cell in zip(header, cells, strict=False):
        if not cell.strip():
            continue
        if col.startswith(ATTR_PREFIX):
            attrs[col.removeprefix(ATTR_PREFIX)] = cell
        elif col in _ID_COLUMNS:
            idents.setdefault(_ID_COLUMNS[col], []).append(cell)
        else:
            raw[col] = cell.strip()
    raw["identifiers"] = {k: v[0] if len(v) == 1 else v for k, v in idents.items()}
    raw["attributes"] = attrs
    return raw


def _column(loc: Loc, columns: Mapping[str, str]) -> str:
    """The CSV column a model error location points at."""
    if len(loc) >= 2 and loc[0] == "identifiers":
        return columns.get(str(loc[1]), str(loc[1]))
    if len(loc) >= 2 and loc[0] == "attributes":
        return f"{ATTR_PREFIX}{loc[1]}"
    return str(loc[0]) if loc else "(row)"


def _csv_rels(path: Path, header: list[str], rows: Iterator[Row], run: _Run) -> Iterator[Item]:
    lowered = [h.lower() if not h.startswith(ATTR_PREFIX) else h for h in header]
    _check_header(path, lowered, {*REL_COLUMNS, "confidence"}, REL_COLUMNS)
    for line, cells in rows:
        raw = _rel_row(lowered, cells)
        if isinstance(raw, str):
            yield _problem(f"{path}:{line}", raw)
            continue
        rel = _validate(ImportRel, raw, _csv_place(path, line, {}))
        if isinstance(rel, ImportRel):
            where = f"{path}:{line}"
            run.pending.append(_Pending(rel, where, _field_place(where, ":")))
        else:
            yield from rel


def _rel_row(header: list[str], cells: list[str]) -> dict[str, Any] | str:
    if len(cells) > len(header):
        return f"{len(cells)} cells but the header has {len(header)} columns"
    raw: dict[str, Any] = {}
    attrs: dict[str, str] = {}
    for col, cell in zip(header, cells, strict=False):
        if not cell.strip():
            continue
        if col.startswith(ATTR_PREFIX):
            attrs[col.removeprefix(ATTR_PREFIX)] = cell
        else:
            raw[col] = cell.strip()
    raw["attributes"] = attrs
    return raw


# --- shared -----------------------------------------------------------------------------


M = TypeVar("M", ImportCI, ImportRel)


def _validate(model: type[M], raw: object, place: Callable[[Loc], str]) -> M | list[Problem]:
    """The validated entry, or one Problem per error, each at its own place."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        return [_problem(place(loc), msg) for loc, msg in errors_of(exc)]


def _json_place(path: Path, base: Loc) -> Callable[[Loc], str]:
    """Where a model error sits in a JSON file: ``file:cis[3].class``."""
    return lambda loc: f"{path}:{format_loc(base + loc)}"


def _csv_place(path: Path, line: int, columns: Mapping[str, str]) -> Callable[[Loc], str]:
    """Where a model error sits in a CSV file: ``file:12:class``."""
    return lambda loc: f"{path}:{line}:{_column(loc, columns)}"


def _field_place(where: str, sep: str) -> Callable[[str], str]:
    return lambda name: f"{where}{sep}{name}"


def _define(ci: ImportCI, where: str, key_where: str, run: _Run) -> Iterator[Item]:
    first = run.defined_at.get(ci.key)
    if first is not None:
        yield _problem(key_where, f"key {ci.key!r} is already defined at {first}")
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


def _relationships(run: _Run) -> Iterator[Item]:
    for item in run.pending:
        rel = _relationship(item, run.classes)
        if rel is not None:
            yield rel


def _relationship(item: _Pending, classes: Mapping[str, str]) -> Item | None:
    type_name, source, target = item.rel.resolved()
    for end in ("source", "target"):
        key = getattr(item.rel, end)
        if key not in classes:
            return _problem(item.at(end), f"no CI with key {key!r} in the input")
    try:
        check_allowed(type_name, classes[source], classes[target])
    except ForbiddenRelationship as exc:
        return _problem(item.at("type"), exc.message)
    return DiscoveredRel(
        type=type_name,
        source=source,
        target=target,
        confidence=item.rel.confidence,
        attributes=item.rel.attributes,
        where=item.where,
    )


def _problem(where: str, message: str) -> Problem:
    return Problem(severity=Severity.ERROR, where=where, message=message)


# --- writing ----------------------------------------------------------------------------


def to_document(cis: Iterable[DiscoveredCI], rels: Iterable[DiscoveredRel]) -> ImportDocument:
    """Records as an import document: what ``read_json`` reads back to the same records."""
    doc = {
        "version": 1,
        "cis": [_ci_dict(ci) for ci in cis],
        "relationships": [
            {
                "source": r.source,
                "type": r.type,
                "target": r.target,
                "confidence": r.confidence,
                "attributes": r.attributes,
            }
            for r in rels
        ],
    }
    return ImportDocument.model_validate(doc)


def _ci_dict(ci: DiscoveredCI) -> dict[str, Any]:
    return {
        "key": ci.key,
        "class": ci.ci_class,
        "name": ci.name,
        "identifiers": [{"kind": i.kind.value, "value": i.value} for i in ci.identifiers],
        **ci.fields,
        "attributes": ci.attributes,
    }


def dump_json(doc: ImportDocument) -> str:
    """The document as JSON, the way a person would write it (unset fields left out)."""
    data = doc.model_dump(mode="json", by_alias=True, exclude_none=True)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
