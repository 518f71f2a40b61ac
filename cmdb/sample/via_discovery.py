"""Saltmarsh Ferries loaded the way a real CMDB is filled: through the discovery adapters.

``inventories/`` holds what each source would report (written for this project, not copied
from anywhere): an nmap sweep of the hypervisor subnet, Ansible facts of every machine, the
compose file of the integration VM, the Kubernetes objects of the app cluster, and the
service catalogue as the generic CSV import (services, applications, databases, parties,
and the relationships no scanner sees). Each is one discovery run, reconciled into the
CMDB: the same machine seen by nmap, Ansible and the catalogue becomes one CI.

What no discovery source knows, the agreements (SLAs with service hours, OLAs, supplier
contracts) and the app cluster's quorum, comes last from ``agreements.json`` as one change
set, matched to the discovered CIs by their natural key (``class:name``).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import orjson

from cmdb.domain.changeset import ApplyResult
from cmdb.sample.history import load_history
from cmdb.sample.load import build_changeset
from cmdb.sample.planted import plant
from cmdb.store.contract import GraphStore
from discovery.reconcile import RunReport, ingest
from discovery.registry import reader

AGREEMENTS = "agreements.json"
CATALOGUE_SOURCE = "service-catalogue"


@dataclass(frozen=True)
class Feed:
    """One discovery run: a format, its files (globs under inventories/), source, scope."""

    fmt: str
    files: tuple[str, ...]
    source: str
    scope: str | None


# Order matters only for names: the catalogue comes last, so its short names ("srv-01")
# are the newest observation and win over the scanners' FQDNs.
FEEDS: tuple[Feed, ...] = (
    Feed("nmap", ("nmap-hall2.xml",), "nmap-hall2", "10.20.0.0/28"),
    Feed("ansible", ("ansible-*.json",), "ansible-facts", "gullhaven"),
    Feed("compose", ("compose-integrations.yaml",), "compose-vm-int-01", "vm-int-01"),
    Feed("k8s", ("k8s-harbour-app.yaml",), "k8s-harbour", "harbour-app-cluster"),
    Feed(
        "csv",
        ("catalogue-cis.csv", "catalogue-relationships.csv"),
        CATALOGUE_SOURCE,
        "saltmarsh",
    ),
)


@dataclass(frozen=True)
class Loaded:
    runs: list[tuple[Feed, RunReport]]
    agreements: ApplyResult


def inventories() -> Path:
    """The directory of the shipped inventory files (a real path: the adapters read files)."""
    here: Traversable = resources.files("cmdb.sample") / "inventories"
    return Path(str(here))


def feed_paths(feed: Feed, root: Path | None = None) -> list[Path]:
    root = root or inventories()
    return sorted({p for pattern in feed.files for p in root.glob(pattern)})


def load_via_discovery(
    store: GraphStore,
    *,
    actor: str,
    root: Path | None = None,
    dry_run: bool = False,
    history: bool = False,
    planted: bool = False,
) -> Loaded:
    """One discovery run per feed, then the agreements (and, with ``planted``, the planted
    scenario, :mod:`cmdb.sample.planted`; with ``history``, the year of incidents and
    changes, :mod:`cmdb.sample.history`, and the planted scenario); returns every run's
    report."""
    runs: list[tuple[Feed, RunReport]] = []
    for feed in FEEDS:
        report = ingest(
            store,
            feed.fmt,
            reader(feed.fmt)(feed_paths(feed, root)),
            source=feed.source,
            scope=feed.scope,
            actor=actor,
            dry_run=dry_run,
        )
        runs.append((feed, report))
    doc = orjson.loads(((root or inventories()) / AGREEMENTS).read_bytes())
    cs = build_changeset(doc, actor=actor).model_copy(update={"source": CATALOGUE_SOURCE})
    agreements = store.apply(cs)
    if not dry_run:
        if planted or history:  # the planted scenario is the history's present
            plant(store, actor=actor)
        if history:
            load_history(store, actor=actor)
    return Loaded(runs=runs, agreements=agreements)
