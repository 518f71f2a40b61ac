"""The impact closure on Neo4j: through the store and the engine, beside hand-written Cypher.

Imported by bench/impact.py (``--stores neo4j``). The estate (bench/estate.py) is applied
to a fresh local Neo4j 5.26 through ``Neo4jStore.apply`` (the server comes from
``devsupport.neo4j_local.find_or_start``: NEO4J_URI, else Docker, else the local
launcher, like the tests). For the same failed CIs as the embedded part it measures:

* **engine**: what ``impact.queries`` does before assessing: ``impact.fetch.fetch`` (the
  store's ``subgraph`` calls), ``build_impact_graph`` and the closure (``reach``), with each
  fetch strategy: ``walk`` (one ``subgraph(walk=..., leaves=...)`` round trip: each type in
  its own impact direction, plus the members of reached clusters) and ``rounds`` (IN and
  OUT walks alternated, a few round trips); ``one-call`` (one ``Direction.BOTH`` round
  trip, which reads the whole connected estate) is left out: see STRATEGIES;
* **baseline**: hand-written one-round-trip Cypher for the same closure, run with the
  driver: a breadth-first search unrolled to the depth cap (each level: UNWIND the
  frontier, MATCH out over the source-to-target types and in over the target-to-source
  ones, keep the CIs not seen before), returning ids only (the least work a closure can
  do), and the same returning each CI's document and the edges the engine needs (what the
  store sends back); for reference, the quantified-path-pattern form (``ANY SHORTEST`` with
  a per-step direction test on an undirected step), with a time limit, reported as did
  not finish when it hits it;
* for reference, ``change_impact`` end to end (walk, the default) on Neo4j.

Every variant must find the same CIs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from estate import DB, DEPENDS_ON, HOSTED_ON, VM, Estate, generate, size_label
from neo4j import Driver, GraphDatabase, Query
from neo4j.exceptions import Neo4jError

from cmdb.domain.relationships import REGISTRY, ImpactFlow
from cmdb.store.neo4j.migrations import migrate
from cmdb.store.neo4j.store import Neo4jStore
from devsupport.neo4j_local import Neo4jServer, find_or_start
from impact._arrays import reach
from impact.fetch import fetch
from impact.graph import build_impact_graph
from impact.queries import Limits, change_impact

# "one-call" (one Direction.BOTH walk through the store's quantified path) is not measured
# on Neo4j: at the 2k-CI warm-up, one such call from the median server was still running
# after 3.5 minutes (2026-11-26, load average ~5); it reads the whole connected estate.
STRATEGIES = ("walk", "rounds")
HAND_IDS = "hand BFS: ids"
HAND_DOCS = "hand BFS: docs + members + edges"
TARGET_NEO4J_OVER_HAND = 1.3  # engine closure on Neo4j within 1.3x the best hand Cypher
MAX_DEPTH = 12  # the engine's default depth cap; the hand queries use the same
WINDOW = (datetime(2026, 3, 10, 2, 0, tzinfo=UTC), datetime(2026, 3, 10, 4, 0, tzinfo=UTC))

QPP_TIMEOUT_S = 20.0  # the quantified-path form is tried once per case within this limit

# One quantified path pattern; each step is checked against the direction its type carries
# impact: against the arrow for target-to-source types, along it for the others. ANY
# SHORTEST makes it a breadth-first search (each CI once per root) in principle; 5.26 plans
# it as an expansion that does not prune by the predicate.
HAND_QPP = """
MATCH (root:CI {id: $root})
MATCH ANY SHORTEST (root)(
  (a:CI)-[r:%(types)s]-(b:CI)
  WHERE (startNode(r) = b AND type(r) IN $t2s) OR (startNode(r) = a AND type(r) IN $s2t)
){0,%(depth)d}(n:CI)
RETURN DISTINCT n.id AS id
"""

# A breadth-first search unrolled to the depth cap: every CI is expanded once.
_BFS_HEAD = """
MATCH (root:CI {id: $root})
WITH [root] AS frontier, [root] AS seen
"""
_BFS_LEVEL = """
CALL (frontier, seen) {
  CALL (frontier) {
    UNWIND frontier AS f MATCH (f)<-[:%(t2s)s]-(n:CI) RETURN n
    UNION
    UNWIND frontier AS f MATCH (f)-[:%(s2t)s]->(n:CI) RETURN n
  }
  WITH n WHERE NOT n IN seen
  RETURN collect(n) AS next
}
WITH next AS frontier, seen + next AS seen
"""
HAND_BFS_IDS = _BFS_HEAD + _BFS_LEVEL * MAX_DEPTH + "UNWIND seen AS n RETURN n.id AS id"
# The same, with what the engine reads: each CI's document, the members of reached
# clusters and what reached CIs contain (the other replicas of an application, which its
# quorum counts; the engine's walk reads them since issue 14's groupings), and the impact
# edges between two CIs of the answer, each once from its source, as (target, type, id).
# This is the best form found: listing each CI's edges from both ends, to CIs outside the
# answer too, and with their documents, took 2-3x as long (2026-12-07).
HAND_BFS_DOCS = (
    _BFS_HEAD
    + _BFS_LEVEL * MAX_DEPTH
    + """
CALL (seen) {
  CALL (seen) {
    UNWIND seen AS c MATCH (c)<-[:MEMBER_OF]-(m:CI) WHERE NOT m IN seen RETURN m
    UNION
    UNWIND seen AS c MATCH (c)-[:CONTAINS]->(m:CI) WHERE NOT m IN seen RETURN m
  }
  RETURN collect(DISTINCT m) AS members
}
WITH seen, seen + members AS answer
UNWIND answer AS n
RETURN n.id AS id, n.doc AS doc, n IN seen AS walked,
  COLLECT { MATCH (n)-[e:%(edge_types)s]->(m:CI) WHERE m IN answer RETURN [m.id, type(e), e.id] }
  AS edges
"""
)


def _types(types: list[str]) -> str:
    return "|".join(types)


def impact_types() -> tuple[list[str], list[str]]:
    t2s = [t.name for t in REGISTRY.values() if t.impact is ImpactFlow.TARGET_TO_SOURCE]
    s2t = [t.name for t in REGISTRY.values() if t.impact is ImpactFlow.SOURCE_TO_TARGET]
    return t2s, s2t


def hand_queries() -> dict[str, str]:
    t2s, s2t = impact_types()
    fill = {
        "types": _types(t2s + s2t),
        # The edges of the docs query: every impact type and the groupings' (as the walk).
        "edge_types": _types(list(dict.fromkeys([*t2s, *s2t, "MEMBER_OF", "CONTAINS"]))),
        "t2s": _types(t2s),
        "s2t": _types(s2t),
        "depth": MAX_DEPTH,
    }
    return {
        "hand BFS: ids": HAND_BFS_IDS % fill,
        "hand BFS: docs + members + edges": HAND_BFS_DOCS % fill,
        "hand QPP: ids": HAND_QPP % fill,
    }


def _median(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    out = fn()  # warm the plan cache and the page cache, as a long-running server would be
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _wipe(driver: Driver) -> None:
    with driver.session() as s:
        s.run(
            # Edges first, then nodes, in small transactions: a DETACH DELETE of 5,000 CIs
            # with their edges ran out of transaction memory at 100k CIs.
            "MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS"
        ).consume()
        s.run(
            "MATCH (n) WHERE NOT n:CmdbMigration "
            "CALL (n) { DELETE n } IN TRANSACTIONS OF 10000 ROWS"
        ).consume()


def _picks(est: Estate) -> list[tuple[str, int]]:
    """The same failed CIs as the embedded part's change-impact cases."""
    _s, d, t = est.edge_arrays()
    hosted = np.bincount(d[t == HOSTED_ON], minlength=est.n_cis)
    hosts = sorted((h for h in est.hosts if hosted[h] > 0), key=lambda h: (hosted[h], h))
    cls = np.frombuffer(est.cls, dtype=np.int8)
    used = np.bincount(d[t == DEPENDS_ON], minlength=est.n_cis)
    dbs = np.flatnonzero(cls == DB)
    vms = np.flatnonzero(cls == VM)
    return [
        ("median server", hosts[len(hosts) // 2]),
        ("a VM", int(vms[len(vms) // 2])),
        ("busiest server", hosts[-1]),
        ("most used database", int(dbs[np.argmax(used[dbs])])),
    ]


class Neo4jBench:
    """One local server for every size; the database is wiped between sizes."""

    def __init__(self, root: Path) -> None:
        self.server: Neo4jServer = find_or_start(root)
        self.driver = GraphDatabase.driver(
            self.server.uri,
            auth=(self.server.user, self.server.password),
            notifications_min_severity="OFF",
        )
        migrate(self.driver, "neo4j")
        # One-call BOTH walks read the whole connected estate: past the 30 s default.
        self.store = Neo4jStore(self.driver, tx_timeout_s=600)
        self.queries = hand_queries()
        self._warm()

    def close(self) -> None:
        self.store.close()
        self.driver.close()
        self.server.stop()

    def _warm(self) -> None:
        # The first transactions after start-up run several times slower (JIT, page cache).
        est = generate(2000)
        for cs in est.changesets(1000):
            self.store.apply(cs)
        for label, i in _picks(est):
            print(f"  neo4j warm-up: {label}", flush=True)
            ci = self.store.find_by_identifier(est.identifier(i))[0]
            for strategy in STRATEGIES:
                self._engine(ci, strategy)
            for name, q in self.queries.items():
                if "QPP" not in name:
                    self._hand(q, ci.id)

    def _engine(self, ci: Any, strategy: str) -> tuple[set[str], int, int]:
        # brief, as change_impact fetches: the walk leaves relationship documents and the
        # CIs' bookkeeping unread (the hand "docs" query still returns whole documents).
        got = fetch(
            self.store,
            [ci],
            strategy=strategy,  # type: ignore[arg-type]
            max_depth=MAX_DEPTH,
            max_nodes=10**6,
            brief=True,
        )
        graph = build_impact_graph(got.subgraph, frontier=got.frontier)
        mask = reach(graph.out, np.array([graph.pos[ci.id]], dtype=np.int64), graph.n)
        found = {graph.ids[i] for i in np.flatnonzero(mask).tolist()}
        return found, got.calls, len(got.subgraph.nodes)

    def _hand(self, query: str, root: str, timeout: float | None = None) -> set[str]:
        t2s, s2t = impact_types()
        with self.driver.session() as session:
            recs = list(session.run(Query(query, timeout=timeout), root=root, t2s=t2s, s2t=s2t))  # type: ignore[arg-type]
        # The docs variant also returns the members of reached clusters: not the closure.
        return {r["id"] for r in recs if r.get("walked", True)}

    def _qpp(self, root: str, truth: set[str]) -> float | None:
        """The quantified-path form, once, within QPP_TIMEOUT_S; None if it did not finish."""
        t0 = time.perf_counter()
        try:
            found = self._hand(self.queries["hand QPP: ids"], root, timeout=QPP_TIMEOUT_S)
        except Neo4jError:
            return None
        assert found == truth, "QPP closure differs"
        return time.perf_counter() - t0

    def _case(self, label: str, ci: Any, repeat: int, big: bool) -> dict[str, Any]:
        hand: dict[str, float] = {}
        truth: set[str] | None = None
        for name, q in self.queries.items():
            if "QPP" in name:
                continue
            hand[name], found = _median(lambda q=q: self._hand(q, ci.id), repeat)
            assert truth is None or found == truth, (label, name)
            truth = found
        assert truth is not None
        best = min(hand, key=lambda k: hand[k])
        qpp = self._qpp(ci.id, truth)
        row: dict[str, Any] = {
            "case": label,
            "closure_cis": len(truth),
            "hand_s": hand,
            "best_hand": best,
            "best_hand_s": hand[best],
            "hand_round_trips": 1,
            "hand_qpp_s": qpp,
            "hand_qpp_timeout_s": QPP_TIMEOUT_S,
        }
        for strategy in STRATEGIES:
            if strategy == "one-call" and big:
                continue  # reads the whole connected estate: minutes per call at 100k
            t, (found, calls, fetched) = _median(lambda s=strategy: self._engine(ci, s), repeat)
            assert found == truth, (label, strategy, len(found), len(truth))
            row[strategy] = {
                "engine_s": t,
                "store_calls": calls,
                "fetched_cis": fetched,
                "over_best_hand": t / hand[best],
                "over_hand_docs": t / hand[HAND_DOCS],
            }
        lim = Limits(max_depth=MAX_DEPTH, max_nodes=10**6)
        row["change_impact_s"], rep = _median(
            lambda: change_impact(self.store, [ci], *WINDOW, limits=lim, now=WINDOW[0]),
            repeat,
        )
        row["change_impact_strategy"] = lim.strategy
        row["impacted_cis"] = len(rep.cis)
        w = row["walk"]
        print(
            f"    {label}: closure {len(truth):,} CIs; hand BFS ids {_ms(hand[HAND_IDS])},"
            f" docs {_ms(hand[HAND_DOCS])}; QPP {_ms(qpp) if qpp else 'did not finish'};"
            f" engine walk {_ms(w['engine_s'])} ({w['store_calls']} call, read"
            f" {w['fetched_cis']:,} CIs), rounds {_ms(row['rounds']['engine_s'])}"
            f" ({row['rounds']['store_calls']} calls)"
            + (
                f", one-call {_ms(row['one-call']['engine_s'])}"
                f" (read {row['one-call']['fetched_cis']:,} CIs)"
                if "one-call" in row
                else ""
            )
            + f"; change_impact {_ms(row['change_impact_s'])}",
            flush=True,
        )
        return row

    def run_size(self, est: Estate, batch: int, repeat: int) -> dict[str, Any]:
        _wipe(self.driver)
        t0 = time.perf_counter()
        for cs in est.changesets(batch):
            self.store.apply(cs)
        t_ingest = time.perf_counter() - t0
        print(
            f"  neo4j: {est.n_cis:,} CIs ingested through the store in {t_ingest:.1f} s",
            flush=True,
        )
        big = est.n_cis >= 50_000
        cases = [
            self._case(label, self.store.find_by_identifier(est.identifier(i))[0], repeat, big)
            for label, i in _picks(est)
        ]
        return {"size": size_label(est.size), "ingest_s": t_ingest, "closure": cases}


def _ms(s: float) -> str:
    return f"{s * 1e3:,.2f} ms" if s < 1 else f"{s:,.2f} s"


def table_rows(key: str, r: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    load = r.get("load_avg_before_after")
    note = f" (load avg {load[0][0]:.1f} -> {load[1][0]:.1f})" if load else ""
    for c in r["closure"]:
        for strategy in STRATEGIES:
            if strategy not in c:
                continue
            e = c[strategy]
            rows.append(
                [
                    key,
                    f"neo4j closure: {c['case']} -> {c['closure_cis']:,} CIs, engine"
                    f" ({strategy}: {e['store_calls']} round trip(s), read"
                    f" {e['fetched_cis']:,} CIs){note}",
                    _ms(e["engine_s"]),
                    "hand BFS Cypher, 1 round trip: ids / docs + members + edges",
                    f"{_ms(c['hand_s'][HAND_IDS])} / {_ms(c['hand_s'][HAND_DOCS])}",
                    f"{e['engine_s'] / c['hand_s'][HAND_IDS]:.2f}x ids,"
                    f" {e['over_hand_docs']:.2f}x docs",
                    f"<= {TARGET_NEO4J_OVER_HAND:g}x docs, 1 trip",
                    # Against the hand query that returns what the engine needs: ids alone
                    # (for reference) are no answer the engine could assess.
                    "yes"
                    if e["over_hand_docs"] <= TARGET_NEO4J_OVER_HAND and e["store_calls"] == 1
                    else "NO",
                ]
            )
        qpp = c.get("hand_qpp_s")
        rows.append(
            [
                key,
                f"  change impact end to end on Neo4j ({c['change_impact_strategy']}),"
                f" {c['impacted_cis']:,} impacted",
                _ms(c["change_impact_s"]),
                "hand QPP (ANY SHORTEST, per-step direction test), ids",
                _ms(qpp) if qpp else f"did not finish in {c['hand_qpp_timeout_s']:g} s",
                f"{c['change_impact_s'] / c['hand_s'][HAND_IDS]:.2f}x hand BFS ids",
                "-",
                "",
            ]
        )
    return rows
