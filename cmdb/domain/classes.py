"""The declared CI class hierarchy.

Classes form a tree; a query for a class includes its subclasses, and the Neo4j store
writes the whole chain as labels. Names are fixed here, never taken from user strings,
so they are safe to use as labels.
"""

from __future__ import annotations

from functools import cache

from cmdb.domain.errors import InvalidInput

ROOT = "ConfigurationItem"

# class -> parent. Abstract classes group others and are never given to a CI.
_PARENT: dict[str, str | None] = {
    ROOT: None,
    "Service": ROOT,
    "Application": ROOT,
    "ApplicationInstance": ROOT,
    "Database": "ApplicationInstance",
    "Compute": ROOT,
    "Server": "Compute",
    "VirtualMachine": "Compute",
    "Container": "Compute",
    # A handset with its own OS and software, identified like any machine (serial, MAC).
    "Phone": "Compute",
    "Pod": "Container",
    "KubernetesWorkload": ROOT,
    "NetworkDevice": ROOT,
    "LoadBalancer": "NetworkDevice",
    # A networked peripheral, inventoried over SNMP like the network equipment it sits on.
    "Printer": "NetworkDevice",
    "StorageVolume": ROOT,
    "Cluster": ROOT,
    "CloudResource": ROOT,
    "SoftwarePackage": ROOT,
    "Location": ROOT,
    "Party": ROOT,
    "Team": "Party",
    "Supplier": "Party",
    "Customer": "Party",
    "Person": "Party",
}

ABSTRACT: frozenset[str] = frozenset({ROOT, "Compute", "Party"})

# The technical CIs: those that take part in service delivery and impact.
TECHNICAL: tuple[str, ...] = (
    "Service",
    "Application",
    "ApplicationInstance",
    "Compute",
    "KubernetesWorkload",
    "NetworkDevice",
    "StorageVolume",
    "Cluster",
    "CloudResource",
    "SoftwarePackage",
)

# Classes whose CIs *group* others rather than being made of them: a site or a room
# (Location); a Kubernetes namespace, a compose project, a Terraform module, a cloud
# resource group (CloudResource: how discovery records each of them). What such a CI
# CONTAINS is a member, not a part: a member failing leaves the grouping affected, never
# down. A Service, an Application or a workload is made of what it contains.
GROUPINGS: frozenset[str] = frozenset({"Location", "CloudResource"})


def all_classes() -> list[str]:
    return list(_PARENT)


def concrete_classes() -> list[str]:
    return [c for c in _PARENT if c not in ABSTRACT]


def check_class(name: str, *, where: str = "class") -> str:
    """Return ``name`` if it is a concrete class, else raise naming the valid ones."""
    if name not in _PARENT:
        raise InvalidInput(
            f"unknown CI class {name!r}; known: {', '.join(concrete_classes())}", where=where
        )
    if name in ABSTRACT:
        raise InvalidInput(f"{name!r} is an abstract class; pick a concrete one", where=where)
    return name


@cache
def lineage(name: str) -> tuple[str, ...]:
    """The class and its ancestors, most specific first (``Pod`` -> Pod, Container, ...)."""
    if name not in _PARENT:
        raise InvalidInput(f"unknown CI class {name!r}", where="class")
    chain: list[str] = []
    current: str | None = name
    while current is not None:
        chain.append(current)
        current = _PARENT[current]
    return tuple(chain)


def is_a(name: str, ancestor: str) -> bool:
    return ancestor in lineage(name)


@cache
def is_grouping(name: str) -> bool:
    """Does a CI of class ``name`` group what it contains (see ``GROUPINGS``)?"""
    return any(c in GROUPINGS for c in lineage(name))


@cache
def descendants(name: str) -> frozenset[str]:
    """The class and every subclass of it: what a filter on ``name`` must match."""
    lineage(name)  # validates
    return frozenset(c for c in _PARENT if name in lineage(c))


# How a name search orders classes among equally good matches: what a person typing a
# name most likely means comes first (the business services, then the applications, then
# the hosts they run on) and what discovery finds in bulk comes last (the ports and
# listeners nmap reports as application instances, installed packages). Lower ranks come
# first; a class without an entry takes its nearest ancestor's.
_SEARCH_RANK: dict[str, int] = {
    ROOT: 3,  # other infrastructure: workloads, network, storage, clusters, cloud
    "Service": 0,
    "Application": 1,
    "Compute": 2,  # hosts: servers, VMs, containers, pods
    "Database": 3,
    "Party": 4,
    "Location": 4,
    "ApplicationInstance": 5,
    "SoftwarePackage": 5,
}


@cache
def search_rank(name: str) -> int:
    """Where ``name`` comes among equally good name matches (0 first)."""
    return next(_SEARCH_RANK[c] for c in lineage(name) if c in _SEARCH_RANK)


def search_ranks() -> dict[str, int]:
    """Every class's search rank: what a store orders a search by."""
    return {c: search_rank(c) for c in _PARENT}
