"""Which existing CI each record is, decided with batched look-ups and the class rules.

Records are grouped: a group is one CI, existing (``ci``) or to be created, and every record
of the inventory that is that CI belongs to it (two Ansible files for one host, or records
that share a unique identifier). A unique identifier that belongs to another CI than the
record's is dropped from what is sent, and reported as a conflict: sending it would make
the store refuse the whole batch, and keeping the record out would lose what it says.

Dependent CIs (an application instance found on a host, e.g. an nmap port) have no
identity of their own: their key is made from the host's CI id once the host is known.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from cmdb.domain.changeset import CIUpsert
from cmdb.domain.classes import is_a
from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.domain.model import CI, Sighting
from cmdb.store.contract import SightingHit
from discovery.reconcile.report import Conflict
from discovery.reconcile.rules import (
    compatible,
    contradicts,
    corroborates,
    domains,
    rules_for,
)
from discovery.records import DiscoveredCI, DiscoveredRel

K = IdentifierKind
Outcome = Literal["create", "update", "unchanged", "referenced", "error"]


@dataclass(eq=False)
class Record:
    rec: DiscoveredCI
    rels: list[DiscoveredRel]  # outgoing
    digest: str
    idents: list[Identifier]  # what will be sent: the record's, adjusted
    host: str | None = None  # a dependent's host record key
    group: Group | None = None
    rule: str | None = None
    # For a record with no identity of its own: how the input named it when it was only
    # referred to (a placeholder CI carries that key). Looked up, never sent.
    placeholder: Identifier | None = None

    @property
    def key(self) -> str:
        return self.rec.key


@dataclass(eq=False)
class Group:
    """One CI: existing (``ci``) or created by its first record."""

    ci_class: str
    ci: CI | None = None
    records: list[Record] = field(default_factory=list)
    idents: list[Identifier] = field(default_factory=list)
    outcome: Outcome = "create"
    ci_id: str | None = None  # known for an existing CI, else once applied
    sighting: Sighting | None = None  # this source's, as read before the run
    upserts: list[CIUpsert] | None = None  # what it sends, once built

    @property
    def leader(self) -> Record:
        return self.records[0]


def fallback_key(source: str, scope: str | None, record_key: str) -> Identifier:
    """For a record with no unique identifier: the source's own name for it."""
    prefix = f"{source}:{scope}" if scope else source
    return Identifier(kind=K.KEY, value=f"{prefix}:{record_key}")


def dependent_key(host_ci_id: str, rec: DiscoveredCI) -> Identifier:
    proto, port = rec.attributes.get("protocol"), rec.attributes.get("port")
    tail = f"{proto}/{port}" if proto is not None and port is not None else rec.name
    return Identifier(kind=K.KEY, value=f"{host_ci_id}:{tail}")


def find_host(
    rec: DiscoveredCI, rels: list[DiscoveredRel], classes: Mapping[str, str]
) -> str | None:
    """The host of a dependent record: an application instance that runs on exactly one
    compute record and has no identity of its own (no unique identifier but the adapter's
    local key, like nmap's ``nmap:{ip}/{proto}/{port}``). A natural key the source gives
    (a service name in a catalogue) is an identity, and is kept."""
    if not is_a(rec.ci_class, "ApplicationInstance"):
        return None
    if any(i.unique and not (i.kind is K.KEY and i.value == rec.key) for i in rec.identifiers):
        return None
    hosts = [
        r.target
        for r in rels
        if r.type == "RUNS_ON" and r.target in classes and is_a(classes[r.target], "Compute")
    ]
    return hosts[0] if len(hosts) == 1 else None


def hostnames(idents: Iterable[Identifier]) -> set[str]:
    """Names a record gives its machine: hostnames, and the first label of each fqdn."""
    out: set[str] = set()
    for i in idents:
        if i.kind is K.HOSTNAME:
            out.add(i.value)
        elif i.kind is K.FQDN:
            out.add(i.value.split(".", 1)[0])
    return out


def _weak(r: Record) -> bool:
    return any(rule.weak for rule in rules_for(r.rec.ci_class))


def lookups(records: Iterable[Record]) -> set[Identifier]:
    """What to ask the store about: unique identifiers, and for the hostname rule the
    names and addresses (a CI is found by either, and must agree on both)."""
    out: set[Identifier] = set()
    for r in records:
        out.update(i for i in r.idents if i.unique)
        if r.placeholder is not None:
            out.add(r.placeholder)
        if _weak(r):
            names = hostnames(r.idents)
            if names:
                out.update(Identifier(kind=K.HOSTNAME, value=h) for h in names)
                out.update(i for i in r.idents if i.kind is K.IP)
    return out


class Matcher:
    """Matches records against store hits, in inventory order, building the groups."""

    def __init__(self, hits: Mapping[Identifier, list[CI]], conflicts: list[Conflict]) -> None:
        self.hits = hits
        self.conflicts = conflicts
        self.groups: list[Group] = []
        self._by_ci: dict[str, Group] = {}
        self._claims: dict[Identifier, Group] = {}

    def add_hits(self, more: Mapping[Identifier, list[CI]]) -> None:
        self.hits = {**self.hits, **more}

    def adopt(self, r: Record, hit: SightingHit) -> None:
        """A record whose digest is the one this source last wrote on the CI holding its
        first unique identifier: it is that CI again, unchanged. The digest covers the
        record's identifiers, so the rules would only find the same CI (more slowly)."""
        group = self._by_ci.get(hit.ci_id)
        if group is None:
            group = Group(
                ci_class=hit.ci_class, ci_id=hit.ci_id, outcome="unchanged", sighting=hit.sighting
            )
            self._by_ci[hit.ci_id] = group
            self.groups.append(group)
        r.rule, r.group = "unchanged", group
        group.records.append(r)
        group.idents += [i for i in r.idents if i not in group.idents]

    def identify(self, r: Record) -> None:
        ci = self._match(r)
        group = self._group(r, ci)
        kept: list[Identifier] = []
        for i in r.idents:
            if not i.unique:
                kept.append(i)
                continue
            owners = sorted({c.id for c in self.hits.get(i, ())})
            claimed = self._claims.get(i)
            if owners and (group.ci is None or group.ci.id not in owners):
                self._conflict(r, f"{i} belongs to another CI; not added to this one", owners)
            elif claimed is not None and claimed is not group:
                self._conflict(r, f"{i} is claimed by another record of this input", [])
            else:
                kept.append(i)
                self._claims[i] = group
        r.idents = kept
        r.group = group
        group.records.append(r)
        group.idents += [i for i in kept if i not in group.idents]

    def _conflict(self, r: Record, message: str, ci_ids: list[str]) -> None:
        self.conflicts.append(Conflict(key=r.key, message=message, ci_ids=ci_ids))

    def _match(self, r: Record) -> CI | None:
        cls = r.rec.ci_class
        names = hostnames(r.idents)
        ips = [i for i in r.idents if i.kind is K.IP]
        doms = domains(r.idents, r.rec.attributes)
        for rule in rules_for(cls):
            found: dict[str, CI] = {}
            if rule.weak and names:
                near = [Identifier(kind=K.HOSTNAME, value=h) for h in names] + ips
                for c in (c for i in near for c in self.hits.get(i, ())):
                    if corroborates(names, {i.value for i in ips}, doms, c):
                        found[c.id] = c
            elif not rule.weak:
                for i in r.idents:
                    if i.kind is rule.kind:
                        found.update((c.id, c) for c in self.hits.get(i, ()))
            usable = [
                c
                for c in found.values()
                if compatible(cls, c.ci_class) and not contradicts(r.idents, c.identifiers)
            ]
            if not usable:
                continue
            # Best: most unique identifiers in common, then most of any kind (names, IPs).
            unique = {i for i in r.idents if i.unique}
            every = set(r.idents)
            usable.sort(
                key=lambda c: (
                    -len(unique.intersection(c.identifiers)),
                    -len(every.intersection(c.identifiers)),
                    c.id,
                )
            )
            if len(usable) > 1:
                self._conflict(
                    r,
                    f"identifiers match {len(usable)} CIs by {rule.name}; taken as {usable[0].id}",
                    [c.id for c in usable],
                )
            r.rule = rule.name
            return usable[0]
        return self._placeholder(r)

    def _placeholder(self, r: Record) -> CI | None:
        if r.placeholder is None:
            return None
        for c in self.hits.get(r.placeholder, ()):
            if c.attributes.get("unresolved") is True and compatible(r.rec.ci_class, c.ci_class):
                r.rule = "placeholder"
                return c
        return None

    def _group(self, r: Record, ci: CI | None) -> Group:
        if ci is not None:
            group = self._by_ci.get(ci.id)
            if group is None:
                group = Group(ci_class=ci.ci_class, ci=ci, ci_id=ci.id)
                self._by_ci[ci.id] = group
                self.groups.append(group)
            group.ci = group.ci or ci  # an adopted group now has a record that changed
            return group
        # Not in the store: the same CI as an earlier record that claimed one of its ids?
        for i in r.idents:
            claimed = self._claims.get(i) if i.unique else None
            if (
                claimed is not None
                and compatible(r.rec.ci_class, claimed.ci_class)
                and not contradicts(r.idents, claimed.idents)
            ):
                r.rule = r.rule or f"{i.kind.value} (same input)"
                return claimed
        group = Group(ci_class=r.rec.ci_class)
        self.groups.append(group)
        return group
