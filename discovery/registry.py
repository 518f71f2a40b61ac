"""The formats discovery reads, by name, each an adapter module with ``read(paths)``."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import cast

from cmdb.domain.errors import InvalidInput
from discovery.records import Item

Reader = Callable[[Sequence[Path]], Iterator[Item]]

# format name -> module under discovery/adapters/
FORMATS: dict[str, str] = {
    "k8s": "discovery.adapters.kubernetes",
    "compose": "discovery.adapters.compose",
    "terraform": "discovery.adapters.terraform",
    "nmap": "discovery.adapters.nmap",
    "ansible": "discovery.adapters.ansible",
    "backstage": "discovery.adapters.backstage",
    "cyclonedx": "discovery.adapters.cyclonedx",
    "spdx": "discovery.adapters.spdx",
    "glpi": "discovery.adapters.glpi",
    "csv": "discovery.adapters.csv",
    "json": "discovery.adapters.json",
    "netbox": "discovery.adapters.netbox",
    "aws": "discovery.adapters.aws",
}


def reader(fmt: str) -> Reader:
    module = FORMATS.get(fmt)
    if module is None:
        raise InvalidInput(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}", where="format")
    return cast(Reader, importlib.import_module(module).read)
