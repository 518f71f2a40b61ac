"""Incident history benchmark: the questions a person waits on, with years of incidents.

A service desk records thousands of incidents a month. Change impact, incident impact and
the service board read only the incidents their answer can use (the open ones, and those
resolved since the SLA month before the instant asked about: ``cmdb.store.recent``), and
the service desk's list of open incidents reads the open ones; before, each read every
incident ever recorded. On the generated 10k-CI estate with N incidents over three years
(each on a random CI, a third naming a service, 3 % of the last week's still open), each
question is timed as it runs now and, in the same run and alternating, as it ran before:
through a store whose ``list_incidents`` ignores the bound and hands back every incident
(the answers are the same: tests/integration/test_impact_recent_incidents.py).

Usage: python bench/incident_history.py [--stores embedded,neo4j] [--incidents 20k,100k]
       [--size 10k] [--repeat 9] [--out bench/results/incident_history.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
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
import impact.queries  # noqa: E402,F401  (the package before bench/ shadows its name)

sys.path.append(str(ROOT / "bench"))

import api_load  # noqa: E402
from estate import Estate, generate, parse_size, size_label  # noqa: E402
from impact_neo4j import _picks  # noqa: E402
from store import git_info  # noqa: E402

from cmdb.app import incidents  # noqa: E402
from cmdb.app.scope import Visibility  # noqa: E402
from cmdb.app.status import services_status  # noqa: E402
from cmdb.domain.changeset import ChangeSet  # noqa: E402
from cmdb.domain.records import Incident, IncidentState  # noqa: E402
from cmdb.store.contract import CIFilter, GraphStore  # noqa: E402
from impact.queries import change_impact, incident_impact  # noqa: E402
from impact.sla import budget_since  # noqa: E402

NOW = datetime.now(UTC).replace(microsecond=0)
YEARS = 3
BATCH = 2000


class EveryIncident:
    """``store`` as the questions read it before: every incident, whatever the bound, and
    the open ones picked out of all of them (as both stores did for ``open_only``)."""

    def __init__(self, store: GraphStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def list_incidents(self, **kw: Any) -> list[Incident]:
        kw.pop("resolved_since", None)
        open_only = kw.pop("open_only", False)
        found = self._store.list_incidents(**kw)
        return [i for i in found if not open_only or i.state is IncidentState.OPEN]


def _ids(store: GraphStore, flt: CIFilter | None = None) -> list[str]:
    out: list[str] = []
    cursor: str | None = None
    while True:
        page = store.list_cis(flt, limit=10_000, cursor=cursor)
        out += [c.id for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return out


def questions(store: GraphStore, est: Estate) -> dict[str, Callable[[GraphStore], Any]]:
    picks = dict(_picks(est))
    server = store.find_by_identifier(est.identifier(picks["median server"]))[0]
    start = NOW + timedelta(days=2)
    vis = Visibility()
    return {
        "change impact, median server": lambda s: change_impact(
            s, [server], start, start + timedelta(hours=2), now=NOW
        ),
        "incident impact, median server": lambda s: incident_impact(s, [server], now=NOW),
        "service board": lambda s: services_status(s, vis, at=NOW),
        # The service desk's open incidents (GET /api/v1/incidents?state=open).
        "open incidents list": lambda s: incidents.list_incidents(
            s, vis, states=[IncidentState.OPEN]
        ),
    }


def timed(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, list[float]]:
    """Each function ``repeat`` times, taking turns (after one untimed call each)."""
    out: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeat):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            out[k].append(time.perf_counter() - t0)
    return out


def bench_store(
    kind: str, store: GraphStore, est: Estate, counts: list[int], repeat: int
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    have = 0
    for n in counts:
        took = add_incidents_more(store, have, n)
        have = n
        read = len(store.list_incidents(resolved_since=budget_since(NOW)))
        print(f"{kind}: {n:,} incidents written in {took:.1f} s; {read:,} read now", flush=True)
        every = EveryIncident(store)
        for name, ask in questions(store, est).items():
            got = timed(
                {"now": lambda: ask(store), "before": lambda: ask(every)},  # noqa: B023
                repeat,
            )
            now_ms = statistics.median(got["now"]) * 1e3
            before_ms = statistics.median(got["before"]) * 1e3
            rows.append(
                {
                    "store": kind,
                    "incidents": n,
                    "incidents_read_now": read,
                    "question": name,
                    "now_ms": now_ms,
                    "before_ms": before_ms,
                    "now_runs_ms": [x * 1e3 for x in got["now"]],
                    "before_runs_ms": [x * 1e3 for x in got["before"]],
                    "speedup": before_ms / now_ms,
                }
            )
            print(f"  {name}: {now_ms:.1f} ms now, {before_ms:.1f} ms before", flush=True)
    return rows


def add_incidents_more(store: GraphStore, have: int, want: int) -> float:
    """Up to ``want`` incidents, the first ``have`` already written (the same seed)."""
    if want <= have:
        return 0.0
    # The same generator from the start (ids 0..want-1): only the new ones are written.
    t0 = time.perf_counter()
    tail = _generated(store, want)[have:]
    for start in range(0, len(tail), BATCH):
        store.apply(
            ChangeSet(actor="bench", source="manual", incidents=tail[start : start + BATCH])
        )
    return time.perf_counter() - t0


def _generated(store: GraphStore, n: int, seed: int = 5) -> list[Incident]:
    rng = random.Random(seed)
    cis = _ids(store)
    services = _ids(store, CIFilter(ci_class="Service"))
    span = YEARS * 365 * 24 * 60
    out: list[Incident] = []
    for k in range(n):
        opened = NOW - timedelta(minutes=rng.randrange(span))
        # Open ones are a few of the last week's (about 20 at 100k), not a share of years.
        still_open = rng.random() < 0.03 and opened > NOW - timedelta(days=7)
        resolved = opened + timedelta(minutes=rng.choice([10, 60, 240, 1440, 4000]))
        if still_open or resolved > NOW:
            resolved = None
        out.append(
            Incident(
                id=f"INC-{k:07d}",
                title=f"incident {k}",
                state=IncidentState.OPEN if resolved is None else IncidentState.CLOSED,
                ci_ids=[rng.choice(cis)],
                service_ids=[rng.choice(services)] if rng.random() < 0.33 else [],
                opened_at=opened,
                resolved_at=resolved,
                outage=rng.random() < 0.5,
            )
        )
    return out


@contextmanager
def opened(kind: str, est: Estate, tmp: Path) -> Iterator[GraphStore]:
    if kind == "embedded":
        with api_load.embedded(est, tmp) as o:
            yield o.store
    else:
        with api_load.neo4j(est) as o:
            yield o.store


def print_table(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    load = results["load_average_before_after"]
    t = Table(
        title=f"incident history, {results['started_at']}, {results['estate']} estate, "
        f"load average {load[0][0]:.2f} -> {load[1][0]:.2f}"
    )
    for h in ("store", "incidents", "read now", "question", "now ms", "before ms", "before/now"):
        t.add_column(h)
    for r in results["rows"]:
        t.add_row(
            r["store"], f"{r['incidents']:,}", f"{r['incidents_read_now']:,}", r["question"],
            f"{r['now_ms']:.1f}", f"{r['before_ms']:.1f}", f"{r['speedup']:.1f}x",
        )  # fmt: skip
    Console(width=150).print(t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stores", default="embedded,neo4j")
    ap.add_argument("--incidents", default="20k,100k")
    ap.add_argument("--size", default="10k")
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/incident_history.json")
    args = ap.parse_args(argv)
    counts = sorted(parse_size(x) for x in args.incidents.split(","))
    est = generate(parse_size(args.size))
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "estate": size_label(est.n_cis),
        "git": git_info(),
        "rows": [],
    }
    before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="cmdb-bench-incidents-") as tmp:
        for kind in args.stores.split(","):
            with opened(kind, est, Path(tmp) / kind) as store:
                results["rows"] += bench_store(kind, store, est, counts, args.repeat)
    results["load_average_before_after"] = [list(before), list(os.getloadavg())]
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
