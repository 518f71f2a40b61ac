"""API benchmark: what the HTTP and GraphQL shells add on top of the engine and the store.

Three figures, each beside its baseline measured in the same run (issue 6):

1. **Impact through REST** (``POST /api/v1/impact/change`` on a real uvicorn server over
   loopback) against the same ``impact.queries.change_impact`` call in-process on the same
   store file. Target: REST <= 1.5x in-process + 1 ms.
2. **GraphQL, 1,000 CIs two levels deep** (``cis(first: 1000) { dependsOn { runsOn } }``):
   the store round trips it costs (counted in-process through a counting proxy; target: at
   most one per level of the query) and its time against the single REST call that returns
   the same 1,000 CIs without their relationships (``GET /cis?limit=1000``; target <= 3x).
   For reference, the REST client that assembles the same two levels itself (one
   neighbours call per CI) is timed too.
3. **Requests per second on one CI** (``GET /api/v1/cis/{id}``, the same CI every time,
   so SQLite's page cache holds it) against a bare Starlette endpoint that returns the same
   bytes, both under uvicorn with one worker, loaded by ``wrk`` (if installed; else a
   Python client, which is then the bottleneck and says so).

The estate comes from bench/estate.py (the store benchmark's generator) in the embedded
store. Run: ``.venv/bin/python bench/api.py --size 10k``; results in bench/results/api.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
# The project root first (so ``cmdb`` and ``impact`` are the packages); bench/ last, for
# estate.py and store.py.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != BENCH)]
sys.path.append(str(BENCH))

import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from cmdb.auth.roles import Role  # noqa: E402
from cmdb.auth.tokens import TokenStore  # noqa: E402
from cmdb.config import Settings  # noqa: E402
from cmdb.server.app import create_app  # noqa: E402
from cmdb.store.contract import GraphStore  # noqa: E402
from cmdb.store.embedded.store import EmbeddedStore  # noqa: E402
from impact.queries import change_impact  # noqa: E402

# isort: split
# After the packages: bench/store.py puts bench/ first on sys.path when imported.
from estate import VM, generate, parse_size, size_label  # noqa: E402
from store import git_info, machine_info  # noqa: E402

GQL_QUERY = """
query Bench($first: Int!) {
  cis(first: $first, filter: {class: "ApplicationInstance"}) {
    nodes { id name dependsOn { id name runsOn { id name } } }
  }
}
"""
START = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
END = START + timedelta(hours=1)


# -- helpers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float]]:
    """Median seconds of ``repeats`` calls (after one warm-up call), and all samples."""
    fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), samples


def timed_pair(a: Callable[[], Any], b: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median seconds of ``a`` and of ``b``, called alternately (after a warm-up call of
    each), so a change in the machine's load falls on both alike."""
    a(), b()
    sa, sb = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a()
        t1 = time.perf_counter()
        b()
        sb.append(time.perf_counter() - t1)
        sa.append(t1 - t0)
    return statistics.median(sa), statistics.median(sb)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.2f} ms"


@contextmanager
def server(args: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    """A uvicorn server in its own process (so the client does not share its GIL)."""
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"server did not start: {err[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


class CountingStore:
    """Forwards every call to the real store and counts it by method name."""

    def __init__(self, inner: GraphStore) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.kind = inner.kind

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] += 1
            return attr(*args, **kwargs)

        return counted


# -- the bare baseline server -------------------------------------------------------------


def serve_bare(port: int, body_file: str) -> None:
    """A Starlette app with one endpoint returning fixed bytes (the CI document), plus the
    health route the harness waits on."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    body = Path(body_file).read_bytes()

    async def ci(request: Any) -> Response:
        return Response(body, media_type="application/json")

    async def health(request: Any) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    app = Starlette(
        routes=[
            Route("/ci", ci, methods=["GET", "POST"]),
            Route("/api/v1/health", health),
        ]
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- load ---------------------------------------------------------------------------------


def rps(url: str, headers: dict[str, str], seconds: int) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk:
        cmd = [wrk, "-t1", "-c16", f"-d{seconds}s", "--latency"]
        for k, v in headers.items():
            cmd += ["-H", f"{k}: {v}"]
        out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
        found = re.search(r"Requests/sec:\s+([\d.]+)", out)
        p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
        errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        return {
            "tool": "wrk -t1 -c16",
            "rps": float(found.group(1)) if found else 0.0,
            "p99": f"{p99.group(1)}{p99.group(2)}" if p99 else "?",
            "non_2xx": int(errors.group(1)) if errors else 0,
        }
    done = 0
    end = time.monotonic() + seconds
    with httpx.Client(headers=headers) as client:
        while time.monotonic() < end:
            client.get(url).raise_for_status()
            done += 1
    return {"tool": "httpx, one connection (client-bound)", "rps": done / seconds}


# -- the run ------------------------------------------------------------------------------


def load_estate(size: int, path: Path) -> tuple[EmbeddedStore, Any]:
    est = generate(size)
    store = EmbeddedStore(path)
    t0 = time.perf_counter()
    for cs in est.changesets(5000):
        store.apply(cs)
    print(
        f"loaded {est.n_cis:,} CIs / {est.n_edges:,} relationships in "
        f"{time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )
    return store, est


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="10k")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--seconds", type=int, default=5, help="duration of each load test")
    ap.add_argument("--out", default=str(BENCH / "results" / "api.json"))
    ap.add_argument("--serve-bare", nargs=2, metavar=("PORT", "BODY_FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_bare:
        serve_bare(int(args.serve_bare[0]), args.serve_bare[1])
        return

    size = parse_size(args.size)
    rows: list[dict[str, Any]] = []
    tmp = Path(tempfile.mkdtemp(prefix="cmdb-bench-api-"))
    db = tmp / "cmdb.db"
    store, est = load_estate(size, db)
    tokens = TokenStore(tmp / "tokens.db")
    token, _ = tokens.create("bench", Role.ADMIN)
    auth = {"Authorization": f"Bearer {token}"}

    # The CIs asked about: a VM in the middle of the estate (a typical change's impact).
    vm_index = next(i for i in range(len(est.cls) // 2, len(est.cls)) if est.cls[i] == VM)
    vm = store.find_by_identifier(est.identifier(vm_index))[0]

    env = {
        "CMDB_DB_PATH": str(db),
        "CMDB_TOKENS_PATH": str(tmp / "tokens.db"),
        "CMDB_STORE": "embedded",
        "CMDB_TOKEN_RATE_PER_MIN": "1000000",
    }
    port = free_port()
    api_cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "cmdb.server.app:serving_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with (
        server(api_cmd, env, port) as base,
        httpx.Client(base_url=base, headers=auth, timeout=120) as client,
    ):
        # 1. impact: in-process vs REST
        def inproc() -> Any:
            return change_impact(store, [vm], START, END)

        report = inproc()
        body = {"cis": [vm.id], "start": START.isoformat(), "end": END.isoformat()}

        def rest() -> Any:
            r = client.post("/api/v1/impact/change", json=body)
            r.raise_for_status()
            return r

        got = rest().json()
        assert len(got["services"]) == len(report.services), "REST and engine disagree"
        t_in, t_rest = timed_pair(inproc, rest, args.repeats)
        limit = 1.5 * t_in + 0.001
        rows.append(
            {
                "figure": f"change impact of one VM ({len(report.services)} services, "
                f"{len(report.cis)} CIs impacted)",
                "measured": ms(t_rest),
                "what": "REST over loopback",
                "baseline": "engine call in-process",
                "baseline_value": ms(t_in),
                "ratio": f"{t_rest / t_in:.2f}x (+{(t_rest - t_in) * 1000:.2f} ms)",
                "target": "<= 1.5x + 1 ms",
                "met": t_rest <= limit,
                "raw": {"rest_s": t_rest, "inproc_s": t_in},
            }
        )

        # 2. GraphQL 1,000 CIs, two levels deep
        gql = {"query": GQL_QUERY, "variables": {"first": 1000}}

        def graphql() -> Any:
            r = client.post("/graphql", json=gql)
            r.raise_for_status()
            data = r.json()
            assert "errors" not in data, data.get("errors")
            return data

        nodes = graphql()["data"]["cis"]["nodes"]
        level1 = sum(len(n["dependsOn"]) for n in nodes)
        level2 = sum(len(d["runsOn"]) for n in nodes for d in n["dependsOn"])

        def rest_page() -> Any:
            r = client.get("/api/v1/cis", params={"class": "ApplicationInstance", "limit": 1000})
            r.raise_for_status()
            return r

        assert len(rest_page().json()["items"]) == len(nodes)

        def rest_assembled() -> int:
            page = rest_page().json()["items"]
            calls = 1
            for ci in page:
                r = client.get(
                    f"/api/v1/cis/{ci['id']}/neighbours",
                    params={"direction": "out", "type": "depends_on"},
                )
                calls += 1
                for nb in r.json():
                    client.get(
                        f"/api/v1/cis/{nb['ci']['id']}/neighbours",
                        params={"direction": "out", "type": "runs_on"},
                    )
                    calls += 1
            return calls

        t_gql, t_page = timed_pair(graphql, rest_page, max(3, args.repeats // 6))
        t0 = time.perf_counter()
        rest_calls = rest_assembled()
        t_assembled = time.perf_counter() - t0

    # Store round trips of the same query, counted in-process on the same store file.
    counting = CountingStore(store)
    settings = Settings(db_path=db, tokens_path=tmp / "tokens.db")
    app = create_app(settings, store=counting, tokens=tokens)  # type: ignore[arg-type]
    with TestClient(app) as tc:
        r = tc.post("/graphql", json=gql, headers=auth)
        assert r.status_code == 200 and "errors" not in r.json(), r.text
    store_calls = sum(counting.calls.values())
    query_levels = 3  # cis -> dependsOn -> runsOn
    rows.append(
        {
            "figure": f"GraphQL: {len(nodes)} CIs, 2 levels ({level1:,} + {level2:,} related)",
            "measured": f"{store_calls} store calls",
            "what": dict(counting.calls),
            "baseline": "levels in the query",
            "baseline_value": str(query_levels),
            "ratio": f"{store_calls}/{query_levels}",
            "target": "<= depth",
            "met": store_calls <= query_levels,
            "raw": {"calls": dict(counting.calls)},
        }
    )
    rows.append(
        {
            "figure": "GraphQL: same query, time",
            "measured": ms(t_gql),
            "what": "POST /graphql",
            "baseline": "REST GET /cis?limit=1000 (CIs only)",
            "baseline_value": ms(t_page),
            "ratio": f"{t_gql / t_page:.2f}x",
            "target": "<= 3x",
            "met": t_gql <= 3 * t_page,
            "raw": {"graphql_s": t_gql, "rest_page_s": t_page},
        }
    )
    rows.append(
        {
            "figure": "GraphQL: same query, time",
            "measured": ms(t_gql),
            "what": "POST /graphql",
            "baseline": f"REST client assembling both levels ({rest_calls:,} calls)",
            "baseline_value": ms(t_assembled),
            "ratio": f"GraphQL {t_assembled / t_gql:.1f}x faster",
            "target": "-",
            "met": None,
            "raw": {"assembled_s": t_assembled, "calls": rest_calls},
        }
    )

    # 3. requests per second on one CI, against a bare Starlette endpoint
    port = free_port()
    api_cmd[api_cmd.index("--port") + 1] = str(port)
    with server(api_cmd, env, port) as base:
        url = f"{base}/api/v1/cis/{vm.id}"
        doc = httpx.get(url, headers=auth).content
        ours = rps(url, auth, args.seconds)
    body_file = tmp / "ci.json"
    body_file.write_bytes(doc)
    bport = free_port()
    bare_cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve-bare",
        str(bport),
        str(body_file),
    ]
    with server(bare_cmd, {}, bport) as bbase:
        bare = rps(f"{bbase}/ci", {}, args.seconds)
        # The HTTP floor under the impact figure: the same client posting the same body to
        # an endpoint that does nothing.
        with httpx.Client(base_url=bbase, timeout=60) as floor_client:

            def floor() -> Any:
                return floor_client.post("/ci", json=body).raise_for_status()

            t_floor, _ = timed(floor, args.repeats)
    rows.insert(
        1,
        {
            "figure": "  (HTTP floor: same client and body, bare Starlette POST)",
            "measured": ms(t_floor),
            "what": "loopback + uvicorn + httpx",
            "baseline": "REST impact minus this floor",
            "baseline_value": ms(t_rest - t_floor),
            "ratio": f"API + engine {(t_rest - t_floor) / t_in:.2f}x engine alone",
            "target": "-",
            "met": None,
            "raw": {"floor_s": t_floor},
        },
    )
    rows.append(
        {
            "figure": "GET one CI (authenticated, read from the store)",
            "measured": f"{ours['rps']:,.0f} req/s",
            "what": ours,
            "baseline": "bare Starlette endpoint, same bytes",
            "baseline_value": f"{bare['rps']:,.0f} req/s",
            "ratio": f"{ours['rps'] / bare['rps']:.2f}x of bare",
            "target": "-",
            "met": None,
            "raw": {"ours": ours, "bare": bare},
        }
    )
    store.close()

    print_table(rows, size)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "benchmark": "api",
                "size": size_label(size),
                "cis": est.n_cis,
                "relationships": est.n_edges,
                "at": datetime.now(UTC).isoformat(),
                "load_average": os.getloadavg(),
                "machine": machine_info(),
                "git": git_info(),
                "rows": rows,
            },
            indent=2,
            default=str,
        )
    )
    print(f"\nwrote {out}")


def print_table(rows: list[dict[str, Any]], size: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"API benchmark, {size_label(size)} estate (load {os.getloadavg()[0]:.1f})")
    for col in ("figure", "measured", "baseline", "baseline value", "ratio", "target", "met"):
        table.add_column(col)
    for r in rows:
        met = "" if r["met"] is None else ("yes" if r["met"] else "NO")
        table.add_row(
            r["figure"],
            r["measured"],
            r["baseline"],
            r["baseline_value"],
            r["ratio"],
            r["target"],
            met,
        )
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
