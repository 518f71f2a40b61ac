"""Importers benchmark (issue 15): each importer reads >= 20k resources/s before reconciliation.

For each format with a generator in ``bench/importer_gen/<format>.py`` (``FORMAT``, the
discovery format name, and ``generate(n, directory) -> list[Path]``, which writes files
holding ``n`` resources in the shape the real tool writes), the files are written once,
then, best of ``--repeat`` trials:

  * the reader: ``collect(FORMAT, registry.reader(FORMAT)(paths))``, what ``cmdb discover
    FORMAT FILES`` and the push service run before reconciling;
  * the baseline: ``orjson.loads`` of every file (the floor: reading the bytes and building
    the Python objects, nothing modelled), in the same run.

Each trial runs in a fresh process, as ``cmdb discover`` does: the modules are imported
first (not timed), and the readers' caches start empty, as they do for a real run (trials
in one process found them filled by the trial before). Both run with the cyclic collector
paused, as ``cmdb discover`` and a push run the reader, and the clock stops once the
records are made: freeing them comes after reconciliation, not in the reader. Each trial
reports wall time and CPU time (``time.process_time``: on a machine others share, the
steadier of the two); the table gives both as resources/s, and the reader's time over
the parse's. Target: >= 20,000 resources/s per importer.

``--against REV`` reads the same files, in the same run, with the ``cmdb`` and
``discovery`` packages of git revision REV too (trials alternating with this tree's), so a
change is measured against what it changed on one machine at one load.

Usage: python bench/importers.py [--sizes 20k,100k] [--formats aws,netbox] [--repeat 3]
       [--against REV] [--out bench/results/importers.json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any, Protocol, cast

ROOT = Path(__file__).resolve().parents[1]

TARGET_PER_S = 20_000
# Generators, by module under bench/importer_gen/ (each helper of issue 15 adds its own).
GENERATORS: tuple[str, ...] = ("aws", "spdx", "netbox", "glpi")


class Generator(Protocol):
    FORMAT: str

    def generate(self, n: int, directory: Path) -> list[Path]: ...


# -- one trial, in a process of its own --------------------------------------------------


def _trial(root: str, what: str, fmt: str, paths: Sequence[Path]) -> dict[str, Any]:
    """Time one read (``what`` = "reader") or one parse ("parse") of the files, with the
    packages under ``root``; imports are done before the clock starts."""
    sys.path.insert(0, root)
    import gc
    import time

    import orjson

    from cmdb.store.gcpause import gc_paused
    from discovery.records import collect
    from discovery.registry import reader

    read = reader(fmt)  # imports the adapter's module
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with gc_paused():
        if what == "reader":
            # As `cmdb discover` reads (discovery.reconcile.engine.ingest) and as a push reads
            # (discovery.reconcile.service): with the cyclic collector paused. Its passes over
            # the growing heap of records were about half of a 20k-resource read.
            got = collect(fmt, read(paths))
            counts = {"cis": len(got.cis), "rels": len(got.rels), "problems": len(got.problems)}
        else:
            docs = [orjson.loads(p.read_bytes()) for p in paths]
            counts = {"docs": len(docs)}
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"wall_s": wall, "cpu_s": cpu, **counts}


def _run_trial(root: Path, what: str, fmt: str, paths: Sequence[Path]) -> dict[str, Any]:
    args = [sys.executable, __file__, "--trial", what, "--root", str(root), "--formats", fmt]
    done = subprocess.run([*args, *map(str, paths)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"trial {what} {fmt} ({root}) failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _best(trials: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        **trials[0],
        "wall_s": min(t["wall_s"] for t in trials),
        "cpu_s": min(t["cpu_s"] for t in trials),
    }


def _checkout(rev: str, into: Path) -> Path:
    """The ``cmdb`` and ``discovery`` packages of ``rev``, unpacked under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "cmdb", "discovery"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


# -- the run --------------------------------------------------------------------------------


def run(
    formats: Sequence[str], sizes: Sequence[int], repeat: int, against: Path | None
) -> list[dict[str, Any]]:
    from bench.estate import size_label

    rows: list[dict[str, Any]] = []
    for name in formats:
        gen = cast(Generator, importlib.import_module(f"bench.importer_gen.{name}"))
        for n in sizes:
            with tempfile.TemporaryDirectory() as d:
                paths = gen.generate(n, Path(d))
                now: list[dict[str, Any]] = []
                before: list[dict[str, Any]] = []
                for _ in range(repeat):  # alternating, so both meet the same load
                    now.append(_run_trial(ROOT, "reader", gen.FORMAT, paths))
                    if against is not None:
                        before.append(_run_trial(against, "reader", gen.FORMAT, paths))
                parse = _best([_run_trial(ROOT, "parse", gen.FORMAT, paths) for _ in range(repeat)])
            got = _best(now)
            row: dict[str, Any] = {
                "format": gen.FORMAT,
                "resources": n,
                "cis": got["cis"],
                "relationships": got["rels"],
                "problems": got["problems"],
                "reader_s": got["wall_s"],
                "reader_cpu_s": got["cpu_s"],
                "per_s": n / got["wall_s"],
                "per_cpu_s": n / got["cpu_s"],
                "parse_s": parse["wall_s"],
                "parse_cpu_s": parse["cpu_s"],
                "over_parse": got["cpu_s"] / parse["cpu_s"],
                "target_per_s": TARGET_PER_S,
                "met": n / got["wall_s"] >= TARGET_PER_S,
            }
            line = (
                f"| {gen.FORMAT} | {size_label(n)} | {got['cpu_s']:.3f} s | "
                f"{n / got['cpu_s']:,.0f}/s | {got['wall_s']:.3f} s | {n / got['wall_s']:,.0f}/s | "
                f"{parse['cpu_s']:.3f} s | {got['cpu_s'] / parse['cpu_s']:.1f}x | "
            )
            if against is not None:
                old = _best(before)
                row |= {
                    "before_reader_s": old["wall_s"],
                    "before_reader_cpu_s": old["cpu_s"],
                    "before_per_cpu_s": n / old["cpu_s"],
                    "same_counts": [old[k] for k in ("cis", "rels", "problems")]
                    == [got[k] for k in ("cis", "rels", "problems")],
                }
                line += f"{n / old['cpu_s']:,.0f}/s | {old['cpu_s'] / got['cpu_s']:.2f}x | "
            line += f">= {TARGET_PER_S:,}/s | {'yes' if row['met'] else 'NO'} |"
            rows.append(row)
            print(line, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sizes", default="20k")
    ap.add_argument("--formats", default=",".join(GENERATORS))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--against", metavar="REV", help="also read with the packages of REV")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "importers.json"))
    ap.add_argument("--trial", choices=("reader", "parse"), help=argparse.SUPPRESS)
    ap.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)
    ap.add_argument("paths", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.trial:
        print(json.dumps(_trial(args.root, args.trial, args.formats, args.paths)), flush=True)
        os._exit(0)  # the records are not freed one by one: the process ends
    sys.path.insert(0, str(ROOT))
    from bench.estate import parse_size

    formats = [f for f in args.formats.split(",") if f]
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    load_before = os.getloadavg()
    header = (
        "| importer | resources | reader CPU | resources/CPU s | reader wall | resources/s "
        "| orjson parse CPU (baseline) | reader / parse | "
    )
    rule = "|---|---|---|---|---|---|---|---|"
    if args.against:
        header += f"before ({args.against}) resources/CPU s | speed-up | "
        rule += "---|---|"
    print(header + "target | met |")
    print(rule + "---|---|")
    with tempfile.TemporaryDirectory() as old:
        against = _checkout(args.against, Path(old)) if args.against else None
        rows = run(formats, sizes, args.repeat, against)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "python": platform.python_version(),
        "against": args.against,
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after; {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
