"""The generic import's JSON form: one ``ImportDocument`` per file (``schemas/import.schema.json``).

A malformed envelope refuses the file (``InvalidInput``); a bad CI or relationship is a
``Problem`` naming its place (``file:cis[3].class``) and the rest proceeds. What happens after
validation (keys, relationships across files) is ``discovery.adapters._generic``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cmdb.domain.errors import InvalidInput
from discovery.adapters._generic import (
    Loc,
    Pending,
    Run,
    define,
    field_place,
    relationships,
    validate,
)
from discovery.io import json_document
from discovery.records import DiscoveredCI, DiscoveredRel, Item
from discovery.schema import ImportCI, ImportDocument, ImportRel, errors_of, format_loc


def read(paths: Sequence[Path]) -> Iterator[Item]:
    run = Run()
    for path in paths:
        yield from _json_file(path, run)
    yield from relationships(run)


def _json_file(path: Path, run: Run) -> Iterator[Item]:
    doc = json_document(path)
    _check_envelope(doc, path)
    assert isinstance(doc, dict)
    for i, raw in enumerate(doc.get("cis", [])):
        yield from _ci_item(raw, ("cis", i), path, run)
    for i, raw in enumerate(doc.get("relationships", [])):
        base: Loc = ("relationships", i)
        rel = validate(ImportRel, raw, _json_place(path, base))
        if isinstance(rel, ImportRel):
            where = f"{path}:{format_loc(base)}"
            run.pending.append(Pending(rel, where, field_place(where, ".")))
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


def _ci_item(raw: object, base: Loc, path: Path, run: Run) -> Iterator[Item]:
    ci = validate(ImportCI, raw, _json_place(path, base))
    if isinstance(ci, ImportCI):
        yield from define(ci, f"{path}:{format_loc(base)}", f"{path}:{format_loc(base)}.key", run)
    else:
        yield from ci


def _json_place(path: Path, base: Loc) -> Callable[[Loc], str]:
    """Where a model error sits in a JSON file: ``file:cis[3].class``."""
    return lambda loc: f"{path}:{format_loc(base + loc)}"


# --- writing ----------------------------------------------------------------------------


def to_document(cis: Iterable[DiscoveredCI], rels: Iterable[DiscoveredRel]) -> ImportDocument:
    """Records as an import document: what ``read`` reads back to the same records."""
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
