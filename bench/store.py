"""Benchmark of the embedded store against plain baselines, on generated layered estates.

For each size, in one run:

1. **ingest**: change sets of ``--batch`` CIs (plus the relationships they complete) through
   ``EmbeddedStore.apply`` into a fresh file, against raw SQLite ``executemany`` of the same
   rows (the ``cis`` and ``rels`` rows the store wrote: id, class/type, name/ends, JSON doc)
   into plain tables in a fresh file, same pragmas (WAL, synchronous=NORMAL), one commit
   per batch. Only ``apply`` (respectively the inserts and commit) is timed.
2. **closure**: the whole downstream of all services (direction OUT) and the whole
   upstream of the busiest physical server (direction IN), through the store's in-memory
   index (``GraphIndex.reach``, no caps), through ``store.subgraph`` with caps set high
   (which also reads every CI and relationship document), against ``networkx.descendants``
   / ``ancestors`` and igraph ``Graph.subcomponent`` on the same edges. Median of
   ``--repeat`` runs; all of them must return the same number of CIs.
3. **memory**: of the index (built the way the store builds it at start, ``bulk_load``)
   against a networkx DiGraph (and, for reference, igraph) of the same graph with the same
   CI ids, each measured in its own fresh subprocess, both as RSS growth and as traced
   allocations (tracemalloc).

Sizes not ingested through the store (``--ingest-sizes``) run the closure on an index
built by ``bulk_load`` from the generated edges with store-shaped ids.

    python bench/store.py                                  # 10k and 100k
    python bench/store.py --sizes 10k,100k,1m --ingest-sizes 10k,100k
    python bench/store.py --sizes 1m --parts memory        # memory alone, no store
    python bench/store.py --sizes 100k --parts ingest,read  # every CI read back (target 5)
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import orjson
from estate import REL_TYPES, Estate, generate, parse_size, size_label

from cmdb.domain.model import CI
from cmdb.store import snapshot
from cmdb.store.contract import Direction, DocumentKind
from cmdb.store.embedded.store import EmbeddedStore
from cmdb.store.gcpause import gc_paused
from cmdb.store.index import GraphIndex

ROOT = Path(__file__).resolve().parent.parent
TARGET_IGRAPH = 2.0  # index closure at most 2x igraph's time
TARGET_NX = 20.0  # ... and at least 20x faster than networkx
TARGET_MEM = 0.3  # index memory at most 0.3x networkx's

# -- helpers ---------------------------------------------------------------------------


def _timed(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, dict[str, Any]]:
    """Median wall and CPU seconds of ``repeat`` runs of each function.

    The functions take turns (in a rotating order), so a machine that gets busier or
    quieter during the measurement affects all of them alike; gc is off while a run is
    timed, as timeit does.
    """
    names = list(fns)
    wall: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    result: dict[str, Any] = {}
    for r in range(repeat):
        for k in names[r % len(names) :] + names[: r % len(names)]:
            gc.collect()
            gc.disable()
            try:
                t0, c0 = time.perf_counter(), time.process_time()
                result[k] = fns[k]()
                c1, t1 = time.process_time(), time.perf_counter()
            finally:
                gc.enable()
            wall[k].append(t1 - t0)
            cpu[k].append(c1 - c0)
    return {
        k: {
            "s": statistics.median(wall[k]),
            "cpu_s": statistics.median(cpu[k]),
            "runs_s": wall[k],
            "result": result[k],
        }
        for k in names
    }


def store_ids(n: int, seed: int) -> list[str]:
    """Ids shaped like the store's (``ci_`` + 32 hex digits), deterministic."""
    rng = random.Random(seed * 7919 + 1)
    return [f"ci_{rng.getrandbits(128):032x}" for _ in range(n)]


class EdgeRows(Sequence[tuple[str, str, str, bool]]):
    """The estate's edges as the rows ``GraphIndex.bulk_load`` reads from SQLite, lazily."""

    def __init__(self, ids: list[str], est: Estate) -> None:
        self.ids, self.est = ids, est

    def __len__(self) -> int:
        return self.est.n_edges

    def __getitem__(self, i: int) -> tuple[str, str, str, bool]:  # type: ignore[override]
        e = self.est
        return self.ids[e.src[i]], self.ids[e.dst[i]], REL_TYPES[e.typ[i]], True

    def __iter__(self) -> Iterator[tuple[str, str, str, bool]]:
        ids, names = self.ids, REL_TYPES
        for s, d, t in zip(self.est.src, self.est.dst, self.est.typ, strict=True):
            yield ids[s], ids[d], names[t], True


def machine_info() -> dict[str, Any]:
    import igraph
    import networkx
    import psutil

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "numpy": np.__version__,
        "networkx": networkx.__version__,
        "igraph": igraph.__version__,
        "sqlite": sqlite3.sqlite_version,
    }


def git_info() -> dict[str, Any]:
    def run(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    return {"commit": run("rev-parse", "HEAD"), "dirty": bool(run("status", "--porcelain"))}


# -- 1. ingest -------------------------------------------------------------------------


def bench_ingest(
    est: Estate, batch: int, workdir: Path, budget_s: float
) -> tuple[dict[str, Any], list[str], Path]:
    """Ingest through the store; past ``budget_s`` of apply time, stop and extrapolate."""
    path = workdir / f"store-{size_label(est.size)}.db"
    for p in workdir.glob(path.name + "*"):
        p.unlink()
    store = EmbeddedStore(path)
    ids: list[str] = []
    t_apply = t_build = 0.0
    n_batches = 0
    curve: list[dict[str, float]] = []  # throughput per window of ~20k CIs
    window_t, window_n = 0.0, 0
    every = max(1, 20_000 // batch)
    changesets = est.changesets(batch)
    while True:
        t0 = time.perf_counter()
        cs = next(changesets, None)
        t1 = time.perf_counter()
        t_build += t1 - t0
        if cs is None:
            break
        res = store.apply(cs)
        dt = time.perf_counter() - t1
        t_apply += dt
        window_t += dt
        window_n += len(cs.ci_upserts)
        ids += res.ci_ids
        n_batches += 1
        assert res.created == len(cs.ci_upserts), "a fresh store created fewer CIs than sent"
        assert res.rels_created == len(cs.rel_upserts)
        over = t_apply > budget_s
        if n_batches % every == 0 or len(ids) == est.n_cis or over:
            curve.append({"cis_in_store": len(ids), "window_cis_per_s": window_n / window_t})
            print(
                f"    ingest {len(ids):>9,} CIs  {len(ids) / t_apply:,.0f} CIs/s overall,"
                f" {window_n / window_t:,.0f} CIs/s in the last {window_n:,}",
                flush=True,
            )
            window_t, window_n = 0.0, 0
        if over:
            print(f"    stopping: over the ingest budget of {budget_s:.0f} s", flush=True)
            break
    partial = len(ids) < est.n_cis

    # The same rows, as the store wrote them, into plain tables of the same shape.
    conn = sqlite3.connect(path)
    ci_rows: dict[int, list[tuple[str, str, str, str]]] = {}
    for cid, cls, name, doc, gen in conn.execute("SELECT id, class, name, doc, gen FROM cis"):
        ci_rows.setdefault(gen, []).append((cid, cls, name, doc))
    rel_rows: dict[int, list[tuple[str, str, str, str, str]]] = {}
    for row in conn.execute("SELECT id, type, source_id, target_id, doc, gen FROM rels"):
        rel_rows.setdefault(row[5], []).append(row[:5])
    conn.close()
    file_mb = sum(p.stat().st_size for p in workdir.glob(path.name + "*")) / 1e6
    raw_path = workdir / f"raw-{size_label(est.size)}.db"
    for p in workdir.glob(raw_path.name + "*"):
        p.unlink()
    raw = sqlite3.connect(raw_path, isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")
    # The store's own table layout (schema 2: rowid tables, a unique id), no other index.
    raw.execute(
        "CREATE TABLE cis (id TEXT NOT NULL UNIQUE, class TEXT NOT NULL, name TEXT NOT NULL,"
        " doc TEXT NOT NULL)"
    )
    raw.execute(
        "CREATE TABLE rels (id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,"
        " source_id TEXT NOT NULL, target_id TEXT NOT NULL, doc TEXT NOT NULL)"
    )
    t_raw = 0.0
    for gen in sorted(ci_rows.keys() | rel_rows.keys()):
        cis, rels = ci_rows.get(gen, []), rel_rows.get(gen, [])
        gc.collect()
        t0 = time.perf_counter()
        raw.execute("BEGIN")
        raw.executemany("INSERT INTO cis VALUES (?,?,?,?)", cis)
        raw.executemany("INSERT INTO rels VALUES (?,?,?,?,?)", rels)
        raw.execute("COMMIT")
        t_raw += time.perf_counter() - t0
    raw.close()
    raw_mb = sum(p.stat().st_size for p in workdir.glob(raw_path.name + "*")) / 1e6
    n_rels = sum(len(v) for v in rel_rows.values())
    del ci_rows, rel_rows

    # Idempotent re-ingest: the first batch again changes nothing and adds no history.
    first = next(est.changesets(batch))
    t0 = time.perf_counter()
    again = store.apply(first)
    t_again = time.perf_counter() - t0
    assert again.created == 0 and again.updated == 0 and again.history_rows == 0, again
    assert again.rels_created == 0 and again.rels_updated == 0, again
    store.close()

    out = {
        "cis": len(ids),
        "relationships": n_rels,
        "partial": partial,
        "batches": n_batches,
        "batch": batch,
        "store_s": t_apply,
        "store_cis_per_s": len(ids) / t_apply,
        "store_rels_per_s": n_rels / t_apply,
        "raw_s": t_raw,
        "raw_cis_per_s": len(ids) / t_raw,
        "ratio_raw_over_store": t_apply / t_raw,
        "changeset_build_s": t_build,
        "curve": curve,
        "store_file_mb": file_mb,
        "raw_file_mb": raw_mb,
        "reingest_first_batch": {
            "s": t_again,
            "created": again.created,
            "updated": again.updated,
            "unchanged": again.unchanged,
            "history_rows": again.history_rows,
        },
    }
    if partial:
        # The rest at the rate of the last window: a lower bound, the rate keeps falling.
        last = curve[-1]["window_cis_per_s"]
        out["estate_cis"] = est.n_cis
        out["extrapolated_total_s_at_least"] = t_apply + (est.n_cis - len(ids)) / last
    return out, ids, path


# -- 1b. reading every CI ----------------------------------------------------------------

TARGET_READ_PER_S = 70_000  # issue 12, target 5: all 100k CIs in <= 1.5 s


def bench_read(path: Path, repeat: int) -> dict[str, Any]:
    """Every CI of the estate through ``list_cis`` (pages of 10,000, as an export reads),
    beside the same rows read raw, raw + orjson, and raw + pydantic's full validation (how
    the store decoded before issue 12), in the same run; best of ``repeat``."""
    store = EmbeddedStore(path)
    conn = sqlite3.connect(path)

    def through_store() -> int:
        n, cursor = 0, None
        while True:
            page = store.list_cis(limit=10_000, cursor=cursor)
            n += len(page.items)
            cursor = page.next_cursor
            if cursor is None:
                return n

    def rows() -> list[tuple[str, str]]:
        return conn.execute("SELECT id, doc FROM cis ORDER BY id").fetchall()

    def raw() -> int:
        return len(rows())

    # Every reader runs as a caller would, the cyclic collector on: about half of reading
    # 100k CIs is the collector going over the models of the page in hand (measured with
    # it off for the whole read: 2.4 s instead of 5.0 s), and a baseline run with it
    # paused would leave that out.
    def raw_orjson() -> int:
        return len([orjson.loads(d) for _, d in rows()])

    def raw_validated() -> int:
        return len([CI.model_validate_json(d) for _, d in rows()])

    # And as ``cmdb export`` reads (cmdb/store/snapshot.py): the collector paused for the
    # whole read, beside the raw rows + orjson under the same condition.
    def paused(fn: Callable[[], int]) -> Callable[[], int]:
        def run() -> int:
            with gc_paused():
                return fn()

        return run

    # And as ``cmdb export`` reads them since it copies stored documents: every CI's JSON
    # text in id order (``iter_documents``), not decoded; the whole export, for reference.
    def documents() -> int:
        return sum(1 for _ in store.iter_documents(DocumentKind.CI))

    def whole_export() -> int:
        with open(os.devnull, "wb") as fh:
            return snapshot.export(store, fh)["cis"]

    out: dict[str, Any] = {}
    for name, fn in (
        ("store", through_store),
        ("store_documents", documents),
        ("export", whole_export),
        ("raw_rows", raw),
        ("raw_orjson", raw_orjson),
        ("raw_model_validate_json", raw_validated),
        ("store_gc_paused", paused(through_store)),
        ("raw_orjson_gc_paused", paused(raw_orjson)),
    ):
        best, n = float("inf"), 0
        for _ in range(repeat):
            gc.collect()
            t0 = time.perf_counter()
            n = fn()
            best = min(best, time.perf_counter() - t0)
        out[name] = {"s": best, "cis": n, "per_s": n / best}
        print(f"    read all: {name} {best:.2f} s ({n / best:,.0f} CIs/s)", flush=True)
    store.close()
    conn.close()
    return out


# -- 2. closure ------------------------------------------------------------------------


def bench_closure(
    est: Estate,
    ids: list[str],
    index: GraphIndex,
    store: EmbeddedStore | None,
    repeat: int,
    subgraph_repeat: int,
) -> dict[str, Any]:
    import igraph as ig
    import networkx as nx

    n = est.n_cis
    src, dst, _ = est.edge_arrays()
    services = est.services
    host = est.busiest_host()
    # A virtual root above every service, in the baselines only: networkx.descendants and
    # igraph.subcomponent start from one vertex, the index from a set.
    top = n
    t0 = time.perf_counter()
    g_nx = nx.DiGraph()
    g_nx.add_nodes_from(range(n + 1))
    g_nx.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    g_nx.add_edges_from((top, s) for s in services)
    t_nx_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    edges_ig = np.column_stack(
        [np.concatenate([src, np.full(len(services), top, np.int32)]),
         np.concatenate([dst, np.array(services, np.int32)])]
    )  # fmt: skip
    g_ig = ig.Graph(n=n + 1, edges=edges_ig, directed=True)
    t_ig_build = time.perf_counter() - t0

    big = 10**9
    cases = [
        ("all services, downstream (OUT)", [ids[s] for s in services], top, Direction.OUT),
        ("busiest server, upstream (IN)", [ids[host]], host, Direction.IN),
    ]
    results: list[dict[str, Any]] = []
    for label, roots, nx_root, direction in cases:
        fwd = direction is Direction.OUT

        def run_index(roots: list[str] = roots, fwd: bool = fwd) -> int:
            r = index.reach(
                roots, forward=fwd, backward=not fwd, types=None, max_depth=big, max_nodes=big
            )
            return len(r.nodes)

        def run_nx(root: int = nx_root, fwd: bool = fwd) -> int:
            found = nx.descendants(g_nx, root) if fwd else nx.ancestors(g_nx, root)
            found.discard(top)
            return len(found) + (0 if root == top else 1)

        def run_ig(root: int = nx_root, fwd: bool = fwd) -> int:
            found = g_ig.subcomponent(root, mode="out" if fwd else "in")
            return len(found) - (1 if top in found else 0)

        def run_index_edges(roots: list[str] = roots, fwd: bool = fwd) -> int:
            r = index.reach(
                roots, forward=fwd, backward=not fwd, types=None, max_depth=big, max_nodes=big
            )
            return len(r.nodes) + 0 * len(r.edges)

        run_index()  # warm: the first read may rebuild the CSR
        load0 = os.getloadavg()[0]
        m = _timed(
            {"index": run_index, "igraph": run_ig, "networkx": run_nx,
             "index_with_edges": run_index_edges},
            repeat,
        )  # fmt: skip
        counts = {k: v.pop("result") for k, v in m.items()}
        c_idx = counts["index"]
        assert c_idx == counts["networkx"] == counts["igraph"] == counts["index_with_edges"], (
            f"{label}: {counts}"
        )
        t_idx, t_ig, t_nx = m["index"]["s"], m["igraph"]["s"], m["networkx"]["s"]
        row: dict[str, Any] = {
            "case": label,
            "roots": len(roots),
            "reached_cis": c_idx,
            "index_s": t_idx,
            "igraph_s": t_ig,
            "networkx_s": t_nx,
            "index_with_edges_s": m["index_with_edges"]["s"],
            "index_over_igraph": t_idx / t_ig,
            "networkx_over_index": t_nx / t_idx,
            "cpu_index_over_igraph": m["index"]["cpu_s"] / m["igraph"]["cpu_s"],
            "cpu_networkx_over_index": m["networkx"]["cpu_s"] / m["index"]["cpu_s"],
            "loadavg_1min": [load0, os.getloadavg()[0]],
            "timings": m,
        }
        if store is not None and subgraph_repeat > 0:

            def run_subgraph(roots: list[str] = roots, direction: Direction = direction) -> int:
                sg = store.subgraph(roots, direction=direction, max_depth=big, max_nodes=big)
                assert not sg.truncated_by_depth and not sg.truncated_by_nodes
                return len(sg.nodes)

            sg = _timed({"subgraph": run_subgraph}, subgraph_repeat)["subgraph"]
            c_sg = sg.pop("result")
            assert c_sg == c_idx, f"{label}: subgraph {c_sg}, index {c_idx}"
            row["subgraph_s"] = sg["s"]
            row["subgraph_over_index"] = sg["s"] / t_idx
            row["timings"]["subgraph"] = sg
        results.append(row)
        print(
            f"    {label}: {c_idx:,} CIs  index {t_idx * 1e3:.1f} ms  igraph {t_ig * 1e3:.1f} ms"
            f"  networkx {t_nx * 1e3:.1f} ms"
            + (f"  subgraph {row['subgraph_s']:.2f} s" if "subgraph_s" in row else "")
            + f"  (load {row['loadavg_1min'][0]:.1f})",
            flush=True,
        )
    return {
        "networkx_build_s": t_nx_build,
        "igraph_build_s": t_ig_build,
        "cases": results,
    }


# -- 3. memory (each structure in a fresh subprocess) ----------------------------------


def _rss() -> int:
    import psutil

    gc.collect()
    with contextlib.suppress(OSError):  # hand freed heap back to the OS: RSS shows what lives
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return int(psutil.Process().memory_info().rss)


def memory_worker(what: str, how: str, size: int, seed: int) -> dict[str, Any]:
    """Build one structure for the estate and report what it holds; runs in a subprocess."""
    import tracemalloc

    est = generate(size, seed)
    if how == "trace":
        tracemalloc.start()
    base_rss = _rss()
    base_traced = tracemalloc.get_traced_memory()[0] if how == "trace" else 0
    t0 = time.perf_counter()
    # The structure owns its id strings: they are made after the baseline reading.
    ids = store_ids(est.n_cis, seed)
    obj: Any
    if what == "index":
        obj = GraphIndex()
        obj.bulk_load(EdgeRows(ids, est))
        nodes, edges = len(obj.ids), obj.n_edges
    elif what == "networkx":
        import networkx as nx

        obj = nx.DiGraph()
        chunk = 65536
        for lo in range(0, est.n_edges, chunk):
            obj.add_edges_from(
                (ids[s], ids[d])
                for s, d in zip(est.src[lo : lo + chunk], est.dst[lo : lo + chunk], strict=True)
            )
        nodes, edges = obj.number_of_nodes(), obj.number_of_edges()
    elif what == "igraph":
        import igraph as ig

        src, dst, _ = est.edge_arrays()
        obj = ig.Graph(n=est.n_cis, edges=np.column_stack([src, dst]), directed=True)
        obj.vs["name"] = ids
        del src, dst
        nodes, edges = obj.vcount(), obj.ecount()
    else:
        raise ValueError(what)
    build_s = time.perf_counter() - t0
    del ids
    rss = _rss() - base_rss
    traced = tracemalloc.get_traced_memory()[0] - base_traced if how == "trace" else None
    out = {
        "what": what,
        "how": how,
        "nodes": nodes,
        "edges": edges,
        "build_s": build_s,
        "rss_mb": rss / 1e6,
        "traced_mb": None if traced is None else traced / 1e6,
    }
    if what == "index":
        out["index_array_mb"] = obj.nbytes() / 1e6
    return out


def bench_memory(size: int, seed: int) -> dict[str, Any]:
    out: dict[str, Any] = {"size": size}
    for what in ("index", "networkx", "igraph"):
        for how in ("rss", "trace"):
            print(f"    memory: {what} ({how}) in a fresh process ...", flush=True)
            proc = subprocess.run(
                [sys.executable, __file__, "--_memory-worker", f"{what}:{how}",
                 "--sizes", str(size), "--seed", str(seed)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if proc.returncode != 0:
                raise RuntimeError(f"memory worker {what}/{how} failed:\n{proc.stderr}")
            out[f"{what}_{how}"] = json.loads(proc.stdout.strip().splitlines()[-1])
    idx, nx_ = out["index_rss"], out["networkx_rss"]
    out["index_rss_mb"] = idx["rss_mb"]
    out["networkx_rss_mb"] = nx_["rss_mb"]
    out["igraph_rss_mb"] = out["igraph_rss"]["rss_mb"]
    out["index_traced_mb"] = out["index_trace"]["traced_mb"]
    out["networkx_traced_mb"] = out["networkx_trace"]["traced_mb"]
    # igraph's graph lives in C allocations tracemalloc does not see: RSS only.
    out["igraph_traced_python_only_mb"] = out["igraph_trace"]["traced_mb"]
    out["ratio_rss"] = idx["rss_mb"] / nx_["rss_mb"]
    out["ratio_traced"] = out["index_traced_mb"] / out["networkx_traced_mb"]
    out["nodes"], out["edges"] = idx["nodes"], idx["edges"]
    assert idx["edges"] == nx_["edges"] and idx["nodes"] == nx_["nodes"]
    return out


# -- the table -------------------------------------------------------------------------


def _ms(s: float) -> str:
    return f"{s * 1e3:,.1f} ms" if s < 10 else f"{s:,.1f} s"


def table_rows(results: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    for size_key, r in results["sizes"].items():
        ing = r.get("ingest")
        if ing:
            what = f"ingest (apply, batches of {ing['batch']})"
            if ing["partial"]:
                whole_min = ing["extrapolated_total_s_at_least"] / 60
                what += (
                    f", stopped at {ing['cis']:,} CIs after {ing['store_s']:.0f} s;"
                    f" all {ing['estate_cis']:,}: >= {whole_min:.0f} min"
                )
            rows.append([
                size_key, what,
                f"{ing['store_cis_per_s']:,.0f} CIs/s", "raw SQLite executemany",
                f"{ing['raw_cis_per_s']:,.0f} CIs/s",
                f"raw {ing['ratio_raw_over_store']:.1f}x faster", "-", "",
            ])  # fmt: skip
        rd = r.get("read")
        if rd:
            st = rd["store"]
            ok = st["per_s"] >= TARGET_READ_PER_S
            first = "read every CI (list_cis, pages of 10k)"
            for base, label in (
                ("raw_rows", "raw SQLite rows"),
                ("raw_orjson", "raw rows + orjson.loads"),
                ("raw_model_validate_json", "raw rows + model_validate_json (before)"),
            ):
                b = rd[base]
                rows.append([
                    size_key, first if base == "raw_rows" else "",
                    f"{st['per_s']:,.0f} CIs/s" if base == "raw_rows" else "",
                    label, f"{b['per_s']:,.0f} CIs/s", f"store {st['s'] / b['s']:.2f}x its time",
                    f">= {TARGET_READ_PER_S:,} CIs/s" if base == "raw_rows" else "",
                    ("yes" if ok else "NO") if base == "raw_rows" else "",
                ])  # fmt: skip
            if "store_gc_paused" in rd:
                sp, bp = rd["store_gc_paused"], rd["raw_orjson_gc_paused"]
                rows.append([
                    size_key, "  the same as export reads (collector paused)",
                    f"{sp['per_s']:,.0f} CIs/s", "raw rows + orjson.loads, paused",
                    f"{bp['per_s']:,.0f} CIs/s", f"store {sp['s'] / bp['s']:.2f}x its time",
                    f">= {TARGET_READ_PER_S:,} CIs/s",
                    "yes" if sp["per_s"] >= TARGET_READ_PER_S else "NO",
                ])  # fmt: skip
            if "store_documents" in rd:
                sd, bp, ex = rd["store_documents"], rd["raw_rows"], rd["export"]
                rows.append([
                    size_key, "  as export reads (stored documents, not decoded)",
                    f"{sd['per_s']:,.0f} CIs/s", "raw SQLite rows",
                    f"{bp['per_s']:,.0f} CIs/s", f"store {sd['s'] / bp['s']:.2f}x its time",
                    f">= {TARGET_READ_PER_S:,} CIs/s",
                    "yes" if sd["per_s"] >= TARGET_READ_PER_S else "NO",
                ])  # fmt: skip
                rows.append([
                    size_key, "  the whole export (snapshot.export, every section)",
                    f"{ex['s']:.2f} s", "-", "-", "-", "-", "",
                ])  # fmt: skip
        clo = r.get("closure")
        if clo:
            for c in clo["cases"]:
                what = f"closure: {c['case']} -> {c['reached_cis']:,} CIs"
                ok_ig = c["index_over_igraph"] <= TARGET_IGRAPH
                ok_nx = c["networkx_over_index"] >= TARGET_NX
                nx_fn = "descendants" if "(OUT)" in c["case"] else "ancestors"
                rows.append([
                    size_key, what, _ms(c["index_s"]), "igraph subcomponent", _ms(c["igraph_s"]),
                    f"index {c['index_over_igraph']:.2f}x igraph"
                    f" (cpu {c['cpu_index_over_igraph']:.2f}x)",
                    f"<= {TARGET_IGRAPH:g}x", "yes" if ok_ig else "NO",
                ])  # fmt: skip
                rows.append([
                    size_key, "", "", f"networkx {nx_fn}", _ms(c["networkx_s"]),
                    f"index {c['networkx_over_index']:.1f}x faster"
                    f" (cpu {c['cpu_networkx_over_index']:.1f}x)",
                    f">= {TARGET_NX:g}x", "yes" if ok_nx else "NO",
                ])  # fmt: skip
                rows.append([
                    size_key, "", "", "index, edge list too", _ms(c["index_with_edges_s"]),
                    f"{c['index_with_edges_s'] / c['igraph_s']:.2f}x igraph", "-", "",
                ])  # fmt: skip
                if "subgraph_s" in c:
                    rows.append([
                        size_key, "", "", "store.subgraph (+ CI/rel docs)", _ms(c["subgraph_s"]),
                        f"subgraph {c['subgraph_over_index']:.0f}x index", "-", "",
                    ])  # fmt: skip
    mem = results.get("memory")
    if mem:
        key = size_label(mem["size"])
        what = f"memory: {mem['nodes']:,} CIs / {mem['edges']:,} rels"
        for how, label in (("rss", "RSS growth"), ("traced", "traced (tracemalloc)")):
            ratio = mem[f"ratio_{how}"]
            rows.append([
                key, f"{what}, {label}", f"{mem[f'index_{how}_mb']:,.0f} MB", "networkx DiGraph",
                f"{mem[f'networkx_{how}_mb']:,.0f} MB", f"index {ratio:.2f}x networkx",
                f"<= {TARGET_MEM:g}x", "yes" if ratio <= TARGET_MEM else "NO",
            ])  # fmt: skip
            if how == "rss":  # tracemalloc does not see igraph's C allocations
                rows.append([
                    key, "", "", "igraph (for reference)", f"{mem['igraph_rss_mb']:,.0f} MB",
                    f"index {mem['index_rss_mb'] / mem['igraph_rss_mb']:.2f}x igraph", "-", "",
                ])  # fmt: skip
    return rows


HEADERS = [
    "size", "measure", "embedded store", "baseline", "baseline value", "ratio", "target", "met",
]  # fmt: skip


def print_table(rows: list[list[str]]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table

        t = Table(title="graph-cmdb embedded store benchmark")
        for h in HEADERS:
            t.add_column(h, overflow="fold")
        for r in rows:
            t.add_row(*r)
        Console(width=200).print(t)
    except ImportError:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]
        print("  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True)))
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="10k,100k", help="estate sizes, e.g. 10k,100k,1m")
    ap.add_argument("--out", default=str(ROOT / "bench/results/store.json"))
    ap.add_argument("--batch", type=int, default=5000, help="CIs per change set")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeat", type=int, default=7, help="timed runs per closure (median)")
    ap.add_argument("--subgraph-repeat", type=int, default=3)
    ap.add_argument("--read-repeat", type=int, default=3, help="runs of each full read")
    ap.add_argument(
        "--ingest-sizes",
        default=None,
        help="sizes ingested through the store (default: all of --sizes); the others run"
        " the closure on an index bulk-loaded from the generated edges",
    )
    ap.add_argument(
        "--memory-size", default=None, help="size of the memory comparison (default: 1m if in"
        " --sizes, else none); 'none' to skip"
    )  # fmt: skip
    ap.add_argument(
        "--ingest-budget-s",
        type=float,
        default=600.0,
        help="stop an ingest after this much apply time, measure what was ingested and"
        " extrapolate the rest (default 600)",
    )
    ap.add_argument("--parts", default="ingest,read,closure,memory")
    ap.add_argument("--workdir", default=str(ROOT / "bench/results/tmp"))
    ap.add_argument("--keep-files", action="store_true", help="keep the SQLite files")
    ap.add_argument("--_memory-worker", dest="memory_worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.memory_worker:
        what, how = args.memory_worker.split(":")
        print(json.dumps(memory_worker(what, how, parse_size(args.sizes), args.seed)))
        return 0

    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    parts = {p.strip() for p in args.parts.split(",")}
    ingest_sizes = (
        set(sizes) if args.ingest_sizes is None
        else {parse_size(s) for s in args.ingest_sizes.split(",") if s.strip()}
    )  # fmt: skip
    mem_size: int | None
    if args.memory_size is None:
        mem_size = 1_000_000 if 1_000_000 in sizes else None
    elif args.memory_size.lower() == "none":
        mem_size = None
    else:
        mem_size = parse_size(args.memory_size)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    results: dict[str, Any] = {
        "benchmark": "bench/store.py",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "argv": sys.argv[1:] if argv is None else argv,
        "machine": machine_info(),
        "git": git_info(),
        "targets": {
            "closure_index_over_igraph_max": TARGET_IGRAPH,
            "closure_networkx_over_index_min": TARGET_NX,
            "memory_index_over_networkx_max": TARGET_MEM,
        },
        "sizes": {},
    }
    for size in sizes:
        if not parts & {"ingest", "closure", "read"}:
            break
        key = size_label(size)
        print(f"== {key}", flush=True)
        t0 = time.perf_counter()
        est = generate(size, args.seed)
        r: dict[str, Any] = {
            "cis": est.n_cis,
            "relationships": est.n_edges,
            "rels_per_ci": est.n_edges / est.n_cis,
            "services": len(est.services),
            "by_class": est.class_counts(),
            "by_type": est.type_counts(),
            "generate_s": time.perf_counter() - t0,
        }
        print(f"  estate: {est.n_cis:,} CIs, {est.n_edges:,} relationships", flush=True)
        results["sizes"][key] = r
        store: EmbeddedStore | None = None
        path: Path | None = None
        if "ingest" in parts and size in ingest_sizes:
            print("  ingest ...", flush=True)
            r["ingest"], ids, path = bench_ingest(est, args.batch, workdir, args.ingest_budget_s)
            ing = r["ingest"]
            if ing["partial"]:
                print(
                    f"    partial: {ing['cis']:,} of {est.n_cis:,} CIs in {ing['store_s']:.0f} s;"
                    f" the whole estate would take at least"
                    f" {ing['extrapolated_total_s_at_least'] / 60:.0f} min",
                    flush=True,
                )
            print(
                f"    store {ing['store_cis_per_s']:,.0f} CIs/s, raw {ing['raw_cis_per_s']:,.0f}"
                f" CIs/s ({ing['store_s']:.1f} s vs {ing['raw_s']:.1f} s)",
                flush=True,
            )
        if "read" in parts and path is not None and not r["ingest"]["partial"]:
            print("  read all CIs ...", flush=True)
            r["read"] = bench_read(path, args.read_repeat)
        if "closure" in parts:
            print("  closure ...", flush=True)
            if path is not None and not r["ingest"]["partial"]:
                # Reopen, as after a restart: the index loads from SQLite on the first read.
                store = EmbeddedStore(path)
                t0 = time.perf_counter()
                index = store._graph()
                r["index_load_from_sqlite_s"] = time.perf_counter() - t0
                r["index_source"] = "store (loaded from SQLite)"
            else:
                ids = store_ids(est.n_cis, args.seed)
                t0 = time.perf_counter()
                index = GraphIndex()
                index.bulk_load(EdgeRows(ids, est))
                r["index_bulk_load_s"] = time.perf_counter() - t0
                r["index_source"] = "bulk_load of the generated edges (no store)"
            assert index.n_edges == est.n_edges, (index.n_edges, est.n_edges)
            r["closure"] = bench_closure(
                est, ids, index, store, args.repeat, args.subgraph_repeat if store else 0
            )
            if store is not None:
                store.close()
            del index
        if path is not None and not args.keep_files:
            for p in workdir.glob(f"*-{key}.db*"):
                p.unlink()
        del est
        gc.collect()
    if "memory" in parts and mem_size is not None:
        print(f"== memory at {size_label(mem_size)}", flush=True)
        results["memory"] = bench_memory(mem_size, args.seed)
    if not args.keep_files and workdir.exists() and not any(workdir.iterdir()):
        shutil.rmtree(workdir)

    rows = table_rows(results)
    results["table_markdown"] = markdown_table(rows)
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print_table(rows)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
