"""The graph as it was at an instant, rebuilt from history: what both stores share.

A store reads the history rows of the entities asked for (its own query), and this module
folds them into documents, CIs, relationships and an index of the past graph. As-of
questions are rare and need every edge's past, so the past graph is walked in memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from cmdb.domain.model import CI, Relationship
from cmdb.store.planner import ci_from_fields, rel_from_fields, replay_fields
from cmdb.store.timefmt import from_text

if TYPE_CHECKING:
    # numpy costs ~0.1 s to import: only a traversal needs the index.
    from cmdb.store.index import GraphIndex

# An entity's field values as of the instant, its creation and its last change.
Replayed = dict[str, tuple[dict[str, Any], datetime, datetime]]

# (entity id, op, field, after as JSON text or None, at as text), in history order.
HistoryRow = tuple[str, str, str, str | None, str]


def replay(rows: Iterable[HistoryRow]) -> Replayed:
    """Fold history rows, oldest first, into each entity's values as of their last row.

    An entity whose creation is not among the rows (created after the instant) is left out.
    """
    grouped: dict[str, list[tuple[str, str, Any]]] = defaultdict(list)
    times: dict[str, tuple[str, str]] = {}
    for eid, op, name, after, at in rows:
        grouped[eid].append((op, name, None if after is None else orjson.loads(after)))
        times[eid] = (times.get(eid, (at, at))[0], at)
    out: Replayed = {}
    for eid, entries in grouped.items():
        values = replay_fields(entries)
        if values is not None:
            out[eid] = (values, from_text(times[eid][0]), from_text(times[eid][1]))
    return out


def cis_of(replayed: Replayed) -> dict[str, CI]:
    return {eid: ci_from_fields(eid, v, c, u) for eid, (v, c, u) in replayed.items()}


def rels_of(replayed: Replayed) -> dict[str, Relationship]:
    return {eid: rel_from_fields(eid, v, c, u) for eid, (v, c, u) in replayed.items()}


def index_of(rels: Iterable[Relationship]) -> GraphIndex:
    """An index of the given relationships (the graph as it was at some instant)."""
    from cmdb.store.index import GraphIndex

    index = GraphIndex()
    index.bulk_load([(r.source_id, r.target_id, r.type, r.active) for r in rels])
    return index


def active_among(
    past: dict[str, Relationship], node_ids: Sequence[str], types: Iterable[str] | None
) -> dict[str, Relationship]:
    """The past graph's active edges between the given nodes, of the given types (or all).

    Every edge between the nodes, not only those a walk went along: a cycle closed at the
    depth cap, or two roots side by side, belong to the picture too.
    """
    among = set(node_ids)
    wanted = None if types is None else set(types)
    return {
        r.id: r
        for r in past.values()
        if r.active
        and r.source_id in among
        and r.target_id in among
        and (wanted is None or r.type in wanted)
    }
