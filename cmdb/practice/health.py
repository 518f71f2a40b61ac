"""CMDB health: is the recorded configuration complete and believable? Pure.

* **completeness**: the fields each class must carry (:data:`REQUIRED_FIELDS`, the one
  place they are declared), per class and per CI;
* **stale** CIs: a discovery source marked its sighting stale (it stopped seeing the CI);
* **orphans**: CIs with no active relationship at all;
* **suspected duplicates**: the same normalised name within a class, or the same
  identifier of a kind that may repeat (:data:`DUPLICATE_KINDS`) on several CIs;
* **agreement gaps**: an OLA or supplier contract below a service that promises less than
  the service's SLA (cmdb/practice/agreements.py finds them; the caller hands them in).

Withdrawn and disposed CIs are counted (``retired``) but not judged: they are kept for
audit and lose their relationships by design.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from cmdb.domain.classes import lineage
from cmdb.domain.identifiers import IdentifierKind
from cmdb.domain.model import CI, RETIRED_STATUSES
from cmdb.domain.service import ServiceKind
from cmdb.practice.agreements import AgreementFinding

# What each class must record (domain.md: identity, class, status and name always; an
# owner, a location, an environment, a version where they mean something). Looked up by
# the class's lineage, most specific first; a class with no entry (locations, parties)
# needs nothing more. ``sla`` is the service's agreement; a customer-facing service is
# keyed "Service/customer_facing".
REQUIRED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "Service/customer_facing": ("owner", "sla"),
    "Service": ("owner",),
    "Application": ("owner", "version"),
    "Database": ("owner", "environment", "version"),
    "ApplicationInstance": ("environment", "version"),
    "Compute": ("owner", "location", "environment"),
    "NetworkDevice": ("owner", "location", "environment"),
    "StorageVolume": ("owner", "location", "environment"),
    "Cluster": ("owner", "environment"),
    "CloudResource": ("owner", "environment"),
    "KubernetesWorkload": ("owner", "environment"),
    "SoftwarePackage": ("version",),
}

# Identifier kinds that may repeat but, shared by two CIs, suggest one thing recorded
# twice. IP addresses are left out: they repeat across networks and environments.
DUPLICATE_KINDS: frozenset[IdentifierKind] = frozenset(
    {IdentifierKind.HOSTNAME, IdentifierKind.MAC, IdentifierKind.SERIAL, IdentifierKind.ASSET_TAG}
)


def required_fields(ci: CI) -> tuple[str, ...]:
    if ci.service is not None and ci.service.kind is ServiceKind.CUSTOMER_FACING:
        return REQUIRED_FIELDS["Service/customer_facing"]
    for cls in lineage(ci.ci_class):
        if cls in REQUIRED_FIELDS:
            return REQUIRED_FIELDS[cls]
    return ()


def missing_fields(ci: CI) -> list[str]:
    out: list[str] = []
    for name in required_fields(ci):
        if name == "sla":
            present = ci.service is not None and ci.service.sla is not None
        else:
            value = getattr(ci, name)
            present = value is not None and str(value).strip() != ""
        if not present:
            out.append(name)
    return out


def normalised_name(name: str) -> str:
    """Case, accents, punctuation and spacing ignored: "SRV_01 " and "srv-01" match, and
    "Zürich" matches "zurich". Letters of every script are kept (dropping what is not
    ASCII would make every Japanese name the same empty key)."""
    kept: list[str] = []
    for ch in unicodedata.normalize("NFKD", name):
        # An accent on a Latin letter is spelling noise; a mark in another script (the
        # dakuten of "デ") is part of the letter.
        if unicodedata.combining(ch) and kept and kept[-1].isascii():
            continue
        kept.append(ch)
    text = unicodedata.normalize("NFC", "".join(kept)).casefold()
    return " ".join(re.split(r"[\W_]+", text)).strip()


class CIRef(BaseModel):
    id: str
    name: str
    ci_class: str


class FieldGap(BaseModel):
    field: str
    missing: int


class ClassCompleteness(BaseModel):
    ci_class: str
    required: list[str]
    total: int
    complete: int
    percent: float
    missing: list[FieldGap]


class IncompleteCI(CIRef):
    missing: list[str]


class StaleCI(CIRef):
    stale_sources: list[str]
    all_stale: bool  # no source still sees it
    last_seen: datetime | None


class OrphanCI(CIRef):
    status: str


class DuplicateGroup(BaseModel):
    reason: Literal["name", "identifier"]
    key: str  # "Server: srv 01" or "hostname=srv-01"
    cis: list[CIRef]


class HealthReport(BaseModel):
    generated_at: datetime
    total: int  # CIs judged (not retired)
    retired: int
    complete: int
    completeness_percent: float
    by_class: list[ClassCompleteness]
    incomplete_total: int
    incomplete: list[IncompleteCI]
    stale_total: int
    stale: list[StaleCI]
    orphans_total: int
    orphans: list[OrphanCI]
    duplicate_groups: int
    duplicates: list[DuplicateGroup]
    # Weaker agreements below stronger SLAs, with the path and both figures.
    agreement_gaps_total: int = 0
    agreement_gaps: list[AgreementFinding] = []
    limit: int  # most rows kept per list (totals count every one)


def _ref(ci: CI) -> CIRef:
    return CIRef(id=ci.id, name=ci.name, ci_class=ci.ci_class)


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 100.0


class HealthBuilder:
    """Fed CIs one page at a time; keeps counters, the listed rows up to ``limit``, and a
    small key per CI for the duplicate search."""

    def __init__(self, connected: Iterable[str], *, limit: int = 1000) -> None:
        self.connected = set(connected)  # CIs at either end of an active relationship
        self.limit = limit
        self.total = self.retired = self.complete = 0
        self.per_class: dict[str, Counter[str]] = {}
        self.class_fields: dict[str, tuple[str, ...]] = {}
        self.incomplete: list[IncompleteCI] = []
        self.incomplete_total = 0
        self.stale: list[StaleCI] = []
        self.stale_total = 0
        self.orphans: list[OrphanCI] = []
        self.orphans_total = 0
        self._by_name: dict[tuple[str, str], list[CIRef]] = {}
        self._by_ident: dict[str, list[CIRef]] = {}

    def add(self, ci: CI) -> None:
        if ci.status in RETIRED_STATUSES:
            self.retired += 1
            return
        self.total += 1
        ref = _ref(ci)
        fields = required_fields(ci)
        key = f"{ci.ci_class} (customer-facing)" if "sla" in fields else ci.ci_class
        self.class_fields[key] = fields
        counts = self.per_class.setdefault(key, Counter())
        counts["total"] += 1
        missing = missing_fields(ci)
        counts.update(missing)
        if missing:
            self.incomplete_total += 1
            if len(self.incomplete) < self.limit:
                self.incomplete.append(IncompleteCI(**ref.model_dump(), missing=missing))
        else:
            self.complete += 1
            counts["complete"] += 1
        stale = sorted(s for s, seen in ci.sources.items() if seen.stale)
        if stale:
            self.stale_total += 1
            if len(self.stale) < self.limit:
                self.stale.append(
                    StaleCI(
                        **ref.model_dump(),
                        stale_sources=stale,
                        all_stale=len(stale) == len(ci.sources),
                        last_seen=max(s.last_seen for s in ci.sources.values()),
                    )
                )
        if ci.id not in self.connected:
            self.orphans_total += 1
            if len(self.orphans) < self.limit:
                self.orphans.append(OrphanCI(**ref.model_dump(), status=ci.status.value))
        key = normalised_name(ci.name)
        if key:  # a name of punctuation only says nothing about sameness
            self._by_name.setdefault((ci.ci_class, key), []).append(ref)
        for ident in ci.identifiers:
            if ident.kind in DUPLICATE_KINDS:
                self._by_ident.setdefault(str(ident), []).append(ref)

    def finish(self, now: datetime, agreements: Sequence[AgreementFinding] = ()) -> HealthReport:
        groups = [
            DuplicateGroup(reason="name", key=f"{cls}: {name}", cis=refs)
            for (cls, name), refs in self._by_name.items()
            if len(refs) > 1
        ]
        groups += [
            DuplicateGroup(reason="identifier", key=key, cis=refs)
            for key, refs in self._by_ident.items()
            if len({r.id for r in refs}) > 1
        ]
        groups.sort(key=lambda g: (g.reason, g.key))
        by_class = [
            ClassCompleteness(
                ci_class=cls,
                required=list(self.class_fields[cls]),
                total=c["total"],
                complete=c["complete"],
                percent=_pct(c["complete"], c["total"]),
                missing=[FieldGap(field=f, missing=c[f]) for f in self.class_fields[cls] if c[f]],
            )
            for cls, c in sorted(self.per_class.items())
        ]
        return HealthReport(
            generated_at=now,
            total=self.total,
            retired=self.retired,
            complete=self.complete,
            completeness_percent=_pct(self.complete, self.total),
            by_class=by_class,
            incomplete_total=self.incomplete_total,
            incomplete=self.incomplete,
            stale_total=self.stale_total,
            stale=self.stale,
            orphans_total=self.orphans_total,
            orphans=self.orphans,
            duplicate_groups=len(groups),
            duplicates=groups[: self.limit],
            agreement_gaps_total=len(agreements),
            agreement_gaps=list(agreements[: self.limit]),
            limit=self.limit,
        )


def health_report(
    cis: Iterable[CI],
    connected: Iterable[str],
    now: datetime,
    *,
    limit: int = 1000,
    agreements: Sequence[AgreementFinding] = (),
) -> HealthReport:
    builder = HealthBuilder(connected, limit=limit)
    for ci in cis:
        builder.add(ci)
    return builder.finish(now, agreements)
