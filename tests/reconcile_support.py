"""Helpers for the reconciliation tests: inputs, running a format into a store, and
reading what a store holds in a form two stores (or a store and a model) can compare."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.domain.model import CI
from cmdb.store.contract import CIFilter, GraphStore
from cmdb.store.embedded.store import EmbeddedStore
from discovery.reconcile import RunReport, reconcile
from discovery.records import DiscoveredCI, DiscoveredRel, Inventory, Item, collect
from discovery.registry import reader
from tests.fakes import FakeClock
from tests.neo4j_support import fresh_store

ROOT = Path(__file__).resolve().parents[1]
INVENTORIES = ROOT.parent / "shared" / "data" / "inventories"
FIXTURES = ROOT / "tests" / "integration" / "reconcile" / "fixtures"


def inventory_path(*parts: str) -> Path:
    path = INVENTORIES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not here (the shared inventories are optional)")
    return path


def read(fmt: str, *paths: Path) -> Inventory:
    return collect(fmt, reader(fmt)(list(paths)))


def run(store: GraphStore, fmt: str, *paths: Path, **options: Any) -> RunReport:
    options.setdefault("source", fmt)
    report = reconcile(store, read(fmt, *paths), **options)
    assert report.error is None, report.error
    return report


def all_cis(store: GraphStore, flt: CIFilter | None = None) -> list[CI]:
    out: list[CI] = []
    cursor: str | None = None
    while True:
        page = store.list_cis(flt, limit=1000, cursor=cursor)
        out += page.items
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


def history_rows(store: GraphStore) -> int:
    return sum(1 for _ in store.iter_history())


def edge_count(store: GraphStore) -> int:
    return sum(store.counts().relationships_by_type.values())


def host(i: int, *, os: str = "linux", source_tag: str = "") -> DiscoveredCI:
    """A server found by a scanner: a serial, a hostname, an address."""
    return DiscoveredCI(
        key=f"host-{i}",
        ci_class="Server",
        name=f"host-{i}",
        identifiers=(
            Identifier(kind=IdentifierKind.SERIAL, value=f"SN{i:06d}"),
            Identifier(kind=IdentifierKind.HOSTNAME, value=f"host-{i}"),
            Identifier(kind=IdentifierKind.IP, value=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"),
        ),
        attributes={"os": os, **({"tag": source_tag} if source_tag else {})},
    )


def fleet(numbers: Iterable[int], **kw: Any) -> Inventory:
    """Servers ``numbers``, each with a web service on it (a dependent CI)."""
    items: list[Item] = []
    for i in numbers:
        h = host(i, **kw)
        port = DiscoveredCI(
            key=f"host-{i}/tcp/443",
            ci_class="ApplicationInstance",
            name=f"https on host-{i}",
            identifiers=(Identifier(kind=IdentifierKind.KEY, value=f"host-{i}/tcp/443"),),
            attributes={"protocol": "tcp", "port": 443},
        )
        items += [h, port, DiscoveredRel(type="RUNS_ON", source=port.key, target=h.key)]
    return collect("test", items)


def stale_for(store: GraphStore, source: str) -> set[str]:
    return {c.name for c in all_cis(store) if (s := c.sources.get(source)) is not None and s.stale}


def store_maker(kind: str, request: pytest.FixtureRequest) -> Callable[[FakeClock], GraphStore]:
    """Fresh stores inside one test (hypothesis examples): a new SQLite file each time, or
    the session's Neo4j wiped (a test holds one open Neo4j store at a time)."""
    if kind == "embedded":
        base: Path = request.getfixturevalue("tmp_path")

        def embedded(clock: FakeClock) -> GraphStore:
            return EmbeddedStore(base / f"{uuid.uuid4().hex}.db", clock=clock)

        return embedded
    driver = request.getfixturevalue("neo4j_driver")

    def neo4j(clock: FakeClock) -> GraphStore:
        return fresh_store(driver, clock)

    return neo4j
