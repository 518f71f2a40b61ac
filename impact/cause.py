"""Common cause: which upstream CI best explains several affected CIs or services at once.

Every CI from which an impact path leads to an affected item *explains* it (plain
reachability in the impact direction; an affected item explains itself). Candidates are
ranked by

    score = explained + 0.9 * recency

where ``explained`` counts the affected items the candidate reaches and ``recency`` is
``1 - age / lookback`` of its most recent change inside the lookback (0 without one): a
change record touching it, or any change in its history. So a recent change favours a
candidate over others explaining as many, but never over one that explains more. Ties go
to the candidate closer to what it explains (smaller mean path length: the most specific
explanation), then by name. Each candidate carries the evidence and, per explained item,
the shortest impact path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
from pydantic import BaseModel

from impact._arrays import IntArray, bfs
from impact.explain import ImpactPath, path_of
from impact.graph import ImpactGraph

RECENCY_WEIGHT = 0.9


class Evidence(BaseModel):
    """Something that changed a CI: a change record or a history entry."""

    ci_id: str
    at: datetime
    what: str


class CauseCandidate(BaseModel):
    id: str
    name: str
    ci_class: str
    score: float
    explained: int
    explains: list[str]  # names of the affected items it reaches
    recency: float
    mean_distance: float
    changes: list[Evidence]
    paths: list[ImpactPath]


class CauseResult(BaseModel):
    affected: list[str]
    unknown: list[str]  # affected items not in the graph
    lookback_minutes: float
    candidates: list[CauseCandidate]


def recency(evidence: Sequence[Evidence], now: datetime, lookback: timedelta) -> float:
    best = 0.0
    span = lookback.total_seconds()
    for ev in evidence:
        age = (now - ev.at).total_seconds()
        if 0 <= age <= span and span > 0:
            best = max(best, 1.0 - age / span)
    return best


def rank_causes(
    graph: ImpactGraph,
    affected: Sequence[str],
    *,
    evidence: Sequence[Evidence] = (),
    now: datetime,
    lookback: timedelta = timedelta(hours=24),
    top: int = 10,
) -> CauseResult:
    items = [i for a in dict.fromkeys(affected) if (i := graph.index(a)) is not None]
    unknown = [a for a in dict.fromkeys(affected) if graph.index(a) is None]
    searches: list[tuple[int, IntArray, IntArray]] = []
    count = np.zeros(graph.n, dtype=np.int64)
    dist_sum = np.zeros(graph.n, dtype=np.int64)
    for a in items:
        # Walk against the impact edges: everything that can reach ``a``.
        dist, parent = bfs(graph.inc, np.array([a], dtype=np.int64), graph.n)
        searches.append((a, dist, parent))
        hit = dist >= 0
        count += hit
        dist_sum += np.where(hit, dist, 0)
    by_ci: dict[str, list[Evidence]] = {}
    for ev in evidence:
        by_ci.setdefault(ev.ci_id, []).append(ev)
    rows: list[tuple[float, float, str, int, float]] = []
    for v in np.flatnonzero(count > 0).tolist():
        r = recency(by_ci.get(graph.ids[v], []), now, lookback)
        mean = float(dist_sum[v]) / float(count[v])
        rows.append((int(count[v]) + RECENCY_WEIGHT * r, mean, graph.name(v), v, r))
    rows.sort(key=lambda row: (-row[0], row[1], row[2], graph.ids[row[3]]))
    out: list[CauseCandidate] = []
    for score, mean, _name, v, r in rows[:top]:
        paths: list[ImpactPath] = []
        explains: list[str] = []
        for a, dist, parent in searches:
            if dist[v] < 0:
                continue
            explains.append(graph.name(a))
            nodes, edges = [v], []
            while nodes[-1] != a:
                e = int(parent[nodes[-1]])
                edges.append(e)
                nodes.append(int(graph.dst[e]))
            if edges:
                paths.append(path_of(graph, nodes, edges))
        changes = sorted(by_ci.get(graph.ids[v], []), key=lambda ev: ev.at, reverse=True)
        out.append(
            CauseCandidate(
                id=graph.ids[v],
                name=graph.name(v),
                ci_class=graph.cis[v].ci_class,
                score=round(score, 3),
                explained=len(explains),
                explains=explains,
                recency=round(r, 3),
                mean_distance=round(mean, 2),
                changes=[
                    ev
                    for ev in changes
                    if 0 <= (now - ev.at).total_seconds() <= lookback.total_seconds()
                ],
                paths=paths,
            )
        )
    return CauseResult(
        affected=[graph.ids[i] for i in items],
        unknown=unknown,
        lookback_minutes=lookback.total_seconds() / 60.0,
        candidates=out,
    )
