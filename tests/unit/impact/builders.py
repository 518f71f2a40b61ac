"""Hand-built subgraphs for the pure engine tests: a topology reads as its picture.

``topo("a:Server b:VirtualMachine", "b HOSTED_ON a")`` makes CIs ``a`` and ``b`` (ids are
the names) and the edge. A CI spec ``name:Class`` may carry keyword fields through
``extra={"name": {...}}`` (redundancy, status, attributes, service, criticality...).
"""

from __future__ import annotations

from typing import Any

from cmdb.domain.model import CI, Relationship, relationship_id
from cmdb.store.contract import Subgraph
from impact.graph import ImpactGraph, build_impact_graph


def ci(name: str, ci_class: str, **fields: Any) -> CI:
    return CI.model_validate({"id": name, "class": ci_class, "name": name, **fields})


def rel(source: str, type_name: str, target: str, **fields: Any) -> Relationship:
    return Relationship(
        id=relationship_id(type_name, source, target),
        type=type_name,
        source_id=source,
        target_id=target,
        **fields,
    )


def subgraph(
    cis: str | list[CI],
    rels: str | list[Relationship] = "",
    *,
    extra: dict[str, dict[str, Any]] | None = None,
    roots: list[str] | None = None,
    **flags: Any,
) -> Subgraph:
    extra = extra or {}
    if isinstance(cis, str):
        nodes = []
        for spec in cis.split():
            name, cls = spec.split(":")
            nodes.append(ci(name, cls, **extra.get(name, {})))
    else:
        nodes = cis
    if isinstance(rels, str):
        edges = [
            rel(*line.split()) for line in rels.replace(",", "\n").splitlines() if line.strip()
        ]
    else:
        edges = rels
    by_id = {c.id: c for c in nodes}
    return Subgraph(
        roots=roots or [nodes[0].id],
        nodes=by_id,
        edges=edges,
        depth_reached=flags.pop("depth_reached", 1),
        **flags,
    )


def topo(
    cis: str | list[CI],
    rels: str | list[Relationship] = "",
    *,
    extra: dict[str, dict[str, Any]] | None = None,
    **kw: Any,
) -> ImpactGraph:
    replica_groups = kw.pop("replica_groups", True)
    return build_impact_graph(subgraph(cis, rels, extra=extra, **kw), replica_groups=replica_groups)
