"""Turns the shipped sample estate (``estate.json``) into one change set.

Each CI in the file has a short ``ref`` used only inside the file; the CMDB identifies it
by ``key=<class>:<name>`` (lowercased), the same natural key ``cmdb ci add`` gives a CI
created by hand, so loading twice, or adding a sample CI by hand, changes nothing.
"""

from __future__ import annotations

import uuid
from importlib import resources
from typing import Any

import orjson
from pydantic import ValidationError

from cmdb.domain.changeset import ApplyResult, ChangeSet, CIRef, CIUpsert, RelUpsert
from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import Identifier, natural_key
from cmdb.sample.history import load_history
from cmdb.sample.planted import plant
from cmdb.store.contract import GraphStore

SOURCE = "sample"
FILE = "estate.json"


def read_estate() -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads((resources.files("cmdb.sample") / FILE).read_bytes())
    return doc


def _err(where: str, exc: ValidationError) -> InvalidInput:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["loc"]:
        msg = msg.removeprefix(f"{err['loc'][-1]}: ")
    return InvalidInput(msg, where=f"{FILE}: {where}.{loc}" if loc else f"{FILE}: {where}")


def build_changeset(doc: dict[str, Any], *, actor: str, request_id: str | None = None) -> ChangeSet:
    """One change set with every CI and relationship of ``doc``."""
    keys: dict[str, Identifier] = {}
    upserts: list[CIUpsert] = []
    for idx, raw in enumerate(doc.get("cis", [])):
        fields = dict(raw)
        ref = fields.pop("ref", None)
        if not isinstance(ref, str) or ref in keys:
            raise InvalidInput("each CI needs a unique string 'ref'", where=f"{FILE}: cis[{idx}]")
        try:
            key = natural_key(str(fields.get("class")), str(fields.get("name")))
            fields["identifiers"] = [*fields.get("identifiers", []), key.model_dump()]
            upserts.append(CIUpsert.model_validate(fields))
        except ValidationError as exc:
            raise _err(f"cis[{idx}]", exc) from exc
        keys[ref] = key
    rels: list[RelUpsert] = []
    for idx, triple in enumerate(doc.get("relationships", [])):
        where = f"{FILE}: relationships[{idx}]"
        if not (isinstance(triple, list) and len(triple) == 3):
            raise InvalidInput("expected [source ref, TYPE, target ref]", where=where)
        source, type_name, target = triple
        for end in (source, target):
            if end not in keys:
                raise InvalidInput(f"no CI with ref {end!r}", where=where)
        rels.append(
            RelUpsert(
                type=type_name,
                source=CIRef(identifier=keys[source]),
                target=CIRef(identifier=keys[target]),
            )
        )
    return ChangeSet(
        actor=actor,
        source=SOURCE,
        request_id=request_id or str(uuid.uuid4()),
        ci_upserts=upserts,
        rel_upserts=rels,
    )


def load_sample(
    store: GraphStore,
    *,
    actor: str,
    request_id: str | None = None,
    history: bool = False,
    planted: bool = False,
) -> ApplyResult:
    """Apply the sample estate to ``store`` in one atomic change set; with ``planted`` its
    planted scenario (:mod:`cmdb.sample.planted`), and with ``history`` its year of
    incidents and changes (:mod:`cmdb.sample.history`) and the planted scenario, the
    history's present: the demo ``cmdb sample load`` gives. Returns the estate's result."""
    result = store.apply(build_changeset(read_estate(), actor=actor, request_id=request_id))
    if planted or history:
        plant(store, actor=actor)
    if history:
        load_history(store, actor=actor)
    return result
