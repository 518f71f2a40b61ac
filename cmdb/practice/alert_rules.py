"""Which CIs an alert's labels name: the mapping rules, shipped or read from a YAML/JSON file
(``CMDB_ALERT_RULES_FILE``), and the lookup they drive.

Each rule reads one label. Its value (an ``instance`` loses its ``:port``) is looked up as
each identifier kind in turn, the first kind that finds a CI winning, then, if asked, as
a CI name; ``classes`` keeps only CIs of those classes, in that order. Every label with a
rule adds what it found: ``instance`` may name the VM and ``job`` the application on it,
and both are symptoms. Retired CIs are never named.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import Identifier, IdentifierKind, normalise
from cmdb.domain.model import CI, RETIRED_STATUSES
from cmdb.domain.records import Level
from cmdb.store.contract import CIFilter, GraphStore

# At most this many CIs per label value: a host name many CIs share names none of them well.
MAX_PER_LABEL = 5
_PORT = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:]+)):\d+$")


class LabelRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=200)
    kinds: list[IdentifierKind] = Field(
        default_factory=list, description="identifier kinds tried in order"
    )
    names: bool = Field(default=False, description="also look the value up as a CI name")
    strip_port: bool = Field(default=False, description='"host:9100" -> "host"')
    classes: list[str] = Field(
        default_factory=list, description="only CIs of these classes, in this order"
    )


class AlertRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: list[LabelRule]
    max_hops: int = Field(
        default=2,
        ge=0,
        le=6,
        description="how far a shared cause may sit above each alert's CIs to group them",
    )
    severity_label: str = "severity"
    urgency: dict[str, Level] = Field(
        default_factory=lambda: {
            "critical": Level.HIGH,
            "page": Level.HIGH,
            "error": Level.MEDIUM,
            "warning": Level.MEDIUM,
            "info": Level.LOW,
        },
        description="severity label value -> the incident's urgency (default medium)",
    )

    def urgency_of(self, labels: dict[str, str]) -> Level:
        value = labels.get(self.severity_label, "").strip().lower()
        return self.urgency.get(value, Level.MEDIUM)


_HOSTS = [IdentifierKind.FQDN, IdentifierKind.HOSTNAME, IdentifierKind.IP]

DEFAULT_RULES = AlertRules(
    labels=[
        LabelRule(label="instance", kinds=_HOSTS, strip_port=True, names=True),
        LabelRule(label="node", kinds=_HOSTS, names=True),
        LabelRule(label="host", kinds=_HOSTS, strip_port=True, names=True),
        LabelRule(label="hostname", kinds=_HOSTS, names=True),
        LabelRule(label="pod", kinds=[IdentifierKind.K8S_UID, IdentifierKind.KEY], names=True),
        LabelRule(label="namespace", kinds=[IdentifierKind.KEY], names=True),
        LabelRule(label="service", kinds=[IdentifierKind.FQDN, IdentifierKind.KEY], names=True),
        LabelRule(label="job", names=True),
        LabelRule(label="ci", kinds=[IdentifierKind.KEY], names=True),
    ]
)


def load_rules(path: Path | None) -> AlertRules:
    """The rules in ``path`` (YAML or JSON), or the shipped ones when ``path`` is None."""
    if path is None:
        return DEFAULT_RULES
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(
            f"cannot read the alert rules: {exc.strerror or exc}", where=str(path)
        ) from exc
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidInput(
            f"the alert rules are not valid YAML/JSON: {exc}", where=str(path)
        ) from exc
    try:
        return AlertRules.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{path}: {where}: {first['msg']}", where=str(path)) from exc


def host_of(value: str) -> str:
    """``value`` without a trailing ``:port`` (``[v6]:port`` too)."""
    m = _PORT.match(value.strip())
    if m is None:
        return value.strip()
    return m.group("v6") or m.group("host")


@dataclass(frozen=True)
class Match:
    """A CI an alert names, and the label and lookup that named it."""

    ci: CI
    label: str
    how: str  # "fqdn=...", "name=..."


def _live(found: list[CI], classes: list[str]) -> list[CI]:
    out = [c for c in found if c.status not in RETIRED_STATUSES]
    if classes:
        order = {c: i for i, c in enumerate(classes)}
        out = sorted((c for c in out if c.ci_class in order), key=lambda c: order[c.ci_class])
    return out[:MAX_PER_LABEL]


def _lookup(store: GraphStore, rule: LabelRule, raw: str) -> list[Match]:
    value = host_of(raw) if rule.strip_port else raw.strip()
    if not value:
        return []
    for kind in rule.kinds:
        try:
            ident = Identifier(kind=kind, value=normalise(kind, value))
        except (InvalidInput, ValidationError):
            continue  # not that kind of value ("web-1" is no IP address)
        found = _live(store.find_by_identifier(ident), rule.classes)
        if found:
            return [Match(c, rule.label, str(ident)) for c in found]
    if rule.names:
        page = store.list_cis(CIFilter(name=value), limit=MAX_PER_LABEL * 4)
        found = _live(page.items, rule.classes)
        return [Match(c, rule.label, f"name={value}") for c in found]
    return []


def map_labels(store: GraphStore, rules: AlertRules, labels: dict[str, str]) -> list[Match]:
    """The CIs ``labels`` name, in rule order, each once (the first label naming it)."""
    out: list[Match] = []
    seen: set[str] = set()
    for rule in rules.labels:
        raw = labels.get(rule.label)
        if raw is None:
            continue
        for m in _lookup(store, rule, raw):
            if m.ci.id not in seen:
                seen.add(m.ci.id)
                out.append(m)
    return out
