"""Safe reading of inventory files: YAML, JSON and XML, with the file and place in errors.

Every adapter reads through here, so the defences are in one place: a size cap, YAML safe
loading with a cap on aliases (a "billion laughs" document expands aliases exponentially
in whoever walks it), XML through defusedxml (no entity expansion, no external entities),
and errors that name the file, line and column.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import orjson
import yaml
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from cmdb.domain.errors import InvalidInput

MAX_BYTES = 256 * 1024 * 1024
MAX_ALIASES = 1_000
# PyYAML composes nodes recursively (three Python frames a level): a document nested
# deeper than this would end in RecursionError. No real inventory comes near it.
MAX_DEPTH = 100


def _check_size(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInput(f"cannot read: {exc.strerror}", where=str(path)) from exc
    if size > MAX_BYTES:
        raise InvalidInput(f"file is {size} bytes; the limit is {MAX_BYTES}", where=str(path))


def read_text(path: Path) -> str:
    _check_size(path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"not UTF-8 text (byte {exc.start}: {exc.reason})", where=str(path)
        ) from exc
    except OSError as exc:
        raise InvalidInput(f"cannot read: {exc.strerror}", where=str(path)) from exc


class _CappedLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents with more aliases, or nested deeper, than any real
    inventory has."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.YAMLError(
                    f"more than {MAX_ALIASES} YAML aliases at line {mark.line + 1}: refused"
                )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.YAMLError(
                    f"nested more than {MAX_DEPTH} levels deep at line {mark.line + 1}: refused"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def yaml_documents(path: Path) -> Iterator[tuple[int, Any]]:
    """Each YAML document of a file with the line it starts on (1-based); empty ones skipped."""
    text = read_text(path)
    try:
        loader = _CappedLoader(text)  # checks every character: may raise ReaderError
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise InvalidInput(
            f"invalid YAML: character U+{exc.character:04X} is not allowed",
            where=f"{path}:{line}:{col}",
        ) from exc
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = node.start_mark.line + 1
            data = loader.construct_document(node)
            if data is not None:
                yield line, data
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise InvalidInput(f"invalid YAML: {exc.problem or exc}", where=where) from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(f"invalid YAML: {exc}", where=str(path)) from exc
    finally:
        loader.dispose()


def json_document(path: Path) -> Any:
    _check_size(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read: {exc.strerror}", where=str(path)) from exc
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            # orjson says "surrogates not allowed" at 1:1 for UTF-16 and Latin-1 alike.
            raise InvalidInput(
                f"not UTF-8 text (byte {bad.start}: {bad.reason})", where=str(path)
            ) from exc
        raise InvalidInput(
            f"invalid JSON: {exc.msg}", where=f"{path}:{exc.lineno}:{exc.colno}"
        ) from exc


def xml_elements(path: Path, tag: str) -> Iterator[Element]:
    """Stream the elements named ``tag`` (cleared after use, so big files stay small)."""
    _check_size(path)
    try:
        for _event, elem in iterparse(str(path), events=("end",)):
            if elem.tag == tag:
                yield elem
                elem.clear()
    except DefusedXmlException as exc:
        raise InvalidInput(f"refused XML construct: {exc}", where=str(path)) from exc
    except SyntaxError as exc:  # xml.etree.ElementTree.ParseError
        line, col = getattr(exc, "position", (0, 0))
        raise InvalidInput(f"invalid XML: {exc.msg}", where=f"{path}:{line}:{col}") from exc
    except (LookupError, ValueError) as exc:
        # expat hands the declared encoding to Python's codecs: encoding="UTF-9" is a
        # LookupError, a multi-byte or mis-declared one a ValueError.
        raise InvalidInput(f"invalid XML encoding: {exc}", where=str(path)) from exc
