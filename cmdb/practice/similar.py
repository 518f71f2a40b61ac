"""Similar past problems for a CI: where a service desk or problem manager starts looking
for a root cause.

Every recorded problem is scored against the CI from evidence a person can check, and each
piece of evidence is a reason in the answer:

- the CI itself was at fault, or an incident of the problem hit it;
- a CI at fault is the same kind of thing: same class and version, or the same package
  (purl without its version);
- a CI at fault is near it in the graph (one or two relationships away, along types a
  failure travels: sharing an owning team is no evidence), with the path;
- the problem's title, symptoms and root cause share words with what the caller describes.

The graph evidence comes from one ``subgraph`` call around the CI; the rest is read from
the problem records (one ``list_problems`` call), the CI's incidents and the CIs at fault.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable

from pydantic import BaseModel, Field

from cmdb.domain.errors import NotFound
from cmdb.domain.identifiers import IdentifierKind
from cmdb.domain.model import CI, Relationship
from cmdb.domain.records import Problem
from cmdb.domain.relationships import REGISTRY, ImpactFlow
from cmdb.store.contract import Direction, GraphStore

# Evidence weights: the same CI outweighs anything circumstantial; class alone is too weak
# to list a problem by itself (MIN_SCORE keeps it out unless something else agrees).
SAME_CI = 1.0
INCIDENT_ON_CI = 0.6
SAME_VERSION = 0.5
SAME_PACKAGE = 0.4
SAME_CLASS = 0.1
NEAR = {1: 0.4, 2: 0.2}
WORDS = 0.5  # times the share of the caller's words found
MIN_SCORE = 0.3
NEIGHBOURHOOD = 2
MAX_NODES = 2000

# Nearness counts along relationships a failure travels; ownership (OWNED_BY,
# MEMBER_OF_TEAM) would make every CI a team looks after "near" every other.
NEAR_TYPES = tuple(t.name for t in REGISTRY.values() if t.impact is not ImpactFlow.NONE)

_WORD = re.compile(r"[a-z0-9][a-z0-9_.:/-]{2,}")
_STOP = frozenset({"the", "and", "for", "with", "not", "from", "after", "when", "on", "is"})


class Similar(BaseModel):
    problem: Problem
    score: float
    reasons: list[str] = Field(description="the evidence, strongest first")
    known_error: bool = Field(description="its root cause or a workaround is known")


def words(text: str) -> set[str]:
    return {w.strip(".:/-") for w in _WORD.findall(text.lower())} - _STOP


def _package(ci: CI) -> set[str]:
    """Package URLs without version: ``pkg:npm/lodash@4.17.21`` -> ``pkg:npm/lodash``."""
    return {
        i.value.split("@", 1)[0].split("?", 1)[0]
        for i in ci.identifiers
        if i.kind is IdentifierKind.PURL
    }


def _paths(root: str, edges: Iterable[Relationship], depth: int) -> dict[str, list[Relationship]]:
    """Shortest path (edges in order) from ``root`` to each CI within ``depth``, any way."""
    adj: dict[str, list[tuple[str, Relationship]]] = {}
    for e in edges:
        adj.setdefault(e.source_id, []).append((e.target_id, e))
        adj.setdefault(e.target_id, []).append((e.source_id, e))
    out: dict[str, list[Relationship]] = {root: []}
    todo = deque([root])
    while todo:
        here = todo.popleft()
        if len(out[here]) >= depth:
            continue
        for there, e in sorted(adj.get(here, []), key=lambda x: x[1].id):
            if there not in out:
                out[there] = [*out[here], e]
                todo.append(there)
    return out


def _path_text(path: list[Relationship], names: dict[str, str]) -> str:
    return ", ".join(
        f"{names.get(e.source_id, e.source_id)} {e.type} {names.get(e.target_id, e.target_id)}"
        for e in path
    )


def similar_problems(
    store: GraphStore, ci_id: str, *, text: str = "", limit: int = 10
) -> list[Similar]:
    """Problems like one on ``ci_id``, best first; ``text`` (symptoms, an error message)
    adds word evidence."""
    ci = store.get_ci(ci_id)
    graph = store.subgraph(
        [ci.id],
        direction=Direction.BOTH,
        types=NEAR_TYPES,
        max_depth=NEIGHBOURHOOD,
        max_nodes=MAX_NODES,
    )
    paths = _paths(ci.id, graph.edges, NEIGHBOURHOOD)
    names = {i: c.name for i, c in graph.nodes.items()}
    asked = words(text)
    packages = _package(ci)
    fault_cache: dict[str, CI | None] = dict(graph.nodes)
    hit_by = {i.id for i in store.list_incidents(ci_id=ci.id)}
    out: list[Similar] = []
    for problem in store.list_problems():
        scored: list[tuple[float, str]] = []
        if ci.id in problem.ci_ids:
            scored.append((SAME_CI, f"{ci.name} was at fault"))
        else:
            scored += _kin(store, ci, problem, packages, paths, names, fault_cache)
        hits = sorted(hit_by.intersection(problem.incident_ids))
        if hits:
            scored.append((INCIDENT_ON_CI, f"its incident {hits[0]} hit {ci.name}"))
        if asked:
            theirs = words(" ".join([problem.title, *problem.symptoms, problem.root_cause]))
            shared = sorted(asked & theirs)
            if shared:
                share = len(shared) / len(asked)
                scored.append((WORDS * share, f"shares words: {', '.join(shared)}"))
        score = sum(s for s, _ in scored)
        if score >= MIN_SCORE:
            scored.sort(key=lambda x: -x[0])
            out.append(
                Similar(
                    problem=problem,
                    score=round(score, 3),
                    reasons=[r for _, r in scored],
                    known_error=problem.known,
                )
            )
    out.sort(key=lambda s: (-s.score, s.problem.id))
    return out[:limit]


def _kin(
    store: GraphStore,
    ci: CI,
    problem: Problem,
    packages: set[str],
    paths: dict[str, list[Relationship]],
    names: dict[str, str],
    cache: dict[str, CI | None],
) -> list[tuple[float, str]]:
    """The strongest kinship and the nearest graph link between ``ci`` and any of the
    problem's CIs at fault."""
    kin: tuple[float, str] | None = None
    near: tuple[float, str] | None = None
    for fid in problem.ci_ids:
        fault = _fault_ci(store, fid, cache)
        if fault is None:
            continue
        found: tuple[float, str] | None = None
        if fault.ci_class == ci.ci_class and ci.version and fault.version == ci.version:
            found = (SAME_VERSION, f"{fault.name} at fault: also {ci.ci_class} {ci.version}")
        elif packages & _package(fault):
            pkg = min(packages & _package(fault))
            found = (SAME_PACKAGE, f"{fault.name} at fault: same package {pkg}")
        elif fault.ci_class == ci.ci_class:
            article = "an" if ci.ci_class[:1].lower() in "aeiou" else "a"
            found = (SAME_CLASS, f"{fault.name} at fault: also {article} {ci.ci_class}")
        if found and (kin is None or found[0] > kin[0]):
            kin = found
        path = paths.get(fid)
        if path:
            weight = NEAR[len(path)]
            if near is None or weight > near[0]:
                near = (weight, f"{fault.name} at fault is near: {_path_text(path, names)}")
    return [x for x in (kin, near) if x is not None]


def _fault_ci(store: GraphStore, ci_id: str, cache: dict[str, CI | None]) -> CI | None:
    if ci_id not in cache:
        try:
            cache[ci_id] = store.get_ci(ci_id)
        except NotFound:  # stores refuse links to missing CIs; an old snapshot may not
            cache[ci_id] = None
    return cache[ci_id]
