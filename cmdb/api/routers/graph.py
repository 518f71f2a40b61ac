"""``/subgraph``: what is reachable from some CIs, within depth and node caps (the impact
map draws it)."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Query

from cmdb.api.models import SubgraphOut
from cmdb.api.routers._shared import AsOf, Types, instant, resolve_visible, type_names
from cmdb.app.scope import Visibility
from cmdb.store.contract import Direction, Subgraph
from cmdb.web.deps import Reader, Store, Visible

router = APIRouter(tags=["graph"])

MAX_DEPTH = 20
MAX_NODES = 10_000


@router.get("/subgraph", operation_id="getSubgraph", response_model=SubgraphOut)
def subgraph(
    _: Reader,
    store: Store,
    vis: Visible,
    root: Annotated[
        list[str], Query(min_length=1, description="CI references to start from (repeatable)")
    ],
    direction: Direction = Direction.OUT,
    types: Types = None,
    depth: Annotated[int, Query(ge=0, le=MAX_DEPTH, description="depth cap")] = 6,
    max_nodes: Annotated[int, Query(ge=1, le=MAX_NODES, description="node cap")] = MAX_NODES,
    as_of: AsOf = None,
) -> SubgraphOut:
    """Nodes and the edges between them reached from ``root`` (out: along relationships,
    in: against them, both), and whether a cap cut the walk."""
    roots = list(dict.fromkeys(resolve_visible(store, vis, r, where="root").id for r in root))
    sub = store.subgraph(
        roots,
        direction=direction,
        types=type_names(types),
        max_depth=depth,
        max_nodes=max_nodes,
        as_of=instant(as_of),
    )
    if not vis.unrestricted:
        sub = _within(sub, vis, direction)
    return SubgraphOut.model_validate(
        {
            "roots": sub.roots,
            "nodes": list(sub.nodes.values()),
            "edges": sub.edges,
            "depth_reached": sub.depth_reached,
            "truncated_by_depth": sub.truncated_by_depth,
            "truncated_by_nodes": sub.truncated_by_nodes,
        }
    )


def _within(sub: Subgraph, vis: Visibility, direction: Direction) -> Subgraph:
    """The part a scoped caller may see: visible CIs reached from the roots through
    visible CIs only (a path through a hidden CI would tell that it exists)."""
    edges = [e for e in sub.edges if vis.allows_rel(e)]
    step: dict[str, list[str]] = defaultdict(list)
    for e in edges:
        if direction in (Direction.OUT, Direction.BOTH):
            step[e.source_id].append(e.target_id)
        if direction in (Direction.IN, Direction.BOTH):
            step[e.target_id].append(e.source_id)
    reached = set(sub.roots)
    frontier = list(sub.roots)
    while frontier:
        frontier = [n for c in frontier for n in step[c] if n not in reached]
        reached.update(frontier)
    nodes = {k: v for k, v in sub.nodes.items() if k in reached}
    kept = [e for e in edges if e.source_id in reached and e.target_id in reached]
    return sub.model_copy(update={"nodes": nodes, "edges": kept})
