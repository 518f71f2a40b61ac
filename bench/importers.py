"""Importers benchmark (issue 15): each importer reads >= 20k resources/s before reconciliation.

For each format with a generator in ``bench/importer_gen/<format>.py`` (``FORMAT``, the
discovery format name, and ``generate(n, directory) -> list[Path]``, which writes files
holding ``n`` resources in the shape the real tool writes), the files are written once,
then, best of ``--repeat``:

  * the reader: ``collect(FORMAT, registry.reader(FORMAT)(paths))``, what ``cmdb discover
    FORMAT FILES`` and the push service run before reconciling;
  * the baseline: ``orjson.loads`` of every file (the floor: reading the bytes and building
    the Python objects, nothing modelled), in the same run.

Both run with the cyclic collector paused, as ``cmdb discover`` and a push run the reader.
The table gives resources/s and the reader's time over the parse's. Target: >= 20,000
resources/s per importer.

Usage: python bench/importers.py [--sizes 20k,100k] [--formats aws,netbox] [--repeat 3]
       [--out bench/results/importers.json]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.estate import parse_size, size_label  # noqa: E402
from cmdb.store.gcpause import gc_paused  # noqa: E402
from discovery.records import collect  # noqa: E402
from discovery.registry import reader  # noqa: E402

TARGET_PER_S = 20_000
# Generators, by module under bench/importer_gen/ (each helper of issue 15 adds its own).
GENERATORS: tuple[str, ...] = ("aws", "spdx", "netbox", "glpi")


class Generator(Protocol):
    FORMAT: str

    def generate(self, n: int, directory: Path) -> list[Path]: ...


def _best(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _parse_all(paths: Sequence[Path]) -> None:
    with gc_paused():  # as the reader runs (below)
        for p in paths:
            orjson.loads(p.read_bytes())


def _read(fmt: str, read: Callable[[Sequence[Path]], Any], paths: Sequence[Path]) -> Any:
    # As `cmdb discover` reads (discovery.reconcile.engine.ingest) and as a push reads
    # (discovery.reconcile.service): with the cyclic collector paused. Its passes over the
    # growing heap of records were about half of a 20k-resource read.
    with gc_paused():
        return collect(fmt, read(paths))


def run(formats: Sequence[str], sizes: Sequence[int], repeat: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in formats:
        gen = cast(Generator, importlib.import_module(f"bench.importer_gen.{name}"))
        read = reader(gen.FORMAT)
        for n in sizes:
            with tempfile.TemporaryDirectory() as d:
                paths = gen.generate(n, Path(d))
                got = _read(gen.FORMAT, read, paths)
                reader_s = _best(repeat, lambda g=gen, r=read, p=paths: _read(g.FORMAT, r, p))
                parse_s = _best(repeat, lambda p=paths: _parse_all(p))
            rows.append(
                {
                    "format": gen.FORMAT,
                    "resources": n,
                    "cis": len(got.cis),
                    "relationships": len(got.rels),
                    "problems": len(got.problems),
                    "reader_s": reader_s,
                    "parse_s": parse_s,
                    "per_s": n / reader_s,
                    "over_parse": reader_s / parse_s,
                    "target_per_s": TARGET_PER_S,
                    "met": n / reader_s >= TARGET_PER_S,
                }
            )
            print(
                f"| {gen.FORMAT} | {size_label(n)} | {reader_s:.3f} s | {n / reader_s:,.0f}/s "
                f"| {parse_s:.3f} s | {reader_s / parse_s:.1f}x | >= {TARGET_PER_S:,}/s "
                f"| {'yes' if n / reader_s >= TARGET_PER_S else 'NO'} |",
                flush=True,
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="20k")
    ap.add_argument("--formats", default=",".join(GENERATORS))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "importers.json"))
    args = ap.parse_args(argv)
    formats = [f for f in args.formats.split(",") if f]
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    load_before = os.getloadavg()
    print(
        "| importer | resources | reader | resources/s | orjson parse (baseline) "
        "| reader / parse | target | met |"
    )
    print("|---|---|---|---|---|---|---|---|")
    rows = run(formats, sizes, args.repeat)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "python": platform.python_version(),
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after; {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
