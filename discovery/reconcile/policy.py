"""The precedence policy file: which sources own which fields (YAML, read safely).

    owners:
      attributes.os_version: [ansible, nmap]   # Ansible's word over nmap's
      attributes.*: [ansible, terraform]
      owner: [backstage]
    default: [terraform, ansible, nmap]

A key is a CI field, ``attributes.<key>``, or ``attributes.*``; sources are listed highest
authority first. A source that is not listed ranks below every listed one.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from cmdb.domain.changeset import Precedence
from cmdb.domain.errors import InvalidInput
from cmdb.domain.model import CI_FIELDS
from discovery.io import yaml_documents

FIELD_KEYS = frozenset(CI_FIELDS) - {"ci_class", "identifiers", "attributes"}


def check_key(key: str) -> None:
    if key in FIELD_KEYS or (key.startswith("attributes.") and len(key) > len("attributes.")):
        return
    raise InvalidInput(
        f"{key!r} is not a field key; use a CI field ({', '.join(sorted(FIELD_KEYS))}),"
        " attributes.<key> or attributes.*",
        where="owners",
    )


def parse_precedence(data: object, *, where: str) -> Precedence:
    if not isinstance(data, dict):
        raise InvalidInput("a precedence policy is a mapping with owners and default", where=where)
    try:
        policy = Precedence.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(str(err["msg"]), where=f"{where}: {loc}" if loc else where) from exc
    for key in policy.owners:
        try:
            check_key(key)
        except InvalidInput as exc:
            exc.where = f"{where}: owners"
            raise
    return policy


def load_precedence(path: Path) -> Precedence:
    docs = list(yaml_documents(path))
    if len(docs) != 1:
        raise InvalidInput("expected one YAML document", where=str(path))
    return parse_precedence(docs[0][1], where=str(path))
