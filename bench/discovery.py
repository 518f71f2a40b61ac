"""Discovery benchmark: a generated inventory reconciled into each store.

The inventory is bench/estate.py's layered estate turned into neutral discovery records
(one DiscoveredCI per CI with its identifiers, fields and attributes, one DiscoveredRel
per edge), so the reconciler identifies every CI by its identifiers as it would a real
feed. Measured per store:

  * full ingest: ``reconcile`` of the whole inventory into an empty store;
  * re-run, 1 % changed: the same inventory with one CI in a hundred given a new
    attribute value. Content digests let the other 99 % cost no write (their last-seen
    is refreshed only once it is older than the touch window, 12 h by default);
  * the same with every unchanged CI's last-seen refreshed (``touch_after=0``: what a
    run costs once the window has passed), another 1 % changed;
  * baseline: the same estate applied as plain change sets (``store.apply``, the store
    benchmark's path), so the reconciler's own cost shows beside the store's;

and, when they exist, the store benchmarks' own figures (bench/results/store.json,
bench/results/neo4j_ingest.json) are printed beside.

Target (issue 4): the 1 % re-run takes at most 0.1x the full ingest.

Usage: python bench/discovery.py [--size 100k] [--stores embedded,neo4j] [--changed 0.01]
       [--batch 5000] [--no-baseline] [--out bench/results/discovery.json] [--merge]
Neo4j comes from devsupport.neo4j_local.find_or_start (NEO4J_URI, else Docker,
else the local launcher), like the tests.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.estate import (  # noqa: E402
    CLASSES,
    CONNECTS_TO,
    DEPENDS_ON,
    REL_TYPES,
    Estate,
    generate,
    parse_size,
    size_label,
)
from cmdb.store.contract import GraphStore  # noqa: E402
from discovery.reconcile import RunReport, reconcile  # noqa: E402
from discovery.records import DiscoveredCI, DiscoveredRel, Inventory, collect  # noqa: E402

TARGET_RERUN = 0.1
_FIELDS = ("environment", "owner", "location")


# -- the inventory ---------------------------------------------------------------------------


def records(est: Estate, changed: set[int]) -> Inventory:
    """The estate as a discovery source would report it; ``changed`` CIs carry a new value."""
    cis: list[DiscoveredCI] = []
    for i in range(est.n_cis):
        up = est.upsert(i, est.identifier(i))
        fields: dict[str, Any] = {f: getattr(up, f) for f in _FIELDS if getattr(up, f)}
        if up.criticality is not None:
            fields["criticality"] = up.criticality.value
        attrs = dict(up.attributes)
        if i in changed:
            attrs["revision"] = 2
        cis.append(
            DiscoveredCI(
                key=f"e{i}",
                ci_class=CLASSES[est.cls[i]],
                name=est.names[i],
                identifiers=tuple(up.identifiers),
                fields=fields,
                attributes=attrs,
            )
        )
    src, dst, typ = est.edge_arrays()
    rels = [
        DiscoveredRel(
            type=REL_TYPES[t],
            source=f"e{s}",
            target=f"e{d}",
            confidence=0.9 if t in (DEPENDS_ON, CONNECTS_TO) else 1.0,
        )
        for s, d, t in zip(src.tolist(), dst.tolist(), typ.tolist(), strict=True)
    ]
    return collect("bench", [*cis, *rels])


def changed_set(est: Estate, share: float, offset: int = 0) -> set[int]:
    step = max(1, round(1 / share)) if share > 0 else est.n_cis + 1
    return set(range(offset, est.n_cis, step))


# -- stores ----------------------------------------------------------------------------------


@contextmanager
def embedded_stores(workdir: Path) -> Iterator[Callable[[str], GraphStore]]:
    from cmdb.store.embedded.store import EmbeddedStore

    opened: list[GraphStore] = []

    def make(name: str) -> GraphStore:
        store = EmbeddedStore(workdir / f"{name}.db")
        opened.append(store)
        return store

    try:
        yield make
    finally:
        for s in opened:
            s.close()


@contextmanager
def neo4j_stores() -> Iterator[Callable[[str], GraphStore]]:
    from neo4j import GraphDatabase

    from cmdb.store.neo4j.migrations import migrate
    from cmdb.store.neo4j.store import Neo4jStore
    from devsupport.neo4j_local import find_or_start

    server = find_or_start(ROOT)
    driver = GraphDatabase.driver(
        server.uri, auth=(server.user, server.password), notifications_min_severity="OFF"
    )
    migrate(driver, "neo4j")

    def make(name: str) -> GraphStore:
        # One database: each measurement starts from an empty one. Relationships first and
        # in small transactions, so a 100k-CI graph fits the server's transaction memory.
        with driver.session() as s:
            for query in (
                "MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS",
                "MATCH (n) WHERE NOT n:CmdbMigration "
                "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS",
            ):
                s.run(query).consume()
        return Neo4jStore(driver, owns_driver=False)

    try:
        yield make
    finally:
        driver.close()
        server.stop()


# -- measuring -------------------------------------------------------------------------------


class Phases:
    """Seconds from the start of a run to the last progress report of each phase."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.last: dict[str, float] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        self.last[phase] = time.perf_counter() - self.t0


def timed_run(
    store: GraphStore, inv: Inventory, batch: int, **kw: Any
) -> tuple[float, RunReport, Phases]:
    gc.collect()
    phases = Phases()
    t0 = time.perf_counter()
    report = reconcile(
        store, inv, source="bench", scope="estate", batch_size=batch, progress=phases, **kw
    )
    took = time.perf_counter() - t0
    if report.error:
        raise SystemExit(f"the run failed: {report.error}")
    return took, report, phases


def baseline(store: GraphStore, est: Estate, batch: int) -> float:
    changesets = list(est.changesets(batch))
    gc.collect()
    t0 = time.perf_counter()
    for cs in changesets:
        store.apply(cs)
    return time.perf_counter() - t0


def bench_store(
    kind: str, make: Callable[[str], GraphStore], est: Estate, args: argparse.Namespace
) -> dict[str, Any]:
    n = est.n_cis
    print(f"  {kind}: building the inventories ...", flush=True)
    t0 = time.perf_counter()
    first = records(est, set())
    changed = changed_set(est, args.changed)
    second = records(est, changed)
    also = changed_set(est, args.changed, offset=1)
    third = records(est, changed | also)
    build_s = time.perf_counter() - t0
    out: dict[str, Any] = {"inventory_build_s": build_s, "changed_cis": len(changed)}
    if args.baseline:
        print(f"  {kind}: baseline (plain change sets) ...", flush=True)
        t = baseline(make("baseline"), est, args.batch)
        out["baseline"] = {"s": t, "cis_per_s": n / t}
    store = make("discovery")
    print(f"  {kind}: full ingest ...", flush=True)
    t_full, rep, ph = timed_run(store, first, args.batch)
    out["full"] = {
        "s": t_full,
        "cis_per_s": n / t_full,
        "created": len(rep.created),
        "relationships": rep.relationships.get("created", 0),
        "phases_s": ph.last,
    }
    print(f"    {t_full:.1f} s, {n / t_full:,.0f} CIs/s", flush=True)
    print(f"  {kind}: re-run with {len(changed):,} CIs changed ...", flush=True)
    t_re, rep2, ph2 = timed_run(store, second, args.batch)
    out["rerun"] = {
        "s": t_re,
        "updated": len(rep2.updated),
        "unchanged": rep2.unchanged,
        "history_rows": rep2.run.counts.get("history_rows"),
        "touched": rep2.run.counts.get("touched"),
        "phases_s": ph2.last,
    }
    out["rerun_over_full"] = t_re / t_full
    out["target_met"] = t_re <= TARGET_RERUN * t_full
    print(f"    {t_re:.1f} s = {t_re / t_full:.3f}x the full ingest", flush=True)
    assert len(rep2.updated) == len(changed), (len(rep2.updated), len(changed))
    print(f"  {kind}: re-run, {len(also):,} other CIs changed, every CI touched ...", flush=True)
    t_all, rep3, ph3 = timed_run(store, third, args.batch, touch_after=timedelta(0))
    out["rerun_touch_all"] = {
        "s": t_all,
        "updated": len(rep3.updated),
        "touched": rep3.run.counts.get("touched"),
        "phases_s": ph3.last,
        "over_full": t_all / t_full,
    }
    print(f"    {t_all:.1f} s = {t_all / t_full:.3f}x the full ingest", flush=True)
    return out


def store_baselines(label: str) -> dict[str, Any]:
    """The store benchmarks' own figures, where they have been run."""
    found: dict[str, Any] = {}
    store_json = ROOT / "bench/results/store.json"
    if store_json.exists():
        ing = json.loads(store_json.read_text()).get("sizes", {}).get(label, {}).get("ingest")
        if ing:
            found["embedded"] = {
                "store_cis_per_s": ing.get("store_cis_per_s"),
                "raw_cis_per_s": ing.get("raw_cis_per_s"),
            }
    neo_json = ROOT / "bench/results/neo4j_ingest.json"
    if neo_json.exists():
        neo = json.loads(neo_json.read_text())
        found["neo4j"] = {
            "size": neo.get("cis"),
            "store_cis_per_s": neo.get("ci_upsert", {}).get("store_per_s"),
            "raw_cis_per_s": neo.get("ci_upsert", {}).get("raw_unwind_create_per_s"),
        }
    return found


def print_table(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"discovery benchmark: {results['cis']:,} CIs, {results['relationships']:,}"
              " relationships")  # fmt: skip
    for h in ("store", "measure", "seconds", "CIs/s", "ratio", "target", "met"):
        t.add_column(h)
    for kind, r in results["stores"].items():
        if "baseline" in r:
            b = r["baseline"]
            t.add_row(kind, "plain change sets (store.apply)", f"{b['s']:.1f}",
                      f"{b['cis_per_s']:,.0f}", "", "", "")  # fmt: skip
        f = r["full"]
        ratio = f"{r['baseline']['s'] / f['s']:.2f}x baseline speed" if "baseline" in r else ""
        t.add_row(kind, "full ingest (reconcile)", f"{f['s']:.1f}", f"{f['cis_per_s']:,.0f}",
                  ratio, "", "")  # fmt: skip
        t.add_row(kind, f"re-run, {r['changed_cis']:,} CIs changed", f"{r['rerun']['s']:.1f}", "",
                  f"{r['rerun_over_full']:.3f}x full", f"<= {TARGET_RERUN}x",
                  "yes" if r["target_met"] else "NO")  # fmt: skip
        a = r["rerun_touch_all"]
        t.add_row(kind, f"re-run, {a['updated']:,} changed, {a['touched']:,} touched",
                  f"{a['s']:.1f}", "", f"{a['over_full']:.3f}x full", "", "")  # fmt: skip
        other = results["store_benchmarks"].get(kind)
        if other and other.get("store_cis_per_s"):
            t.add_row(kind, "store benchmark: store / raw", "",
                      f"{other['store_cis_per_s']:,.0f} / {other['raw_cis_per_s'] or 0:,.0f}",
                      "", "", "")  # fmt: skip
    Console(width=160).print(t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size", default="100k")
    ap.add_argument("--stores", default="embedded,neo4j")
    ap.add_argument("--changed", type=float, default=0.01, help="share of CIs changed")
    ap.add_argument("--batch", type=int, default=5000, help="CIs per change set")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--no-baseline", dest="baseline", action="store_false")
    ap.add_argument("--out", default=str(ROOT / "bench/results/discovery.json"))
    ap.add_argument(
        "--merge", action="store_true", help="keep the other stores' results found in --out"
    )
    args = ap.parse_args(argv)
    size = parse_size(args.size)
    est = generate(size, args.seed)
    print(f"estate: {est.n_cis:,} CIs, {est.n_edges:,} relationships", flush=True)
    results: dict[str, Any] = {
        "benchmark": "bench/discovery.py",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "size": size_label(size),
        "cis": est.n_cis,
        "relationships": est.n_edges,
        "changed_share": args.changed,
        "batch": args.batch,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "target_rerun_over_full_max": TARGET_RERUN,
        "store_benchmarks": store_baselines(size_label(size)),
        "stores": {},
    }
    for kind in [k.strip() for k in args.stores.split(",") if k.strip()]:
        if kind == "embedded":
            with (
                tempfile.TemporaryDirectory(prefix="cmdb-bench-") as tmp,
                embedded_stores(Path(tmp)) as make,
            ):
                results["stores"][kind] = bench_store(kind, make, est, args)
        elif kind == "neo4j":
            with neo4j_stores() as make:
                results["stores"][kind] = bench_store(kind, make, est, args)
        else:
            raise SystemExit(f"unknown store {kind!r}")
    out = Path(args.out)
    if args.merge and out.exists():
        earlier = json.loads(out.read_text())
        if earlier.get("size") == results["size"]:
            results["stores"] = {**earlier.get("stores", {}), **results["stores"]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"written: {out}")
    return 0 if all(r["target_met"] for r in results["stores"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
