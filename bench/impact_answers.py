"""Change and incident impact at 100k CIs: the same answers, and CPU time, old code vs new.

An optimisation of the impact engine must not change a single field of an answer. This
script builds a generated estate once (``bench/estate.py``, ingested into an embedded store
under ``--workdir`` and kept there), then:

* ``dump OUT``: writes the JSON of the answers for a few typical cases, and the fields
  each model of them marks set, to ``OUT``: change impact of a median server, the busiest
  server, a VM, the most used database and 24 VMs at once (more causes than the explainer
  searches one by one); incident impact of the median server; and, on a copy of the store
  with an open incident on a cluster member VM, the median server's change impact and the
  member's incident impact. Run it with ``--root`` set to a checkout of the older commit
  and to this one, then ``compare A B`` says which answers differ and where.
* ``--root OLD cpu``: CPU time (user + sys: ``time.process_time`` in each worker) per
  change impact of the median server (``--question incident``: per incident impact), the
  code of ``--root OLD`` and of this checkout in alternating blocks (each in its own
  worker process, so both have the same warm store and the machine's load falls on both
  alike), with the load average.

    python bench/impact_answers.py --workdir build/impact-answers dump /tmp/new.json
    python bench/impact_answers.py --workdir build/impact-answers --root /tmp/wt dump /tmp/old.json
    python bench/impact_answers.py compare /tmp/old.json /tmp/new.json
    python bench/impact_answers.py --workdir build/impact-answers --root /tmp/wt cpu

Only standard-library modules are imported before ``--root`` is put first on ``sys.path``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WINDOW = (datetime(2026, 3, 10, 2, 0, tzinfo=UTC), datetime(2026, 3, 10, 4, 0, tzinfo=UTC))
NOW = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)


def _code_from(root: Path) -> None:
    """Import ``cmdb`` and ``impact`` from ``root``; bench/ (for estate.py) last."""
    here = {BENCH, root.resolve() / "bench"}
    sys.path[:] = [str(root), *(p for p in sys.path if Path(p or ".").resolve() not in here)]
    sys.path.append(str(BENCH))


def _paths(workdir: Path, size: str) -> tuple[Path, Path, Path]:
    return (
        workdir / f"impact-{size}.db",
        workdir / f"impact-{size}-incident.db",
        workdir / f"impact-{size}.cases.json",
    )


def build(workdir: Path, size: str, seed: int) -> None:
    """Ingest the estate (once: kept with its cases beside it) and the incident copy."""
    db, db_inc, cases_file = _paths(workdir, size)
    if cases_file.exists():
        return
    import numpy as np
    from estate import DB, DEPENDS_ON, HOSTED_ON, MEMBER_OF, VM, generate, parse_size

    from cmdb.domain.changeset import ChangeSet
    from cmdb.domain.records import Incident
    from cmdb.store.embedded.store import EmbeddedStore

    workdir.mkdir(parents=True, exist_ok=True)
    for p in workdir.glob(f"impact-{size}*"):
        p.unlink()
    est = generate(parse_size(size), seed)
    store = EmbeddedStore(db)
    ids: list[str] = []
    t0 = time.perf_counter()
    for cs in est.changesets(5000):
        ids += store.apply(cs).ci_ids
    print(f"ingested {est.n_cis:,} CIs in {time.perf_counter() - t0:.1f} s", flush=True)
    s, d, t = est.edge_arrays()
    # The picks of bench/impact.py's change impact part.
    hosted = np.bincount(d[t == HOSTED_ON], minlength=est.n_cis)
    hosts = sorted((h for h in est.hosts if hosted[h] > 0), key=lambda h: (hosted[h], h))
    cls = np.frombuffer(est.cls, dtype=np.int8)
    used = np.bincount(d[t == DEPENDS_ON], minlength=est.n_cis)
    dbs = np.flatnonzero(cls == DB)
    vms = np.flatnonzero(cls == VM)
    members = s[t == MEMBER_OF]  # a cluster member: its incident dents a quorum
    cases = {
        "median server": ids[hosts[len(hosts) // 2]],
        "a VM": ids[int(vms[len(vms) // 2])],
        "busiest server": ids[hosts[-1]],
        "most used database": ids[int(dbs[np.argmax(used[dbs])])],
        "incident member": ids[int(members[len(members) // 2])],
    }
    store.close()
    shutil.copyfile(db, db_inc)
    inc_store = EmbeddedStore(db_inc)
    incident = Incident(
        id="INC-BENCH-1",
        title="a cluster member down",
        ci_ids=[cases["incident member"]],
        opened_at=datetime(2026, 3, 9, 23, 0, tzinfo=UTC),
    )
    inc_store.apply(ChangeSet(actor="bench", source="manual", incidents=[incident]))
    inc_store.close()
    cases_file.write_text(json.dumps(cases, indent=2))


def _fields_set(value: Any) -> Any:
    """Which fields each model of an answer marks set, nested as the answer is (a model
    built without validation must mark what validating it would)."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        inner = {k: _fields_set(v) for k, v in value.__dict__.items()}
        return {"set": sorted(value.model_fields_set), **{k: v for k, v in inner.items() if v}}
    if isinstance(value, list | tuple):
        return [_fields_set(v) for v in value]
    return None


def _answer(report: Any) -> dict[str, Any]:
    return {"json": json.loads(report.model_dump_json()), "fields set": _fields_set(report)}


def answers(workdir: Path, size: str) -> dict[str, Any]:
    from cmdb.store.embedded.store import EmbeddedStore
    from impact.queries import change_impact, incident_impact

    db, db_inc, cases_file = _paths(workdir, size)
    cases: dict[str, str] = json.loads(cases_file.read_text())
    out: dict[str, Any] = {}
    with_incident = EmbeddedStore(db_inc)
    store = EmbeddedStore(db)
    try:
        for label in ("median server", "a VM", "busiest server", "most used database"):
            ci = store.get_ci(cases[label])
            report = change_impact(store, [ci], *WINDOW, now=NOW)
            out[f"change: {label}"] = _answer(report)
        # More failed CIs than the explainer searches one by one (16): the VMs of two
        # servers, the rest sharing one search.
        near = store.neighbours_of([cases["median server"], cases["busiest server"]])
        vms = sorted(
            {n.ci.id for ns in near.values() for n in ns if n.ci.ci_class == "VirtualMachine"}
        )[:24]
        report = change_impact(store, [store.get_ci(v) for v in vms], *WINDOW, now=NOW)
        out[f"change: {len(vms)} VMs of two servers"] = _answer(report)
        ci = store.get_ci(cases["median server"])
        out["incident: median server"] = _answer(incident_impact(store, [ci], now=NOW))
        ci = with_incident.get_ci(cases["median server"])
        report = change_impact(with_incident, [ci], *WINDOW, now=NOW)
        out["change with an open incident: median server"] = _answer(report)
        member = with_incident.get_ci(cases["incident member"])
        out["incident: the member down in an open incident"] = _answer(
            incident_impact(with_incident, [member], now=NOW)
        )
    finally:
        store.close()
        with_incident.close()
    return out


def _diff(a: Any, b: Any, where: str, found: list[str]) -> None:
    if len(found) >= 20:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                found.append(f"{where}.{k}: only in {'new' if k in b else 'old'}")
            else:
                _diff(a[k], b[k], f"{where}.{k}", found)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            found.append(f"{where}: {len(a)} items vs {len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _diff(x, y, f"{where}[{i}]", found)
    elif a != b or type(a) is not type(b):
        found.append(f"{where}: {a!r} vs {b!r}")


def compare(old_file: Path, new_file: Path) -> int:
    old, new = json.loads(old_file.read_text()), json.loads(new_file.read_text())
    bad = 0
    for case in sorted(set(old) | set(new)):
        found: list[str] = []
        if case not in old or case not in new:
            found.append(f"only in {'new' if case in new else 'old'}")
        else:
            _diff(old[case], new[case], "", found)
        n = len(new.get(case, {}).get("json", {}).get("cis", []))
        print(f"{case}: {'same' if not found else 'DIFFERENT'} ({n} CIs impacted)")
        for line in found:
            print(f"    {line}")
        bad += bool(found)
    return 1 if bad else 0


def worker(workdir: Path, size: str, question: str) -> None:
    """Answer ``N`` lines on stdin with the CPU seconds of N change (or incident) impacts
    of the median server, as JSON."""
    import gc

    from cmdb.store.embedded.store import EmbeddedStore
    from impact.queries import change_impact, incident_impact

    db, _db_inc, cases_file = _paths(workdir, size)
    store = EmbeddedStore(db)
    ci = store.get_ci(json.loads(cases_file.read_text())["median server"])

    def ask() -> object:
        if question == "incident":
            return incident_impact(store, [ci], now=NOW)
        return change_impact(store, [ci], *WINDOW, now=NOW)

    for _ in range(3):  # warm: the index, the statement cache, the imports
        ask()
    print("ready", flush=True)
    for line in sys.stdin:
        times: list[float] = []
        for _ in range(int(line)):
            gc.collect()
            t0 = time.process_time()
            ask()
            times.append(time.process_time() - t0)
        print(json.dumps(times), flush=True)
    store.close()


def cpu(workdir: Path, size: str, old_root: Path, rounds: int, block: int, question: str) -> None:
    def start(root: Path) -> subprocess.Popen[str]:
        args = [sys.executable, __file__, "--workdir", str(workdir), "--size", size]
        p = subprocess.Popen(
            [*args, "--root", str(root), "worker", "--question", question],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert p.stdout is not None
        if p.stdout.readline().strip() != "ready":
            raise SystemExit(f"the worker for {root} did not start")
        return p

    procs = {"old": start(old_root), "new": start(ROOT)}
    times: dict[str, list[float]] = {"old": [], "new": []}
    load = os.getloadavg()
    try:
        for r in range(rounds):
            for name in ("old", "new") if r % 2 == 0 else ("new", "old"):
                p = procs[name]
                assert p.stdin is not None and p.stdout is not None
                p.stdin.write(f"{block}\n")
                p.stdin.flush()
                times[name] += json.loads(p.stdout.readline())
    finally:
        for p in procs.values():
            assert p.stdin is not None
            p.stdin.close()
            p.wait(timeout=60)
    after = os.getloadavg()
    old_ms, new_ms = (statistics.median(times[k]) * 1e3 for k in ("old", "new"))
    print(
        f"{question} impact, median server, {size}: CPU per call, median of {len(times['new'])}:"
        f" old ({old_root}) {old_ms:.2f} ms, new {new_ms:.2f} ms, new/old {new_ms / old_ms:.3f};"
        f" load average before {load[0]:.2f} {load[1]:.2f}, after {after[0]:.2f} {after[1]:.2f}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workdir", default=str(ROOT / "build/impact-answers"))
    ap.add_argument("--size", default="100k")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--root", default=str(ROOT), help="the checkout whose code answers")
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="ingest the estate (done by dump and cpu if missing)")
    d = sub.add_parser("dump", help="write the answers' JSON")
    d.add_argument("out")
    c = sub.add_parser("compare", help="compare two dumps field by field")
    c.add_argument("old")
    c.add_argument("new")
    p = sub.add_parser("cpu", help="CPU time per call, --root's code vs this checkout's")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--block", type=int, default=5)
    p.add_argument("--question", choices=("change", "incident"), default="change")
    w = sub.add_parser("worker", help=argparse.SUPPRESS)
    w.add_argument("--question", choices=("change", "incident"), default="change")
    args = ap.parse_args()
    if args.command == "compare":
        return compare(Path(args.old), Path(args.new))
    workdir = Path(args.workdir).resolve()
    if args.command == "cpu":
        _code_from(ROOT)
        build(workdir, args.size, args.seed)
        cpu(workdir, args.size, Path(args.root).resolve(), args.rounds, args.block, args.question)
        return 0
    _code_from(Path(args.root).resolve())
    if args.command == "worker":
        worker(workdir, args.size, args.question)
        return 0
    build(workdir, args.size, args.seed)
    if args.command == "dump":
        Path(args.out).write_text(json.dumps(answers(workdir, args.size), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
