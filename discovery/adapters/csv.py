"""The generic import's CSV form: a CIs file and a relationships file.

A CIs file has ``key,class,name`` + standard-field columns + identifier columns named after
identifier kinds (repeatable for several values) + ``attr.<name>`` columns; a relationships
file is recognised by its header ``source,type,target[,confidence]`` (+ ``attr.<name>``). The
``key`` column is the CI's key in the import, so the identifier of kind ``key`` is written
``id.key``; any identifier column may carry that ``id.`` prefix. Each row is turned into the
dictionary the JSON form would hold and validated by the same model, so the forms cannot
drift; what follows validation is ``discovery.adapters._generic``.

A malformed header refuses the file (``InvalidInput``); a bad CI or relationship is a
``Problem`` naming its line and column (``file:12:class``) and the rest proceeds.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import IdentifierKind
from discovery.adapters._build import problem
from discovery.adapters._generic import (
    Loc,
    Pending,
    Run,
    define,
    field_place,
    relationships,
    validate,
)
from discovery.io import read_text
from discovery.records import Item, Severity
from discovery.schema import STANDARD_FIELDS, ImportCI, ImportRel

ATTR_PREFIX = "attr."
ID_PREFIX = "id."
CI_COLUMNS = ("key", "class", "name")
REL_COLUMNS = ("source", "type", "target")
_KINDS = frozenset(k.value for k in IdentifierKind)
# Identifier columns: a kind's bare name (``ip``) or prefixed (``id.ip``); ``key`` is taken.
_ID_COLUMNS = {f"{ID_PREFIX}{k}": k for k in _KINDS} | {k: k for k in _KINDS - set(CI_COLUMNS)}

Row = tuple[int, list[str]]


def read(paths: Sequence[Path]) -> Iterator[Item]:
    """CIs files first (whatever the order given), then relationship files."""
    run = Run()
    tables = [_table(path) for path in paths]
    for path, header, rows in tables:
        if not _is_rel_header(header):
            yield from _csv_cis(path, header, rows, run)
    for path, header, rows in tables:
        if _is_rel_header(header):
            yield from _csv_rels(path, header, rows, run)
    yield from relationships(run)


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


def _csv_cis(path: Path, header: list[str], rows: Iterator[Row], run: Run) -> Iterator[Item]:
    _check_header(path, header, {*CI_COLUMNS, *STANDARD_FIELDS, *_ID_COLUMNS}, CI_COLUMNS)
    # A model error on identifiers.ip points at the column the file calls it by.
    columns = {_ID_COLUMNS[c]: c for c in reversed(header) if c in _ID_COLUMNS}
    for line, cells in rows:
        raw = _row(header, cells, _ID_COLUMNS)
        if isinstance(raw, str):
            yield problem(Severity.ERROR, f"{path}:{line}", raw)
            continue
        ci = validate(ImportCI, raw, _csv_place(path, line, columns))
        if isinstance(ci, ImportCI):
            yield from define(ci, f"{path}:{line}", f"{path}:{line}:key", run)
        else:
            yield from ci


def _csv_rels(path: Path, header: list[str], rows: Iterator[Row], run: Run) -> Iterator[Item]:
    lowered = [h.lower() if not h.startswith(ATTR_PREFIX) else h for h in header]
    _check_header(path, lowered, {*REL_COLUMNS, "confidence"}, REL_COLUMNS)
    for line, cells in rows:
        raw = _row(lowered, cells, None)
        if isinstance(raw, str):
            yield problem(Severity.ERROR, f"{path}:{line}", raw)
            continue
        rel = validate(ImportRel, raw, _csv_place(path, line, {}))
        if isinstance(rel, ImportRel):
            where = f"{path}:{line}"
            run.pending.append(Pending(rel, where, field_place(where, ":")))
        else:
            yield from rel


def _row(
    header: list[str], cells: list[str], id_columns: Mapping[str, str] | None
) -> dict[str, Any] | str:
    """The JSON-form dictionary of a row (empty cells left out), or what is wrong with it.
    ``id_columns`` (column -> identifier kind) for a CI row; None for a relationship row,
    which has no identifiers."""
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
        elif id_columns is not None and col in id_columns:
            idents.setdefault(id_columns[col], []).append(cell)
        else:
            raw[col] = cell.strip()
    if id_columns is not None:
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


def _csv_place(path: Path, line: int, columns: Mapping[str, str]) -> Callable[[Loc], str]:
    """Where a model error sits in a CSV file: ``file:12:class``."""
    return lambda loc: f"{path}:{line}:{_column(loc, columns)}"
