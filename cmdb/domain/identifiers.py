"""Identifier kinds: which are globally unique, and how values are normalised.

A unique kind (serial, fqdn, mac, cloud id, k8s uid, purl, key) belongs to at most one CI,
so the store can identify a CI by it. Hostnames and IPs repeat across networks and
environments: they help find a CI but never identify one on their own.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from cmdb.domain.errors import InvalidInput


class IdentifierKind(StrEnum):
    SERIAL = "serial"
    FQDN = "fqdn"
    HOSTNAME = "hostname"
    IP = "ip"
    MAC = "mac"
    CLOUD_ID = "cloud_id"
    K8S_UID = "k8s_uid"
    PURL = "purl"
    ASSET_TAG = "asset_tag"
    # A natural key made by whoever created the CI (e.g. "k8s:prod/shop/Deployment/cart").
    KEY = "key"


UNIQUE_KINDS: frozenset[IdentifierKind] = frozenset(
    {
        IdentifierKind.SERIAL,
        IdentifierKind.FQDN,
        IdentifierKind.MAC,
        IdentifierKind.CLOUD_ID,
        IdentifierKind.K8S_UID,
        IdentifierKind.PURL,
        IdentifierKind.ASSET_TAG,
        IdentifierKind.KEY,
    }
)

MAX_VALUE_CHARS = 1024
_MAC = re.compile(r"^[0-9a-f]{2}([:-]?[0-9a-f]{2}){5}$")


def normalise(kind: IdentifierKind, value: str) -> str:
    """One spelling per identifier, so the same machine seen twice matches itself."""
    v = value.strip()
    if not v:
        raise InvalidInput("an identifier value cannot be empty", where=kind.value)
    if len(v) > MAX_VALUE_CHARS:
        raise InvalidInput(
            f"identifier values are at most {MAX_VALUE_CHARS} characters", where=kind.value
        )
    if kind in (IdentifierKind.FQDN, IdentifierKind.HOSTNAME):
        # A name of dots only is no name: refused here, or the stored value would be empty.
        name = v.lower().rstrip(".")
        if not name:
            raise InvalidInput(f"{value!r} is not a host name", where=kind.value)
        return name
    if kind is IdentifierKind.MAC:
        low = v.lower()
        if not _MAC.match(low):
            raise InvalidInput(f"{value!r} is not a MAC address", where="mac")
        hexes = re.sub(r"[:-]", "", low)
        return ":".join(hexes[i : i + 2] for i in range(0, 12, 2))
    if kind is IdentifierKind.IP:
        import ipaddress

        try:
            return str(ipaddress.ip_address(v))
        except ValueError as exc:
            raise InvalidInput(f"{value!r} is not an IP address", where="ip") from exc
    return v


class Identifier(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: IdentifierKind
    value: str

    @model_validator(mode="after")
    def _normalise(self) -> Identifier:
        try:
            object.__setattr__(self, "value", normalise(self.kind, self.value))
        except InvalidInput as exc:
            # pydantic reports ValueErrors with the field's location; keep that path.
            raise ValueError(exc.message) from exc
        return self

    @property
    def unique(self) -> bool:
        return self.kind in UNIQUE_KINDS

    def __str__(self) -> str:
        return f"{self.kind.value}={self.value}"

    @classmethod
    def parse(cls, text: str) -> Identifier:
        """Read ``hostname=web-01`` as typed on a command line."""
        kind, sep, value = text.partition("=")
        if not sep:
            raise InvalidInput(f"expected KIND=VALUE, got {text!r}", where="identifier")
        try:
            parsed = IdentifierKind(kind.strip().lower())
        except ValueError as exc:
            known = ", ".join(k.value for k in IdentifierKind)
            raise InvalidInput(
                f"unknown identifier kind {kind!r}; known: {known}", where="identifier"
            ) from exc
        # The value is checked apart from the kind, so "mac=zz" says what is wrong with zz.
        return cls(kind=parsed, value=normalise(parsed, value))

    @field_validator("value")
    @classmethod
    def _not_too_long(cls, v: str) -> str:
        if len(v) > MAX_VALUE_CHARS:
            raise ValueError(f"identifier values are at most {MAX_VALUE_CHARS} characters")
        return v


def natural_key(ci_class: str, name: str) -> Identifier:
    """``key=<class>:<name>`` lowercased: what identifies a CI that has no better identifier.

    The sample estate, ``cmdb ci add``, REST and GraphQL all give a CI made by hand this
    key, so creating the same CI twice, by any of them, changes nothing.
    """
    return Identifier(kind=IdentifierKind.KEY, value=f"{ci_class}:{name}".lower())
