"""Identification rules: which identifiers say "this record is that CI", per class, in order.

A class's rules come first, then those of each ancestor (so ``VirtualMachine`` inherits the
rules of ``Compute``), then every unique kind as a last resort: a record must never create
a second CI for an identifier another CI of its kind already holds. Hostnames repeat
across networks and IPs across environments, so neither identifies on its own; a hostname
counts only with corroboration (an address or a domain in common), see ``corroborates``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from cmdb.domain.classes import ROOT, lineage
from cmdb.domain.identifiers import UNIQUE_KINDS, Identifier, IdentifierKind
from cmdb.domain.model import CI

K = IdentifierKind


@dataclass(frozen=True)
class Rule:
    name: str
    kind: IdentifierKind
    # A weak rule's kind is not unique: a match needs corroboration.
    weak: bool = False


SERIAL = Rule("serial", K.SERIAL)
CLOUD_ID = Rule("cloud_id", K.CLOUD_ID)
FQDN = Rule("fqdn", K.FQDN)
HOSTNAME_DOMAIN = Rule("hostname+domain", K.HOSTNAME, weak=True)
MAC = Rule("mac", K.MAC)
KEY = Rule("key", K.KEY)
K8S_UID = Rule("k8s_uid", K.K8S_UID)
PURL = Rule("purl", K.PURL)
ASSET_TAG = Rule("asset_tag", K.ASSET_TAG)

_RULES: dict[str, tuple[Rule, ...]] = {
    # A cloud VM's provider id is as good as a serial; the MAC comes last because NICs move.
    "Compute": (SERIAL, CLOUD_ID, FQDN, HOSTNAME_DOMAIN, MAC),
    # The natural key is cluster/namespace/kind/name; the uid changes when it is recreated.
    "KubernetesWorkload": (KEY, K8S_UID),
    "CloudResource": (CLOUD_ID, KEY),
    "SoftwarePackage": (PURL, KEY),
    ROOT: (KEY,),
}
_LAST_RESORT = tuple(Rule(k.value, k) for k in IdentifierKind if k in UNIQUE_KINDS)

# Kinds a CI holds at most one value of: two different values mean two different things.
# (A machine has many MACs and names, and Terraform gives both an id and an ARN.)
EXCLUSIVE: frozenset[IdentifierKind] = frozenset({K.SERIAL, K.K8S_UID, K.PURL})


@cache
def rules_for(ci_class: str) -> tuple[Rule, ...]:
    out: list[Rule] = []
    for cls in lineage(ci_class):
        out += [r for r in _RULES.get(cls, ()) if r not in out]
    out += [r for r in _LAST_RESORT if all(o.kind is not r.kind or o.weak for o in out)]
    return tuple(out)


@cache
def family(ci_class: str) -> str:
    """The top class below the root: two CIs of different families are never one thing."""
    chain = lineage(ci_class)
    return chain[-2] if len(chain) > 1 else chain[0]


def compatible(ci_class: str, other_class: str) -> bool:
    return family(ci_class) == family(other_class)


def contradicts(idents: Iterable[Identifier], others: Iterable[Identifier]) -> bool:
    """Two sets of identifiers hold different values of a kind a CI holds only one of."""
    mine: dict[IdentifierKind, set[str]] = {}
    for i in idents:
        if i.kind in EXCLUSIVE:
            mine.setdefault(i.kind, set()).add(i.value)
    theirs: dict[IdentifierKind, set[str]] = {}
    for i in others:
        if i.kind in mine:
            theirs.setdefault(i.kind, set()).add(i.value)
    return any(mine[k].isdisjoint(v) for k, v in theirs.items())


def domains(idents: Iterable[Identifier], attributes: dict[str, object]) -> set[str]:
    """Domains a record puts its hostname in: fqdn suffixes and a ``domain`` attribute."""
    out = {i.value.split(".", 1)[1] for i in idents if i.kind is K.FQDN and "." in i.value}
    dom = attributes.get("domain")
    if isinstance(dom, str) and dom.strip():
        out.add(dom.strip().lower().rstrip("."))
    return out


def corroborates(names: set[str], ips: set[str], doms: set[str], ci: CI) -> bool:
    """A CI is the record's machine by name only if it has one of the names (as hostname or
    first label of an fqdn) and an address or a domain agrees too."""
    theirs_names = {
        i.value if i.kind is K.HOSTNAME else i.value.split(".", 1)[0]
        for i in ci.identifiers
        if i.kind in (K.HOSTNAME, K.FQDN)
    }
    shared = names & theirs_names
    if not shared:
        return False
    if ips & {i.value for i in ci.identifiers if i.kind is K.IP}:
        return True
    theirs_fqdn = {i.value for i in ci.identifiers if i.kind is K.FQDN}
    if any(f"{h}.{d}" in theirs_fqdn for h in shared for d in doms):
        return True
    dom = ci.attributes.get("domain")
    return isinstance(dom, str) and dom.lower().rstrip(".") in doms
