"""Neo4j store versus hand-written Cypher, against one real server in one run.

Figures, each beside its baseline:
  * CI upserts through ``Neo4jStore.apply``   vs raw ``UNWIND $rows CREATE`` of the same
    node properties, and vs a per-row ``MERGE`` loop (one transaction per row, the naive
    client);
  * relationship upserts through the store    vs raw labelled ``UNWIND ... MATCH ... CREATE``;
  * closure through ``Neo4jStore.subgraph``   vs the best of two hand-written one-trip
    Cypher closures returning the same nodes and edges;
  * reading every CI of the estate (``list_cis`` pages of 10,000, decoded into ``CI``
    models) vs the raw driver's ``MATCH (c:CI) RETURN c.doc`` with no decoding, and the
    same with each document parsed by orjson (and, for reference, by
    ``CI.model_validate_json``).

Targets (issues 3 and 12): CI upsert >= 0.7x raw and >= 50x the per-row loop;
relationships >= 0.5x raw; closure <= 1.3x hand Cypher, one round trip; all 100k CIs
read in <= 1.5 s (>= 70k documents/s).

Usage: python bench/neo4j_ingest.py [--size 20k] [--batch 5000] [--out FILE]
It starts the local launcher (or uses NEO4J_URI), like the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from neo4j import Driver, GraphDatabase  # noqa: E402

from bench.estate import REL_TYPES, generate, parse_size  # noqa: E402
from cmdb.domain.changeset import ChangeSet  # noqa: E402
from cmdb.domain.model import CI, Relationship, Sighting, relationship_id  # noqa: E402
from cmdb.store.contract import Direction, DocumentKind, SightingHit  # noqa: E402
from cmdb.store.neo4j import cypher  # noqa: E402
from cmdb.store.neo4j.migrations import migrate  # noqa: E402
from cmdb.store.neo4j.store import Neo4jStore, _ci_props, _rel_props  # noqa: E402
from devsupport.neo4j_local import find_or_start  # noqa: E402


def wipe(driver: Driver) -> None:
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


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def split(changesets: list[ChangeSet]) -> tuple[list[ChangeSet], list[ChangeSet]]:
    cis = [cs.model_copy(update={"rel_upserts": []}) for cs in changesets]
    rels = [cs.model_copy(update={"ci_upserts": []}) for cs in changesets]
    return cis, rels


def raw_rows(changesets: list[ChangeSet]) -> tuple[dict[str, list[list[dict[str, Any]]]], Any]:
    """The node properties the store writes, made up front (the raw path pays no Python)."""
    by_batch: list[dict[str, list[dict[str, Any]]]] = []
    ids: dict[str, str] = {}
    n = 0
    for cs in changesets:
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for up in cs.ci_upserts:
            ci_id = f"ci_raw_{n}"
            n += 1
            ids[str(up.identifiers[0])] = ci_id
            ci = CI.model_validate({**up.model_dump(by_alias=True, exclude_none=True), "id": ci_id})
            groups[ci.ci_class].append(_ci_props(ci, 1))
        by_batch.append(groups)
    rel_batches: list[dict[str, list[dict[str, Any]]]] = []
    for cs in changesets:
        groups = defaultdict(list)
        for r in cs.rel_upserts:
            s, t = ids[str(r.source)], ids[str(r.target)]
            rel = Relationship(
                id=relationship_id(r.type, s, t), type=r.type, source_id=s, target_id=t
            )
            groups[r.type].append({"s": s, "t": t, "props": _rel_props(rel, 1)})
        rel_batches.append(groups)
    return {"ci": by_batch, "rel": rel_batches}, ids  # type: ignore[return-value]


def run_raw(
    driver: Driver, batches: list[dict[str, list[dict[str, Any]]]], make: Callable[[str], str]
) -> None:
    for groups in batches:

        def work(tx: Any, groups: dict[str, list[dict[str, Any]]] = groups) -> None:
            for key, rows in groups.items():
                tx.run(make(key), rows=rows).consume()

        with driver.session() as s:
            s.execute_write(work)


def raw_ci_query(ci_class: str) -> str:
    return f"UNWIND $rows AS row CREATE (c:{cypher.labels_for(ci_class)}) SET c = row"


def raw_rel_query(rel_type: str) -> str:
    return (
        "UNWIND $rows AS row MATCH (s:CI {id: row.s}) MATCH (t:CI {id: row.t}) "
        f"CREATE (s)-[r:{rel_type}]->(t) SET r = row.props"
    )


def per_row_merge(driver: Driver, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        with driver.session() as s:
            s.execute_write(
                lambda tx, row=row: tx.run(
                    "MERGE (c:CI {id: $id}) SET c += $props", id=row["id"], props=row
                ).consume()
            )


HAND_VARLEN = """
MATCH (root:CI {id: $root})
MATCH (root)-[:%(types)s*0..%(depth)d]->(n:CI)
WITH DISTINCT n
OPTIONAL MATCH (n)-[e:%(types)s]->(:CI)
RETURN n.doc AS doc, collect(e.doc) AS edges
"""

HAND_QPP = """
MATCH (root:CI {id: $root})
MATCH ANY SHORTEST (root)(()-[:%(types)s]->()){0,%(depth)d}(n:CI)
WITH DISTINCT n
OPTIONAL MATCH (n)-[e:%(types)s]->(:CI)
RETURN n.doc AS doc, collect(e.doc) AS edges
"""


def hand_closure(driver: Driver, query: str, root: str) -> int:
    recs, _, _ = driver.execute_query(query, root=root)
    return len(recs)


def read_all_store(store: Neo4jStore) -> int:
    """Every CI through the store's paged listing, as a caller (e.g. an export) reads it."""
    n, cursor = 0, None
    while True:
        page = store.list_cis(limit=10_000, cursor=cursor)
        n += len(page.items)
        if page.next_cursor is None:
            return n
        cursor = page.next_cursor


def read_all_raw(driver: Driver) -> list[str]:
    recs, _, _ = driver.execute_query("MATCH (c:CI) RETURN c.doc AS doc")
    return [r["doc"] for r in recs]


SIGHTED = "MATCH (c:CI) WHERE $s IN c.sources RETURN c.id AS id, c.class AS class, c.doc AS doc"


def sightings_raw(driver: Driver, source: str) -> int:
    """The raw driver's rows for what list_sightings answers, nothing decoded."""
    recs, _, _ = driver.execute_query(SIGHTED, s=source)
    return len(recs)


def sightings_before(driver: Driver, source: str) -> int:
    """list_sightings as it was: a record per CI, each whole document parsed by orjson."""
    recs, _, _ = driver.execute_query(SIGHTED, s=source)
    out = {}
    for r in (rec.data() for rec in recs):
        found = orjson.loads(r["doc"]).get("sources", {}).get(source)
        if found is not None:
            out[r["id"]] = SightingHit(
                ci_id=r["id"], ci_class=r["class"], sighting=Sighting.model_validate(found)
            )
    return len(out)


def median_time(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm the plan cache and page cache, as a long-running server would be
    return statistics.median(timed(fn) for _ in range(repeat))


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--size", default="20k")
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--loop-rows", type=int, default=1000, help="rows for the per-row MERGE loop")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "neo4j_ingest.json"))
    args = ap.parse_args()

    size = parse_size(args.size)
    estate = generate(size)
    changesets = list(estate.changesets(args.batch))
    ci_sets, rel_sets = split(changesets)
    n_cis = sum(len(c.ci_upserts) for c in ci_sets)
    n_rels = sum(len(c.rel_upserts) for c in rel_sets)
    raw, _ = raw_rows(changesets)

    load_before = os.getloadavg()
    server = find_or_start(ROOT)
    driver = GraphDatabase.driver(
        server.uri, auth=(server.user, server.password), notifications_min_severity="OFF"
    )
    results: dict[str, Any] = {}
    try:
        migrate(driver, "neo4j")
        store = Neo4jStore(driver)

        # Warm the JVM (JIT) and the page cache on both paths first: the first
        # transactions after start-up run several times slower than steady state.
        warm = generate(2000)
        warm_sets = list(warm.changesets(1000))
        warm_raw, _ = raw_rows(warm_sets)
        for _ in range(2):
            wipe(driver)
            run_raw(driver, warm_raw["ci"], raw_ci_query)
            run_raw(driver, warm_raw["rel"], raw_rel_query)
            wipe(driver)
            for cs in warm_sets:
                store.apply(cs)

        wipe(driver)
        t_raw_ci = timed(lambda: run_raw(driver, raw["ci"], raw_ci_query))
        t_raw_rel = timed(lambda: run_raw(driver, raw["rel"], raw_rel_query))

        wipe(driver)
        loop_rows = [r for groups in raw["ci"] for rows in groups.values() for r in rows]
        loop_rows = loop_rows[: args.loop_rows]
        t_loop = timed(lambda: per_row_merge(driver, loop_rows))

        wipe(driver)
        t_store_ci = timed(lambda: [store.apply(cs) for cs in ci_sets])
        t_store_rel = timed(lambda: [store.apply(cs) for cs in rel_sets])

        # Closure: downstream of the service with the largest footprint, and upstream of
        # the busiest physical host (what its failure reaches).
        services = [estate.identifier(i) for i in estate.services]
        svc_ids = [store.find_by_identifier(i)[0].id for i in services[:50]]
        depth = 6
        sizes = {
            s: len(
                store.subgraph([s], direction=Direction.OUT, max_depth=depth, max_nodes=10**6).nodes
            )
            for s in svc_ids
        }
        svc = max(sizes, key=lambda k: sizes[k])
        types = "|".join(REL_TYPES)
        closures: dict[str, Any] = {}
        for name, root, direction in (("service_down", svc, Direction.OUT),):

            def via_store() -> int:
                return len(
                    store.subgraph(
                        [root], direction=direction, max_depth=depth, max_nodes=10**6
                    ).nodes
                )

            hands = {
                "varlength": HAND_VARLEN % {"types": types, "depth": depth},
                "any_shortest": HAND_QPP % {"types": types, "depth": depth},
            }
            counts = {k: hand_closure(driver, q, root) for k, q in hands.items()}
            n_store = via_store()
            assert all(c == n_store for c in counts.values()), (counts, n_store)
            t_store = median_time(via_store, args.repeat)
            # The same Cypher the store sends, without turning rows into domain objects:
            # the database side of the store's closure.
            store_q = cypher.subgraph(direction.value, None, depth)
            t_store_query = median_time(
                lambda: driver.execute_query(store_q, roots=[root], depth=depth, limit=10**6 + 1),
                args.repeat,
            )
            t_hand = {
                k: median_time(lambda q=q: hand_closure(driver, q, root), args.repeat)
                for k, q in hands.items()
            }
            best = min(t_hand, key=lambda k: t_hand[k])
            closures[name] = {
                "nodes": n_store,
                "store_s": t_store,
                "hand_s": t_hand,
                "best_hand": best,
                "ratio_store_over_best_hand": t_store / t_hand[best],
                "store_query_only_s": t_store_query,
                "ratio_store_query_over_best_hand": t_store_query / t_hand[best],
                "round_trips": 1,
            }
        # Reading every CI back: the store's pages against the raw driver.
        assert read_all_store(store) == n_cis == len(read_all_raw(driver))
        reads = {
            "store_list_cis_s": median_time(lambda: read_all_store(store), args.repeat),
            "raw_docs_s": median_time(lambda: read_all_raw(driver), args.repeat),
            "raw_docs_orjson_s": median_time(
                lambda: [orjson.loads(d) for d in read_all_raw(driver)], args.repeat
            ),
            "raw_docs_validated_s": median_time(
                lambda: [CI.model_validate_json(d) for d in read_all_raw(driver)], args.repeat
            ),
            # As an export reads them: the stored documents in id order, not decoded.
            "store_documents_s": median_time(
                lambda: sum(1 for _ in store.iter_documents(DocumentKind.CI)), args.repeat
            ),
        }
        source = ci_sets[0].source
        assert len(store.list_sightings(source)) == n_cis == sightings_before(driver, source)
        reads["list_sightings_s"] = median_time(lambda: store.list_sightings(source), args.repeat)
        reads["sightings_raw_s"] = median_time(lambda: sightings_raw(driver, source), args.repeat)
        reads["sightings_before_s"] = median_time(
            lambda: sightings_before(driver, source), args.repeat
        )
        results = {
            "size": size,
            "cis": n_cis,
            "relationships": n_rels,
            "batch": args.batch,
            "ci_upsert": {
                "store_per_s": n_cis / t_store_ci,
                "raw_unwind_create_per_s": n_cis / t_raw_ci,
                "per_row_merge_per_s": len(loop_rows) / t_loop,
                "ratio_vs_raw": (n_cis / t_store_ci) / (n_cis / t_raw_ci),
                "ratio_vs_loop": (n_cis / t_store_ci) / (len(loop_rows) / t_loop),
            },
            "rel_upsert": {
                "store_per_s": n_rels / t_store_rel,
                "raw_unwind_match_create_per_s": n_rels / t_raw_rel,
                "ratio_vs_raw": t_raw_rel / t_store_rel,
            },
            "closure": closures,
            "read_all": {**reads, "cis": n_cis},
            "load_avg_before_after": [load_before, os.getloadavg()],
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
            "commit": subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
            ).stdout.strip(),
        }
    finally:
        driver.close()
        server.stop()

    ci, rel = results["ci_upsert"], results["rel_upsert"]
    lines = [
        f"Neo4j store vs hand-written Cypher: {n_cis} CIs, {n_rels} relationships, batches of {args.batch}",
        f"{'figure':<52}{'store':>14}{'baseline':>16}{'ratio':>9}  target",
        f"{'CI upsert /s vs raw UNWIND CREATE':<52}{ci['store_per_s']:>14,.0f}{ci['raw_unwind_create_per_s']:>16,.0f}{ci['ratio_vs_raw']:>8.2f}x  >= 0.7x",
        f"{'CI upsert /s vs per-row MERGE':<52}{ci['store_per_s']:>14,.0f}{ci['per_row_merge_per_s']:>16,.0f}{ci['ratio_vs_loop']:>8.1f}x  >= 50x",
        f"{'rel upsert /s vs raw MATCH CREATE':<52}{rel['store_per_s']:>14,.0f}{rel['raw_unwind_match_create_per_s']:>16,.0f}{rel['ratio_vs_raw']:>8.2f}x  >= 0.5x",
    ]
    for name, c in results["closure"].items():
        lines.append(
            f"{'closure ' + name + ' (' + str(c['nodes']) + ' nodes) ms':<52}{c['store_s'] * 1000:>14.1f}"
            f"{c['hand_s'][c['best_hand']] * 1000:>16.1f}{c['ratio_store_over_best_hand']:>8.2f}x  <= 1.3x ({c['best_hand']})"
        )
    for name, c in results["closure"].items():
        lines.append(
            f"{'  same query, no model parsing, ms':<52}{c['store_query_only_s'] * 1000:>14.1f}"
            f"{c['hand_s'][c['best_hand']] * 1000:>16.1f}{c['ratio_store_query_over_best_hand']:>8.2f}x"
        )
    rd = results["read_all"]
    for label, key in (
        ("raw driver, no decoding", "raw_docs_s"),
        ("raw driver + orjson.loads", "raw_docs_orjson_s"),
        ("raw driver + CI.model_validate_json", "raw_docs_validated_s"),
    ):
        store_s = rd["store_list_cis_s"]
        lines.append(
            f"{'read all CIs, s (vs ' + label + ')':<52}{store_s:>14.2f}{rd[key]:>16.2f}"
            f"{store_s / rd[key]:>8.2f}x"
            + (f"  <= 1.5 s at 100k ({n_cis / store_s:,.0f} CIs/s)" if key == "raw_docs_s" else "")
        )
    docs_s = rd["store_documents_s"]
    lines.append(
        f"{'  as export reads (iter_documents, no decoding)':<52}{docs_s:>14.2f}"
        f"{rd['raw_docs_s']:>16.2f}{docs_s / rd['raw_docs_s']:>8.2f}x"
        f"  <= 1.5 s at 100k ({n_cis / docs_s:,.0f} CIs/s)"
    )
    for label, key in (
        ("raw driver rows, no decoding", "sightings_raw_s"),
        ("the code before (issue 12)", "sightings_before_s"),
    ):
        store_s = rd["list_sightings_s"]
        lines.append(
            f"{'list_sightings, s (vs ' + label + ')':<52}{store_s:>14.2f}{rd[key]:>16.2f}"
            f"{store_s / rd[key]:>8.2f}x"
        )
    lb, la = results["load_avg_before_after"]
    lines.append(f"{results['date']}; load average {lb[0]:.2f} before, {la[0]:.2f} after")
    print("\n".join(lines))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
