"""Cypher text, built only from the declared registries (class labels, relationship types).

Nothing a user types ever reaches a label or a relationship type: those come from
``cmdb.domain.classes`` and ``cmdb.domain.relationships``; values always travel as
parameters.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from cmdb.domain.classes import ROOT, lineage, search_ranks
from cmdb.domain.relationships import REGISTRY
from cmdb.store import search

REL_TYPES: tuple[str, ...] = tuple(REGISTRY)
# A retired relationship keeps its properties under this fixed type, so traversals follow
# active edges by type alone, without reading a status property on every hop.
RETIRED = "RETIRED_REL"
ALL_TYPES: tuple[str, ...] = (*REL_TYPES, RETIRED)


@cache
def labels_for(ci_class: str) -> str:
    """``Pod`` -> ``CI:Compute:Container:Pod``: the hierarchy as labels."""
    chain = [c for c in reversed(lineage(ci_class)) if c != ROOT]
    return ":".join(["CI", *chain])


def type_union(types: tuple[str, ...] | None) -> str:
    chosen = REL_TYPES if types is None else types
    for t in chosen:
        if t not in ALL_TYPES:  # a guard: only registry names ever enter the text
            raise ValueError(f"unknown relationship type {t}")
    return "|".join(chosen)


META = """
MERGE (m:CmdbMeta {name: 'cmdb'})
ON CREATE SET m.seq = 0, m.gen = 0, m.last_at = ''
SET m.gen = m.gen + 1
RETURN m.seq AS seq, m.gen AS gen, m.last_at AS last_at
"""

SET_META = "MATCH (m:CmdbMeta {name: 'cmdb'}) SET m.seq = $seq, m.last_at = $last_at"

# Rows a query sends back at once: the driver spends ~10-30 us of Python on each record it
# receives, more than decoding a small row, so big answers travel as lists of rows.
CHUNK = 1000


def chunked(match: str, item: str, *, by: str | None = None) -> str:
    """``match``, answered as records holding ``rows``: lists of up to CHUNK ``item`` values.

    ``collect`` keeps the order ``match`` gives (``... ORDER BY c.id LIMIT $n``). With ``by``
    (a node variable) only node references are collected and ``item`` is read from each
    node as its record is sent: for big values (documents) over many rows.
    """
    if by is None:
        return (
            f"{match} WITH collect({item}) AS xs "
            f"UNWIND range(0, size(xs) - 1, {CHUNK}) AS i RETURN xs[i..i + {CHUNK}] AS rows"
        )
    return (
        f"{match} WITH collect({by}) AS xs "
        f"UNWIND range(0, size(xs) - 1, {CHUNK}) AS i "
        f"RETURN [{by} IN xs[i..i + {CHUNK}] | {item}] AS rows"
    )


LOAD_CIS = "MATCH (c:CI) WHERE c.id IN $ids RETURN c.doc AS doc"
LOAD_CI_ID_DOCS = chunked("MATCH (c:CI) WHERE c.id IN $ids", "[c.id, c.doc]", by="c")
LOAD_CI_DOCS = chunked("MATCH (c:CI) WHERE c.id IN $ids", "c.doc", by="c")
# Every CI, a page at a time in id order (iter_documents): [id, doc] pairs.
ALL_CI_DOCS = chunked(
    "MATCH (c:CI) WHERE c.id > $after WITH c ORDER BY c.id LIMIT $limit", "[c.id, c.doc]", by="c"
)
LOAD_CI_HEADS = chunked("MATCH (c:CI) WHERE c.id IN $ids", "[c.id, c.class, c.status]")

# Unique identifiers live either as a CI's primary key (the first it was created with,
# kept on the node so a plain ingest creates one node per CI) or as Ident nodes.
# Each key's CI with its class and status: a relationship batch names its ends by
# identifier, and the planner then needs only these of each end (see load_heads).
LOAD_IDENTS = chunked(
    """
UNWIND $keys AS k
OPTIONAL MATCH (c:CI {pkey: k})
OPTIONAL MATCH (:Ident {key: k, unique: true})-[:IDENTIFIES]->(c2:CI)
WITH k, coalesce(c, c2) AS c
WHERE c IS NOT NULL""",
    "[k, c.id, c.class, c.status]",
)

FIND_BY_IDENT = """
CALL (){
  MATCH (c:CI {pkey: $key}) RETURN c
  UNION
  MATCH (:Ident {key: $key})-[:IDENTIFIES]->(c:CI) RETURN c
}
RETURN c.doc AS doc ORDER BY c.id
"""

UPDATE_CIS = "UNWIND $rows AS row MATCH (c:CI {id: row.id}) SET c += row"

ADD_IDENTS = """
UNWIND $rows AS row
MATCH (c:CI {id: row.ci})
MERGE (i:Ident {key: row.key})
ON CREATE SET i.kind = row.kind, i.value = row.value, i.unique = row.unique
MERGE (i)-[:IDENTIFIES]->(c)
"""

# What a restore would duplicate: CI ids, relationship ids, history sequence numbers.
RESTORE_CLASH = f"""
CALL () {{
  MATCH (c:CI) WHERE c.id IN $cis RETURN c.id AS what
  UNION ALL
  MATCH ()-[r:{"|".join(ALL_TYPES)}]->() WHERE r.id IN $rels RETURN r.id AS what
  UNION ALL
  MATCH (c:CI) WHERE c.h_seq IN $seqs RETURN 'history row ' + c.h_seq AS what
  UNION ALL
  MATCH ()-[r:{"|".join(ALL_TYPES)}]->() WHERE r.h_seq IN $seqs
  RETURN 'history row ' + r.h_seq AS what
  UNION ALL
  MATCH (h:History) WHERE h.seq IN $seqs RETURN 'history row ' + h.seq AS what
}}
RETURN count(what) AS n, head(collect(what)) AS first
"""

CREATE_HISTORY = "UNWIND $rows AS row CREATE (h:History) SET h = row"


def create_cis(ci_class: str) -> str:
    return f"UNWIND $rows AS row CREATE (c:{labels_for(ci_class)}) SET c = row"


@cache
def list_rels(types: tuple[str, ...]) -> str:
    """One page of relationships in id order, after ``$after`` ('' for the first).

    One branch per stored type, each reading its range index on ``id`` in order and
    stopping at ``$limit``: a page costs about ``$limit`` rows per type. Over the union of
    the types (``[r:A|B|...]``) no index gives that order, and every page read and sorted
    every relationship after the cursor (listing all of them was quadratic)."""
    branches = " UNION ALL ".join(
        f"MATCH ()-[r:{type_union((t,))}]->() WHERE r.id > $after"
        " AND ($type IS NULL OR r.type = $type) RETURN r ORDER BY r.id LIMIT $limit"
        for t in types
    )
    return (
        f"CALL () {{ {branches} }} WITH r ORDER BY r.id LIMIT $limit"
        " RETURN r.id AS id, r.doc AS doc"
    )


def stored_type(rel_type: str, active: bool) -> str:
    return type_union((rel_type if active else RETIRED,))


def create_rels(rel_type: str, active: bool) -> str:
    return (
        "UNWIND $rows AS row MATCH (s:CI {id: row.s}) MATCH (t:CI {id: row.t}) "
        f"CREATE (s)-[r:{stored_type(rel_type, active)}]->(t) SET r = row.props"
    )


def update_rels(rel_type: str, active: bool) -> str:
    return (
        "UNWIND $rows AS row MATCH (s:CI {id: row.s}) "
        f"MATCH (s)-[r:{stored_type(rel_type, active)} {{id: row.id}}]->(:CI {{id: row.t}}) "
        "SET r += row.props"
    )


def move_rels(rel_type: str, active: bool) -> str:
    """Retire (active=False) or reactivate an edge: same properties, other stored type."""
    old, new = stored_type(rel_type, not active), stored_type(rel_type, active)
    return (
        "UNWIND $rows AS row MATCH (s:CI {id: row.s}) "
        f"MATCH (s)-[old:{old} {{id: row.id}}]->(t:CI {{id: row.t}}) "
        f"CREATE (s)-[r:{new}]->(t) SET r = properties(old), r += row.props "
        "DELETE old"
    )


# Active edges only: retired ones are stored under RETIRED_REL, outside the union.
ACTIVE_RELS_TOUCHING = (
    f"UNWIND $ids AS id MATCH (:CI {{id: id}})-[r:{type_union(None)}]-() "
    "RETURN DISTINCT r.doc AS doc"
)


# The stored relationships among ``$ids`` that leave the CIs in ``$from``: a batch's
# relationship ids are digests of (type, source, target), so every one that exists leaves
# a CI the batch read (a new CI has no stored edges). Following those CIs' edges is ~3x
# cheaper than one id-index seek per id in each of the 12 relationship types' indexes.
LOAD_RELS_FROM = chunked(
    f"UNWIND $from AS sid MATCH (:CI {{id: sid}})-[r:{'|'.join(ALL_TYPES)}]->() WHERE r.id IN $ids",
    "r.doc",
    by="r",
)


def rows_of(query: str, columns: str) -> str:
    """Any query's answer, as records of ``rows`` (lists of ``[columns]`` values)."""
    return chunked(f"CALL () {{ {query} }}", f"[{columns}]")


@cache
def load_rels() -> str:
    branches = [f"MATCH ()-[r:{t}]->() WHERE r.id IN $ids RETURN r.doc AS doc" for t in ALL_TYPES]
    return "CALL (){ " + " UNION ALL ".join(branches) + " } RETURN doc"


RECORD_LABELS = ("Change", "Incident", "Problem")


def record_upsert(label: str) -> str:
    assert label in RECORD_LABELS
    # An incident's live_until (cmdb.store.recent), under its index (migration 0011).
    live = ", x.live_until = row.live_until" if label == "Incident" else ""
    return f"""
UNWIND $rows AS row
MERGE (x:{label} {{id: row.id}})
SET x.doc = row.doc, x.state = row.state{live}
WITH x, row
OPTIONAL MATCH (x)-[old:CONCERNS]->()
DELETE old
WITH DISTINCT x, row
UNWIND row.cis AS ci_id
MATCH (c:CI {{id: ci_id}})
MERGE (x)-[:CONCERNS]->(c)
"""


# An edge as [far end's id, type, document]: the caller keeps the edges between two CIs
# of its answer, and decodes only those (null when the OPTIONAL MATCH found none, which
# collect() drops).
_EDGE = "CASE WHEN e IS NULL THEN null ELSE [m.id, type(e), e.doc] END"


def subgraph(direction: str, types: tuple[str, ...] | None, depth: int) -> str:
    """Reachable CIs with their BFS depth and their next-step edges: one round trip.

    ``ANY SHORTEST`` over a quantified path visits each reachable node once per root
    (a breadth-first search), so diamonds do not multiply paths the way ``[*..n]`` would.
    The quantifier is always bounded by the caller's depth cap. Each node comes back with
    the edges it would be left by on the next step (see ``_EDGE``), which tells the caller
    whether the depth cap cut anything off without walking one level further.
    """
    rel = f"[:{type_union(types)}]"
    step = {"out": f"-{rel}->", "in": f"<-{rel}-", "both": f"-{rel}-"}[direction]
    edge = f"[e:{type_union(types)}]"
    estep = {"out": f"-{edge}->", "in": f"<-{edge}-", "both": f"-{edge}-"}[direction]
    if depth == 0:  # a quantifier may not be {0,0}: the roots are the whole answer
        reach = "MATCH (n:CI) WHERE n.id IN $roots WITH n, 0 AS d"
    else:
        reach = (
            "MATCH (root:CI) WHERE root.id IN $roots\n"
            f"MATCH p = ANY SHORTEST (root)(() {step} ()){{0,{depth}}}(n:CI)\n"
            "WITH n, min(length(p)) AS d"
        )
    return f"""
{reach}
ORDER BY d
LIMIT $limit
OPTIONAL MATCH (n){estep}(m:CI)
RETURN n.doc AS doc, d, collect({_EDGE}) AS edges
"""


# Every CI holding each identifier key: as a primary key or through an Ident node.
FIND_BY_IDENTS = chunked(
    """
UNWIND $keys AS k
CALL (k) {
  MATCH (c:CI {pkey: k}) RETURN c
  UNION
  MATCH (:Ident {key: k})-[:IDENTIFIES]->(c:CI) RETURN c
}""",
    "[k, c.id, c.doc]",
)

UPSERT_RUNS = """
UNWIND $rows AS row
MERGE (x:DiscoveryRun {id: row.id})
SET x.doc = row.doc, x.source = row.source, x.scope = row.scope, x.started = row.started,
    x.status = row.status
"""

LIST_RUNS = """
MATCH (x:DiscoveryRun)
WHERE ($source IS NULL OR x.source = $source) AND ($scope IS NULL OR x.scope = $scope)
RETURN x.doc AS doc ORDER BY x.started DESC, x.id DESC LIMIT $limit
"""

LIST_SIGHTED = chunked("MATCH (c:CI) WHERE $source IN c.sources", "[c.id, c.class, c.doc]", by="c")

# A CI whose only change is a sighting: its document rewritten, nothing else.
PATCH_DOCS = """
UNWIND $rows AS row
MATCH (c:CI {id: row.id})
SET c.doc = row.doc, c.sources = row.sources, c.gen = row.gen
"""


def _steps(along: tuple[str, ...], against: tuple[str, ...], node: str) -> str:
    """One breadth-first step from every CI in list ``node``, each type its own way."""
    src = f"UNWIND {node} AS f"
    parts = []
    if along:
        parts.append(f"{src} MATCH (f)-[:{type_union(along)}]->(n:CI) RETURN n")
    if against:
        parts.append(f"{src} MATCH (f)<-[:{type_union(against)}]-(n:CI) RETURN n")
    return " UNION ".join(parts)


@cache
def walk(
    along: tuple[str, ...],
    against: tuple[str, ...],
    depth: int,
    leaf_along: tuple[str, ...] = (),
    leaf_against: tuple[str, ...] = (),
    *,
    brief: bool = False,
) -> str:
    """A per-type walk (``GraphStore.subgraph(walk=...)``) in one round trip.

    Breadth-first, unrolled to ``depth`` levels: each level expands the frontier along the
    ``along`` types and against the ``against`` types and keeps the CIs not seen before, so
    every CI is expanded once (a quantified path pattern with a per-step direction test
    plans as a path enumeration, far slower). A level stops expanding once more than
    ``$limit`` CIs are seen (the caller cuts by depth). The inner step imports only the
    frontier: importing ``seen`` into a UNION subquery made Neo4j account the list per
    row (2-4x slower, and out of transaction memory at 100k CIs). Then one step to the
    leaves. A row is a CI: its document; ``d``, its walk depth (-1 for a leaf); ``edges``,
    the edges of the walk's and the leaves' types from it to CIs of the answer, as [target
    id, type, document] (``brief``: the relationship's id instead of its document); and
    ``cut``, whether it is at the depth cap with a walkable edge to a CI not walked.
    """
    if not (along or against):  # nothing to walk: the roots (and their leaves) alone
        depth = 0
    lines = [
        "MATCH (r:CI) WHERE r.id IN $roots",
        "WITH collect(r) AS frontier",
        "WITH frontier, frontier AS seen, [frontier] AS levels",
    ]
    for _ in range(depth):
        lines += [
            "CALL (frontier, seen) {",
            f"  CALL (frontier) {{ {_steps(along, against, 'frontier')} }}",
            "  WITH n WHERE NOT n IN seen",
            "  RETURN collect(n) AS next",
            "}",
            # Past $limit CIs the answer is cut anyway: stop expanding.
            "WITH CASE WHEN size(seen) + size(next) > $limit THEN [] ELSE next END AS frontier,",
            "  seen + next AS seen, levels + [next] AS levels",
        ]
    if leaf_along or leaf_against:
        lines += [
            "CALL (seen) {",
            "  WITH seen, CASE WHEN size(seen) > $limit THEN [] ELSE seen END AS start",
            f"  CALL (start) {{ {_steps(leaf_along, leaf_against, 'start')} }}",
            "  WITH n WHERE NOT n IN seen",
            "  RETURN collect(n) AS leaves",
            "}",
        ]
    else:
        lines.append("WITH levels, seen, [] AS leaves")
    lines += [
        "WITH levels, seen, leaves, seen + leaves AS answer",
        "UNWIND [d IN range(0, size(levels) - 1) | [d, levels[d]]] + [[-1, leaves]] AS level",
        "UNWIND level[1] AS n",
        "WITH n, level[0] AS d, seen, answer",
    ]
    # Every edge between two CIs of the answer leaves one of them: each comes once, from
    # its source, and only if its target is in the answer (edges to CIs outside were most
    # of the rows, and each edge between two CIs came twice).
    types = tuple(t for t in REL_TYPES if t in {*along, *against, *leaf_along, *leaf_against})
    what = "e.id" if brief else "e.doc"
    edges = "[] AS edges"
    if types:
        edges = (
            f"COLLECT {{ MATCH (n)-[e:{type_union(types)}]->(m:CI) WHERE m IN answer "
            f"RETURN [m.id, type(e), {what}] }} AS edges"
        )
    # Whether the depth cap cut the walk: a CI at the cap with a walkable edge out of it.
    ways = []
    if along:
        ways.append(f"EXISTS {{ MATCH (n)-[:{type_union(along)}]->(m:CI) WHERE NOT m IN seen }}")
    if against:
        ways.append(f"EXISTS {{ MATCH (n)<-[:{type_union(against)}]-(m:CI) WHERE NOT m IN seen }}")
    cut = f"CASE WHEN d = {depth} THEN {' OR '.join(ways)} ELSE false END" if ways else "false"
    lines.append(f"RETURN n.doc AS doc, d, {edges}, {cut} AS cut")
    return "\n".join(lines)


# -- name search (cmdb/store/search.py) ------------------------------------------------
SEARCH_PARAMS: dict[str, Any] = {
    "search_ranks": search_ranks(),
    "search_unknown": search.UNKNOWN_CLASS_RANK,
    "search_seps": list(search.WORD_SEPARATORS),
}


def _search_key(node: str, ln: str) -> str:
    """``[tier, class rank]`` of ``node`` whose lower-cased name is ``ln``, for text ``q``."""
    return (
        f"CASE WHEN {ln} = q THEN {search.EXACT} WHEN {ln} STARTS WITH q THEN {search.PREFIX}"
        f" WHEN any(s IN $search_seps WHERE {ln} CONTAINS s + q) THEN {search.WORD}"
        f" ELSE {search.SUBSTRING} END,"
        f" coalesce($search_ranks[{node}.class], $search_unknown)"
    )


def search_cis(label: str, where: list[str], *, indexed: bool = False) -> str:
    """CIs of ``label`` passing ``where`` whose name contains ``$contains``, best match
    first, up to ``$limit``, after the CI ``$after`` (by its sort key: no such CI, no rows).

    The key of ``$after`` is read first, once; the filters pick the rows and only those
    are ranked. Ends in ``WITH c, ... LIMIT``: for ``chunked(..., by="c")``.

    ``indexed``: every CI holds ``lname`` (migration 0010: its name lower-cased, as the
    store writes it, under a text index), and ``$contains`` comes lower-cased the same
    way: the names containing it are found through the index rather than by lower-casing
    every CI's name. Otherwise ``toLower`` of each name, as before that migration.
    """
    if indexed:
        q, ln_a, ln_c = "$contains", "a.lname", "c.lname"
        head = f"MATCH (c:CI) WHERE c.lname CONTAINS q AND c:{label}"
        if where:
            head += " AND " + " AND ".join(where)
    else:
        q, ln_a, ln_c = "toLower($contains)", "toLower(a.name)", "toLower(c.name)"
        head = f"MATCH (c:{label}) WHERE " + " AND ".join([*where, "toLower(c.name) CONTAINS q"])
    return (
        "OPTIONAL MATCH (a:CI {id: $after}) "
        f"WITH {q} AS q, a "
        "WITH q, CASE WHEN a IS NULL THEN null ELSE "
        f"[{_search_key('a', ln_a)}, {ln_a}, a.id] END AS k "
        f"{head} "
        f"WITH c, k, q, {ln_c} AS ln "
        f"WITH c, k, ln, [{_search_key('c', 'ln')}] AS tw "
        "WITH c, k, ln, tw[0] AS t, tw[1] AS w "
        "WHERE $after IS NULL OR (k IS NOT NULL AND (t > k[0] OR (t = k[0] AND (w > k[1]"
        " OR (w = k[1] AND (ln > k[2] OR (ln = k[2] AND c.id > k[3]))))))) "
        "WITH c, t, w, ln ORDER BY t, w, ln, c.id LIMIT $limit"
    )


# Every relationship, retired ones too, a page at a time in id order (iter_documents).
ALL_REL_DOCS = list_rels((*REL_TYPES, RETIRED))

# A CI's active relationships and the CI at the other end of each, in one answer: one row
# with nulls when it has none, no row when there is no such CI. A relationship from the CI
# to itself comes twice (once each way).
NEIGHBOURS_NOW = (
    "MATCH (c:CI {id: $id}) "
    f"OPTIONAL MATCH (c)-[r:{type_union(None)}]-(o:CI) "
    "RETURN r.doc AS rel, o.id AS other, o.doc AS doc"
)
