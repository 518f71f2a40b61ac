"""The formats discovery reads, by name, each an adapter module with ``read(paths)``."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import cast

from cmdb.domain.errors import InvalidInput
from discovery.records import Item

Reader = Callable[[Sequence[Path]], Iterator[Item]]

# format name -> module under discovery/
FORMATS: dict[str, str] = {
    "k8s": "discovery.kubernetes",
    "compose": "discovery.compose",
    "terraform": "discovery.terraform",
    "nmap": "discovery.nmap",
    "ansible": "discovery.ansible",
    "backstage": "discovery.backstage",
    "cyclonedx": "discovery.cyclonedx",
    "csv": "discovery.generic",
    "json": "discovery.generic",
}


def reader(fmt: str) -> Reader:
    module = FORMATS.get(fmt)
    if module is None:
        raise InvalidInput(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}", where="format")
    mod = importlib.import_module(module)
    if fmt in ("csv", "json"):
        return cast(Reader, getattr(mod, f"read_{fmt}"))
    return cast(Reader, mod.read)
