"""API under load: 50 concurrent readers plus one discovery job, against ``cmdb serve``.

Issue 12, target 7: on 2 cores, under 50 concurrent readers and one discovery job pushing
an inventory periodically, the API serves >= 4x the requests/s measured when the issue was
filed (75 req/s on Neo4j, 92 req/s embedded: that server is not available in the same run,
so those figures are quoted as the reference), with the p99 of an impact call <= 500 ms
and no errors. In the same run, for each store, the same load is driven against
``cmdb serve`` (one worker) and ``cmdb serve --workers 2``: the single worker is the
baseline measured beside it.

What one run does, per store (embedded, Neo4j):

1. loads a generated estate (bench/estate.py, as bench/api.py does) into the store: a
   SQLite file, or a private local Neo4j (``find_or_start``; stopped at the end);
2. starts ``cmdb serve --port P [--workers N]`` on 127.0.0.1 only, configured by
   ``CMDB_*`` variables, and waits until every worker has started and
   ``/api/v1/health`` answers (readers connect once: a worker still starting would get
   none of them);
3. for ``--duration`` seconds (after ``--warmup``), 50 readers (each its own client
   session of ``--clients``, aiohttp by default, httpx in the runs before 2026-12-07; one
   keep-alive connection, no think time) pick a request from
   a fixed mix: one CI, a filtered page, a name search, a CI's neighbours, a change's
   impact, a small GraphQL query; one discovery job pushes a JSON inventory of
   ``--push-cis`` CIs (some with a changed attribute) every ``--push-every`` seconds;
4. prints requests/s, p50/p95/p99 per kind and error counts, with the server's CPU time
   per request and the client's CPU seconds (the client shares the 2 cores), and the load
   average. On a machine shared with other jobs the requests/s follow the CPU the server
   was given; its CPU per request is the steadier figure.

Run: ``.venv/bin/python bench/api_load.py --duration 60`` (``--stores embedded`` to skip
Neo4j; ``--profile DIR`` records each server with py-spy; ``--baseline-tree DIR`` serves a
second copy of the packages too, config by config, e.g. the API as it was before a change:
``git archive REV cmdb/api cmdb/gql | tar -x -C DIR`` over a copy of cmdb, discovery and
impact). JSON in bench/results/api_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != BENCH)]
sys.path.append(str(BENCH))

import aiohttp  # noqa: E402
import httpx  # noqa: E402
import psutil  # type: ignore[import-untyped]  # noqa: E402

from cmdb.auth.backends import tokens_for  # noqa: E402
from cmdb.auth.roles import Role  # noqa: E402
from cmdb.config import Settings  # noqa: E402
from cmdb.store.contract import CIFilter, GraphStore  # noqa: E402

# isort: split
from estate import CLASSES, REL_TYPES, Estate, generate, parse_size, size_label  # noqa: E402
from store import git_info  # noqa: E402

# Figures measured when issue 12 was filed (same machine, same load shape): not
# reproducible in this run, quoted as the reference the target multiplies.
ISSUE_RPS = {"embedded": 92.0, "neo4j": 75.0}
TARGET_FACTOR = 4.0
TARGET_IMPACT_P99_S = 0.5

# The readers' mix, by weight: what a person at the impact map or a script reads most.
MIX: dict[str, int] = {
    "ci": 35,
    "list": 15,
    "search": 12,
    "neighbours": 20,
    "impact": 10,
    "graphql": 8,
}
GQL = "query One($ref: String!) { ci(ref: $ref) { id name status dependsOn { id name } } }"
# Searches: words of service names (a few CIs each: the store scans for them) and tiers
# (thousands of CIs: the first page fills at once).
WORDS = ("pay", "check", "cat", "search", "ident", "bill", "ledger", "web", "api", "gateway")
START = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)


# -- the estate in a store ----------------------------------------------------------------


@dataclass
class Targets:
    """What the readers ask about: ids sampled from the loaded store."""

    any_ci: list[str]
    vms: list[str]
    classes: list[str] = field(default_factory=lambda: list(CLASSES))


def sample_targets(store: GraphStore, rng: random.Random) -> Targets:
    by_class = {
        c: [ci.id for ci in store.list_cis(CIFilter(ci_class=c), limit=1000).items] for c in CLASSES
    }
    every = [i for ids in by_class.values() for i in ids]
    return Targets(any_ci=rng.sample(every, min(2000, len(every))), vms=by_class["VirtualMachine"])


def load(store: GraphStore, est: Estate) -> float:
    t0 = time.perf_counter()
    for cs in est.changesets(5000):
        store.apply(cs)
    return time.perf_counter() - t0


@dataclass
class Opened:
    """A loaded store: the server's CMDB_* settings, the store in this process, and the
    database server's process when it is a separate one (Neo4j started here)."""

    env: dict[str, str]
    store: GraphStore
    database: psutil.Process | None = None


@contextmanager
def embedded(est: Estate, tmp: Path) -> Iterator[Opened]:
    from cmdb.store.embedded.store import EmbeddedStore

    db = tmp / "cmdb.db"
    store = EmbeddedStore(db)
    took = load(store, est)
    print(f"embedded: loaded {est.n_cis:,} CIs in {took:.1f} s", file=sys.stderr)
    try:
        yield Opened({"CMDB_STORE": "embedded", "CMDB_DB_PATH": str(db)}, store)
    finally:
        store.close()


@contextmanager
def neo4j(est: Estate) -> Iterator[Opened]:
    from neo4j import GraphDatabase

    from cmdb.store.neo4j.migrations import migrate
    from cmdb.store.neo4j.store import Neo4jStore
    from devsupport.neo4j_local import find_or_start

    server = find_or_start(ROOT)
    driver = GraphDatabase.driver(
        server.uri, auth=(server.user, server.password), notifications_min_severity="OFF"
    )
    try:
        migrate(driver, "neo4j")
        with driver.session() as s:
            s.run(
                "MATCH (n) WHERE NOT n:CmdbMigration "
                "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 20000 ROWS"
            ).consume()
        store = Neo4jStore(driver, owns_driver=False)
        took = load(store, est)
        print(f"neo4j: loaded {est.n_cis:,} CIs in {took:.1f} s", file=sys.stderr)
        env = {
            "CMDB_STORE": "neo4j",
            "CMDB_NEO4J_URI": server.uri,
            "CMDB_NEO4J_USER": server.user,
            "CMDB_NEO4J_PASSWORD": server.password,
        }
        # The database's CPU counts too: it shares the 2 cores with the API.
        jvm = psutil.Process(server.process.pid) if server.process is not None else None
        yield Opened(env, store, jvm)
    finally:
        driver.close()
        server.stop()


# -- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(
    env: dict[str, str], workers: int, log: Path, tree: Path | None = None
) -> Iterator[tuple[str, psutil.Process]]:
    """``cmdb serve`` on loopback, stopped (SIGTERM, then SIGKILL) when the block ends;
    from ``tree`` (another copy of the packages) when given."""
    port = free_port()
    cmd = [sys.executable, "-m", "cmdb.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    where = {"PYTHONPATH": str(tree)} if tree is not None else {}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env={**os.environ, **env, **where}, cwd=tree, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                # Every worker up (uvicorn logs its startup once per worker), not only the
                # first to answer: the readers connect once, at the start, and the
                # connections made before a worker listens all go to the others.
                up = log.read_bytes().count(b"Application startup complete") >= workers
                if up and httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.25)
        yield base, psutil.Process(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(proc: psutil.Process) -> float:
    """CPU of the server and its worker processes (user + system)."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


# -- the load -----------------------------------------------------------------------------


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    every: int = 0  # reads answered, warm-up included (what the server's CPU time covers)

    def add(self, kind: str, seconds: float, error: str | None) -> None:
        if error is None:
            self.latencies.setdefault(kind, []).append(seconds)
            return
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.error_samples) < 10:
            self.error_samples.append(f"{kind}: {error}")


def request_for(kind: str, t: Targets, rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    """(method, path, httpx keyword arguments) of one request of ``kind``."""
    if kind == "ci":
        return "GET", f"/api/v1/cis/{rng.choice(t.any_ci)}", {}
    if kind == "list":
        return "GET", "/api/v1/cis", {"params": {"class": rng.choice(t.classes), "limit": 50}}
    if kind == "search":
        return "GET", "/api/v1/cis", {"params": {"name_contains": rng.choice(WORDS), "limit": 20}}
    if kind == "neighbours":
        return "GET", f"/api/v1/cis/{rng.choice(t.any_ci)}/neighbours", {}
    if kind == "impact":
        body: dict[str, Any] = {
            "cis": [rng.choice(t.vms)],
            "start": START.isoformat(),
            "end": (START + timedelta(hours=1)).isoformat(),
        }
        return "POST", "/api/v1/impact/change", {"json": body}
    if kind == "graphql":
        query = {"query": GQL, "variables": {"ref": rng.choice(t.any_ci)}}
        return "POST", "/graphql", {"json": query}
    raise ValueError(kind)


class Conn:
    """One reader's keep-alive connection, through the load's HTTP client library:
    ``aiohttp`` (C-accelerated parsing; the default) or ``httpx`` (pure-Python h11, the
    client of the runs before 2026-12-07). The client shares the machine's 2 cores with the
    server and the database, and a heavy answer (an impact of up to 1.8 MB) costs the
    client its parsing before the request's time is taken."""

    def __init__(self, client: str, base: str, headers: dict[str, str], timeout: float) -> None:
        self.client, self.base, self.headers, self.timeout = client, base, headers, timeout

    async def __aenter__(self) -> Conn:
        if self.client == "httpx":
            self._httpx = httpx.AsyncClient(
                base_url=self.base, headers=self.headers, timeout=self.timeout
            )
        else:
            self._aio = aiohttp.ClientSession(
                base_url=self.base,
                headers=self.headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=1),
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.client == "httpx":
            await self._httpx.aclose()
        else:
            await self._aio.close()

    async def request(self, method: str, path: str, **kw: Any) -> tuple[int, bytes]:
        """(status, body); an error of the connection raises ConnError."""
        try:
            if self.client == "httpx":
                r = await self._httpx.request(method, path, **kw)
                return r.status_code, r.content
            if "content" in kw:
                kw["data"] = kw.pop("content")
            async with self._aio.request(method, path, **kw) as got:
                return got.status, await got.read()
        except (httpx.HTTPError, aiohttp.ClientError, TimeoutError) as exc:
            raise ConnError(f"{type(exc).__name__}: {exc}") from exc


class ConnError(Exception):
    pass


async def reader(
    n: int,
    base: str,
    headers: dict[str, str],
    t: Targets,
    until: float,
    warm: float,
    tally: Tally,
    client: str,
) -> None:
    rng = random.Random(n)
    kinds, weights = list(MIX), list(MIX.values())
    async with Conn(client, base, headers, 60) as conn:
        while (now := time.monotonic()) < until:
            kind = rng.choices(kinds, weights)[0]
            method, path, kw = request_for(kind, t, rng)
            t0 = time.perf_counter()
            error: str | None = None
            try:
                status, body = await conn.request(method, path, **kw)
                if status >= 400:
                    error = f"HTTP {status} {body[:200]!r}"
                elif kind == "graphql" and b'"errors"' in body:
                    error = repr(body[:200])
            except ConnError as exc:
                error = str(exc)
            tally.every += 1
            if now >= warm:
                tally.add(kind, time.perf_counter() - t0, error)


def inventory(est: Estate, lo: int, hi: int, round_no: int) -> bytes:
    """A generic JSON import of CIs lo..hi (their own identifiers, so they reconcile
    against the stored CIs) and the edges among them; one CI in ten changes each round."""
    cis = []
    for i in range(lo, hi):
        up = est.upsert(i, est.identifier(i))
        attrs = {"seen_by": "api-load"}
        if i % 10 == round_no % 10:
            attrs["round"] = str(round_no)
        cis.append(
            {
                "key": f"e{i}",
                "class": CLASSES[est.cls[i]],
                "name": est.names[i],
                "identifiers": [i.model_dump(mode="json") for i in up.identifiers],
                "attributes": attrs,
            }
        )
    rels = [
        {"source": f"e{s}", "type": REL_TYPES[ty], "target": f"e{d}"}
        for s, d, ty in zip(est.src, est.dst, est.typ, strict=True)
        if lo <= s < hi and lo <= d < hi
    ]
    return json.dumps({"version": 1, "cis": cis, "relationships": rels}).encode()


async def discovery_job(
    base: str,
    headers: dict[str, str],
    est: Estate,
    push_cis: int,
    every: float,
    until: float,
    warm: float,
    tally: Tally,
    client: str,
) -> None:
    lo = est.n_cis // 2
    hi = min(est.n_cis, lo + push_cis)
    params = {"format": "json", "source": "api-load-job", "scope": "api-load"}
    async with Conn(client, base, headers, 120) as conn:
        round_no = 0
        while time.monotonic() < until:
            started = time.monotonic()
            body = inventory(est, lo, hi, round_no)
            t0 = time.perf_counter()
            error: str | None = None
            try:
                code, answer = await conn.request(
                    "POST", "/api/v1/discovery/runs", params=params, content=body
                )
                if code >= 400:
                    error = f"HTTP {code} {answer[:200]!r}"
                elif (status := json.loads(answer)["run"]["status"]) != "succeeded":
                    error = f"run {status}: {answer[:200]!r}"
            except ConnError as exc:
                error = str(exc)
            if started >= warm or round_no == 0:
                tally.add("discovery push", time.perf_counter() - t0, error)
            round_no += 1
            # Never past the end of the load: a long --push-every must not hold the run.
            rest = min(every - (time.monotonic() - started), until - time.monotonic())
            await asyncio.sleep(max(0.0, rest))


async def drive(
    base: str,
    tokens: dict[str, str],
    t: Targets,
    est: Estate,
    args: argparse.Namespace,
    client: str,
    warmup: float,
) -> Tally:
    tally = Tally()
    warm = time.monotonic() + warmup
    until = warm + args.duration
    read = {"Authorization": f"Bearer {tokens['reader']}"}
    push = {"Authorization": f"Bearer {tokens['discovery']}"}
    await asyncio.gather(
        *(reader(n, base, read, t, until, warm, tally, client) for n in range(args.readers)),
        discovery_job(base, push, est, args.push_cis, args.push_every, until, warm, tally, client),
    )
    return tally


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarise(tally: Tally, seconds: float) -> dict[str, Any]:
    kinds = {}
    for kind in [*MIX, "discovery push"]:
        lat = tally.latencies.get(kind, [])
        kinds[kind] = {
            "n": len(lat),
            "errors": tally.errors.get(kind, 0),
            "p50_ms": pct(lat, 0.50) * 1000,
            "p95_ms": pct(lat, 0.95) * 1000,
            "p99_ms": pct(lat, 0.99) * 1000,
            "mean_ms": statistics.fmean(lat) * 1000 if lat else float("nan"),
        }
    reads = sum(kinds[k]["n"] for k in MIX)
    return {
        "rps": reads / seconds,
        "requests": reads,
        "errors": sum(tally.errors.values()),
        "reads_with_warmup": tally.every,
        "kinds": kinds,
        "error_samples": tally.error_samples,
    }


# -- the run ------------------------------------------------------------------------------


def run_config(
    store_name: str,
    env: dict[str, str],
    database: psutil.Process | None,
    workers: int,
    tokens: dict[str, str],
    t: Targets,
    est: Estate,
    args: argparse.Namespace,
    tmp: Path,
    variant: str = "",
    tree: Path | None = None,
    client: str = "aiohttp",
    first: bool = False,
) -> dict[str, Any]:
    label = f"{store_name}, {workers} worker{'s' if workers > 1 else ''}"
    label += f", {variant}" if variant else ""
    name = f"{store_name}-w{workers}{'-' + variant.split()[0] if variant else ''}"
    if len(args.clients.split(",")) > 1:
        label += f", {client} client"
        name += f"-{client}"
    # The store's first config also warms the database (its JVM compiles the queries' hot
    # paths over the first minute): that config would otherwise measure it cold.
    warmup = args.warmup + (args.db_warmup if first and database is not None else 0.0)
    print(f"{label}: {args.duration:.0f} s of load ...", file=sys.stderr)
    with serve(env, workers, tmp / f"serve-{name}.log", tree) as (base, proc):
        spy = None
        if args.profile:
            out = Path(args.profile) / f"{name}.txt"
            out.parent.mkdir(parents=True, exist_ok=True)
            spy = subprocess.Popen(
                [
                    shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "--pid",
                    str(proc.pid),
                    "--subprocesses",
                    # Only the thread holding the GIL: the others, waiting for it after a
                    # socket call, would otherwise show as time in that call.
                    "--gil",
                    "-f",
                    "raw",
                    "-r",
                    "100",
                    "-d",
                    str(int(warmup + args.duration)),
                    "-o",
                    str(out),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        cpu0, client0, load0 = cpu_seconds(proc), time.process_time(), os.getloadavg()
        db0 = cpu_seconds(database) if database is not None else 0.0
        t0 = time.monotonic()
        tally = asyncio.run(drive(base, tokens, t, est, args, client, warmup))
        wall = time.monotonic() - t0
        server_cpu = cpu_seconds(proc) - cpu0
        db_cpu = cpu_seconds(database) - db0 if database is not None else None
        client_cpu = time.process_time() - client0
        if spy is not None:
            spy.wait(timeout=60)
    result = summarise(tally, args.duration)
    result.update(
        {
            "store": store_name,
            "workers": workers,
            "variant": variant,
            "client": client,
            "label": label,
            "wall_s": wall,
            "server_cpu_s": server_cpu,
            "database_cpu_s": db_cpu,
            "client_cpu_s": client_cpu,
            "load_average_before": load0,
            "load_average_after": os.getloadavg(),
        }
    )
    print(
        f"  {result['rps']:.0f} req/s, impact p99 {result['kinds']['impact']['p99_ms']:.0f} ms, "
        f"{result['errors']} errors",
        file=sys.stderr,
    )
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="10k", help="estate size (bench/estate.py)")
    ap.add_argument("--stores", default="embedded,neo4j")
    ap.add_argument("--workers", default="1,2", help="server processes to compare")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of measured load")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    ap.add_argument(
        "--db-warmup",
        type=float,
        default=30.0,
        help="more seconds before the first config measures, to warm a database server",
    )
    ap.add_argument("--readers", type=int, default=50)
    ap.add_argument("--push-cis", type=int, default=300, help="CIs per discovery push")
    ap.add_argument("--push-every", type=float, default=10.0, help="seconds between pushes")
    ap.add_argument("--profile", default=None, help="record each server with py-spy here")
    ap.add_argument(
        "--baseline-tree",
        default=None,
        help="a copy of the packages (cmdb, discovery, impact) to serve as the baseline too",
    )
    ap.add_argument("--baseline-name", default="before", help="its label in the table")
    ap.add_argument(
        "--clients",
        default="aiohttp",
        help="the load's HTTP client library, or several to compare: aiohttp, httpx",
    )
    ap.add_argument("--out", default=str(BENCH / "results" / "api_load.json"))
    args = ap.parse_args()

    size = parse_size(args.size)
    est = generate(size)
    rng = random.Random(7)
    tmp = Path(tempfile.mkdtemp(prefix="cmdb-bench-api-load-"))
    tokens_path = tmp / "tokens.db"
    common = {"CMDB_TOKENS_PATH": str(tokens_path), "CMDB_TOKEN_RATE_PER_MIN": "1000000"}
    results: list[dict[str, Any]] = []
    workers = [int(w) for w in args.workers.split(",")]
    variants: list[tuple[str, Path | None]] = [("", None)]
    if args.baseline_tree:
        variants.insert(0, (args.baseline_name, Path(args.baseline_tree).resolve()))
    for store_name in args.stores.split(","):
        opener = embedded(est, tmp) if store_name == "embedded" else neo4j(est)
        with opener as opened:
            targets = sample_targets(opened.store, rng)
            # Where the server looks tokens up: a file beside an embedded store, the
            # database itself for Neo4j (shared by every worker and server).
            issuer = tokens_for(opened.store, Settings(tokens_path=tokens_path))
            tokens = {
                "reader": issuer.create("load-reader", Role.VIEWER)[0],
                "discovery": issuer.create("load-discovery", Role.DISCOVERY)[0],
            }
            env = {**common, **opened.env}
            for i, w in enumerate(workers):
                # The server before, then this one, then the other way round (ABBA): the
                # database's JVM warms up over the first minutes, favouring whichever goes
                # second, and a change in the machine's load falls on both alike.
                combos = [(v, tr, c) for v, tr in variants for c in args.clients.split(",")]
                for variant, tree, client in combos if i % 2 == 0 else combos[::-1]:
                    results.append(
                        run_config(
                            store_name,
                            env,
                            opened.database,
                            w,
                            tokens,
                            targets,
                            est,
                            args,
                            tmp,
                            variant,
                            tree,
                            client,
                            first=i == 0 and (variant, tree, client) == combos[0],
                        )
                    )

    print_table(results, size, args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "benchmark": "api_load",
                "size": size_label(size),
                "cis": est.n_cis,
                "relationships": est.n_edges,
                "at": datetime.now(UTC).isoformat(),
                "load_average": os.getloadavg(),
                "cpus": os.cpu_count(),
                "args": vars(args),
                "mix": MIX,
                "issue_reference_rps": ISSUE_RPS,
                "git": git_info(),
                "results": results,
            },
            indent=2,
            default=str,
        )
    )
    print(f"\nwrote {out}")


def print_table(results: list[dict[str, Any]], size: int, args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=220)
    summary = Table(
        title=f"API under {args.readers} readers + 1 discovery job, {size_label(size)} estate, "
        f"{args.duration:.0f} s each, {os.cpu_count()} cores, {args.clients} client "
        f"(load average now {os.getloadavg()[0]:.1f})"
    )
    for col in (
        "store, server",
        "req/s",
        "x 1 worker (same run)",
        "x baseline server (same run)",
        "x issue figure (not this run)",
        "impact p99",
        "errors",
        "server CPU ms / request",
        "database CPU ms / request",
        "client CPU s",
        "load avg before/after",
        "target >= 4x, p99 <= 500 ms, 0 errors",
    ):
        summary.add_column(col)
    single = {(r["store"], r["variant"]): r["rps"] for r in results if r["workers"] == 1}
    before = {(r["store"], r["workers"]): r["rps"] for r in results if r["variant"]}
    for r in results:
        ref = ISSUE_RPS.get(r["store"], float("nan"))
        p99 = r["kinds"]["impact"]["p99_ms"]
        met = (
            not r["variant"]
            and r["rps"] >= TARGET_FACTOR * ref
            and p99 <= TARGET_IMPACT_P99_S * 1000
            and r["errors"] == 0
        )
        base = single.get((r["store"], r["variant"]))
        old = None if r["variant"] else before.get((r["store"], r["workers"]))
        summary.add_row(
            r["label"],
            f"{r['rps']:.0f}",
            f"{r['rps'] / base:.2f}x" if base else "-",
            f"{r['rps'] / old:.2f}x" if old else "-",
            f"{r['rps'] / ref:.2f}x of {ref:.0f}",
            f"{p99:.0f} ms",
            str(r["errors"]),
            f"{1000 * r['server_cpu_s'] / max(1, r['reads_with_warmup']):.1f}",
            "-"
            if r["database_cpu_s"] is None
            else f"{1000 * r['database_cpu_s'] / max(1, r['reads_with_warmup']):.1f}",
            f"{r['client_cpu_s']:.0f}",
            f"{r['load_average_before'][0]:.1f} / {r['load_average_after'][0]:.1f}",
            "-" if r["variant"] else "yes" if met else "NO",
        )
    console.print(summary)
    detail = Table(title="latency per kind (ms): p50 / p95 / p99, requests, errors")
    detail.add_column("kind")
    for r in results:
        detail.add_column(r["label"])
    for kind in [*MIX, "discovery push"]:
        cells = []
        for r in results:
            k = r["kinds"][kind]
            cells.append(
                f"{k['p50_ms']:.0f} / {k['p95_ms']:.0f} / {k['p99_ms']:.0f}  "
                f"(n={k['n']}, err={k['errors']})"
            )
        detail.add_row(kind, *cells)
    console.print(detail)
    for r in results:
        for sample in r["error_samples"]:
            console.print(f"[red]{r['label']}: {sample}[/red]")


if __name__ == "__main__":
    main()
