"""Benchmark of the what-if proposal diff (issue 17) on generated estates.

For each size (``bench/estate.py`` generates the estate; it is ingested into an embedded
store through ``apply``, as bench/impact.py does), a proposal of ``--edits`` edits is
staged on an RFC: databases moved to standby pairs (a standby database, a cluster needing
one member, both members of it, one dependant moved from the database to the pair: six
edits each) and the rest CI updates on VMs. Measured, medians of ``--repeat`` runs:

* **stage**: ``cmdb.app.proposals.create``: every edit checked against the live graph
  and the edits before it, and the version saved;
* **diff**: ``cmdb.app.proposal_diff.evaluate``: the fetch around the edited CIs, the
  edits applied in memory, and per service reached its SPOFs, availability and paths
  before and after;
* **baseline**: the plain change impact (``impact.queries.change_impact``) of the same
  live CIs going down for an hour: the question an RFC answers without a proposal.

* **against** (``--against REV``): the same diff by the code of another commit, run in
  the same run on the same store file (that commit's tree, exported with ``git archive``,
  in a subprocess), with whether its answer is the same as this tree's, field for field.

Target: the diff of 100 edits on a 100k-CI estate in at most 1 s.

    python bench/proposals.py --sizes 10k            # a check while others work
    python bench/proposals.py --sizes 100k           # the figure (an idle machine)
    python bench/proposals.py --sizes 10k --against 30034e3   # beside an older commit
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != BENCH)]
sys.path.append(str(BENCH))

import numpy as np  # noqa: E402
from estate import DB, DEPENDS_ON, VM, Estate, generate, parse_size, size_label  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

# Last: bench/store.py puts bench/ first on sys.path, where impact.py is a script.
from cmdb.app import proposals  # noqa: E402
from cmdb.app.caller import Caller  # noqa: E402
from cmdb.app.proposal_diff import evaluate  # noqa: E402
from cmdb.app.scope import Visibility  # noqa: E402
from cmdb.auth.roles import Role  # noqa: E402
from cmdb.auth.tokens import Principal  # noqa: E402
from cmdb.domain.changeset import ChangeSet  # noqa: E402
from cmdb.domain.records import Change  # noqa: E402
from cmdb.store.embedded.store import EmbeddedStore  # noqa: E402
from impact.queries import Limits, change_impact  # noqa: E402

TARGET_S = 1.0  # the diff of 100 edits on 100k CIs
CALLER = Caller(Principal("bench", Role.ADMIN), None, "bench")


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, got = [], None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        got = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), got


def ingest(est: Estate, workdir: Path, batch: int) -> tuple[EmbeddedStore, list[str]]:
    store = EmbeddedStore(workdir / f"proposals-{size_label(est.size)}.db")
    ids: list[str] = []
    for cs in est.changesets(batch):
        ids += store.apply(cs).ci_ids
    return store, ids


def edits_for(est: Estate, ids: list[str], count: int) -> tuple[list[dict[str, Any]], list[str]]:
    """``count`` edits (see the module docstring) and the live CIs they name."""
    src, dst, typ = est.edge_arrays()
    cls = np.frombuffer(est.cls, dtype=np.int8)
    dep = typ == DEPENDS_ON
    dbs = [int(d) for d in np.flatnonzero(cls == DB) if np.any(dep & (dst == d))]
    step = max(1, len(dbs) // max(1, count // 6))
    edits: list[dict[str, Any]] = []
    named: list[str] = []
    for k, d in enumerate(dbs[::step]):
        if len(edits) + 6 > count:
            break
        user = int(src[np.flatnonzero(dep & (dst == d))[0]])
        db, uid = ids[d], ids[user]
        standby, pair = f"standby-{k}", f"pair-{k}"
        edits += [
            {"op": "add_ci", "ci": {"class": "Database", "name": standby}},
            {"op": "add_ci", "ci": {"class": "Cluster", "name": pair, "redundancy": {"min_up": 1}}},
            {"op": "add_rel", "type": "MEMBER_OF", "source_id": db, "target_id": pair},
            {"op": "add_rel", "type": "MEMBER_OF", "source_id": standby, "target_id": pair},
            {"op": "add_rel", "type": "DEPENDS_ON", "source_id": uid, "target_id": pair},
            {"op": "retire_rel", "type": "DEPENDS_ON", "source_id": uid, "target_id": db},
        ]  # fmt: skip
        named += [db, uid]
    vms = np.flatnonzero(cls == VM)
    for v in vms[:: max(1, len(vms) // max(1, count - len(edits)))][: count - len(edits)]:
        vid = ids[int(v)]
        edits.append({"op": "update_ci", "ci_id": vid, "fields": {"attributes": {"tag": "x"}}})
        named.append(vid)
    return edits, named


# Run in the other commit's tree: the same evaluate call on the same store and proposal,
# timed there; prints the medians and the answer as JSON.
_AGAINST = """
import gc, json, statistics, sys, time
from datetime import datetime
from cmdb.app.proposal_diff import evaluate
from cmdb.store.embedded.store import EmbeddedStore
db, change, repeat, now = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
store = EmbeddedStore(db)
proposal = store.get_proposal(change)
times = []
for _ in range(repeat):
    gc.collect()
    t0 = time.perf_counter()
    got = evaluate(store, proposal, now=datetime.fromisoformat(now))
    times.append(time.perf_counter() - t0)
store.close()
import cmdb.app.proposal_diff as code
print(json.dumps({"diff_s": statistics.median(times), "answer": got.model_dump(mode="json"),
                  "code": code.__file__}))
"""


def export_tree(rev: str, into: Path) -> str:
    """``rev``'s tree under ``into`` (git archive); returns the full commit id."""
    full = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    archive = subprocess.run(
        ["git", "archive", full, "cmdb", "impact", "discovery"],
        cwd=ROOT, capture_output=True, check=True,
    )  # fmt: skip
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return full


def against(tree: Path, db: Path, change: str, repeat: int, now: datetime) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _AGAINST, str(db), change, str(repeat), now.isoformat()],
        cwd=tree, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    got: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    # The editable install must not have answered with this tree's code.
    assert Path(got["code"]).resolve().is_relative_to(tree.resolve()), got["code"]
    return got


def bench_size(est: Estate, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    store, ids = ingest(est, workdir, args.batch)
    ingest_s = time.perf_counter() - t0
    edits, named = edits_for(est, ids, args.edits)
    start = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    store.apply(
        ChangeSet(actor="bench", source="bench", changes=[Change(id="RFC-B", title="bench")])
    )
    n = [0]

    def stage() -> Any:
        n[0] += 1
        cid = f"RFC-B{n[0]}"
        store.apply(
            ChangeSet(actor="bench", source="bench", changes=[Change(id=cid, title="bench")])
        )
        return proposals.create(store, Visibility(), CALLER, cid, edits)

    stage_s, proposal = timed(stage, args.repeat)
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # the same instant for both trees
    diff_s, got = timed(lambda: evaluate(store, proposal, now=now), args.repeat)
    old: dict[str, Any] = {}
    if args.against_tree is not None:
        old = against(args.against_tree, store.path, proposal.id, args.repeat, now)
    cis = [store.get_ci(i) for i in dict.fromkeys(named)]
    limits = Limits(max_nodes=10**6)
    base_s, report = timed(
        lambda: change_impact(store, cis, start, start + timedelta(hours=1), limits=limits),
        args.repeat,
    )
    store.close()
    return {
        "cis": est.n_cis,
        "relationships": est.n_edges,
        "ingest_s": round(ingest_s, 2),
        "edits": len(proposal.edits),
        "live_cis_named": len(cis),
        "services_reached": len(got.services),
        "services_evaluated": sum(1 for s in got.services if s.evaluated),
        "services_changed": sum(1 for s in got.services if s.changed),
        "fetched_cis": got.fetched_cis,
        "stage_s": stage_s,
        "diff_s": diff_s,
        "baseline_change_impact_s": base_s,
        "baseline_services_hit": len(report.services),
        "diff_over_baseline": diff_s / base_s if base_s else None,
        "target_s": TARGET_S,
        **(
            {
                "against_diff_s": old["diff_s"],
                "against_same_answer": old["answer"] == got.model_dump(mode="json"),
            }
            if old
            else {}
        ),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="10k,100k", help="estate sizes, e.g. 10k,100k")
    ap.add_argument("--edits", type=int, default=100, help="edits in the proposal")
    ap.add_argument("--out", default=str(ROOT / "bench/results/proposals.json"))
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--batch", type=int, default=5000, help="CIs per change set at ingest")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per measure (median)")
    ap.add_argument("--workdir", default=None, help="where store files go (default: a temp dir)")
    ap.add_argument("--against", default=None, help="also time the diff by this commit's code")
    args = ap.parse_args(argv)
    args.against_tree = None
    # Here, not at the top: bench/store.py puts bench/ first on sys.path, where impact.py
    # (a script) would shadow the engine package for anything imported after it.
    from store import git_info, machine_info

    results: dict[str, Any] = {
        "benchmark": "bench/proposals.py",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "argv": sys.argv[1:] if argv is None else argv,
        "machine": machine_info(),
        "git": git_info(),
        "sizes": {},
    }
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        if args.against:
            args.against_tree = Path(tmp) / "against"
            results["against"] = export_tree(args.against, args.against_tree)
        for size in (parse_size(s) for s in args.sizes.split(",") if s.strip()):
            key = size_label(size)
            print(f"== {key}", flush=True)
            results["sizes"][key] = bench_size(generate(size, args.seed), Path(tmp), args)
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    t = Table(title="What-if proposal diff (embedded store), medians")
    cols = ("estate", "edits", "services reached/asked/changed", "stage", "diff", "baseline", "x")
    if args.against:
        cols += (f"diff at {args.against}", "same answer")
    for col in cols:
        t.add_column(col)
    for key, r in results["sizes"].items():
        t.add_row(
            f"{key} ({r['cis']} CIs)",
            str(r["edits"]),
            f"{r['services_reached']}/{r['services_evaluated']}/{r['services_changed']}",
            f"{r['stage_s']:.3f} s",
            f"{r['diff_s']:.3f} s" + (" (over target)" if r["diff_s"] > TARGET_S else ""),
            f"{r['baseline_change_impact_s']:.3f} s",
            f"{r['diff_over_baseline']:.1f}",
            *(
                (f"{r['against_diff_s']:.3f} s", "yes" if r["against_same_answer"] else "NO")
                if args.against
                else ()
            ),
        )
    Console(width=160).print(t)
    print(f"{results['finished_at']}; wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
