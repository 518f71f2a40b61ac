"""A stable digest of what a record says, so a re-run can tell unchanged records apart.

The digest covers the record's class, name, identifiers, fields, attributes, unresolved
flag and its outgoing relationships (by the other end's adapter key); not ``where``,
which names a file and a line that move when nothing about the CI did.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import orjson

from discovery.records import DiscoveredCI, DiscoveredRel

_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _dumps(value: object) -> bytes:
    return orjson.dumps(value, option=_OPTS, default=str)


def record_digest(ci: DiscoveredCI, rels: Iterable[DiscoveredRel]) -> str:
    edges = sorted(_dumps([r.type, r.target, r.confidence, r.attributes]).decode() for r in rels)
    body = {
        "class": ci.ci_class,
        "name": ci.name,
        "identifiers": sorted(str(i) for i in ci.identifiers),
        "fields": ci.fields,
        "attributes": ci.attributes,
        "unresolved": ci.unresolved,
        "rels": edges,
    }
    return hashlib.blake2b(_dumps(body), digest_size=16).hexdigest()


def combined(digests: Iterable[str]) -> str:
    """Several records that are one CI: the CI is unchanged only if none of them changed."""
    ordered = sorted(digests)
    if len(ordered) == 1:
        return ordered[0]
    return hashlib.blake2b("|".join(ordered).encode(), digest_size=16).hexdigest()
