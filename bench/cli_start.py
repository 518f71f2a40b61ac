"""How long a person waits for a CLI command, beside the import of its three libraries.

Each command runs in a fresh interpreter, as from a shell, on the embedded sample estate
(``cmdb sample load``); the baseline is ``python -c "import typer, pydantic, rich"`` in the
same run. Runs take turns (baseline, then each command) so a machine that gets busier
affects all alike; the median of ``--repeat`` runs is reported.

Bytecode caches are allowed to exist (a first warm-up run writes them), as on a user's
machine: a ``PYTHONDONTWRITEBYTECODE`` in the environment would otherwise make every run
compile the project from source.

Target (issue 12): ``cmdb ci show X`` and ``cmdb counts`` <= 4x the baseline.

Usage: python bench/cli_start.py [--repeat 15] [--out bench/results/cli_start.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 4.0
BASELINE = "python -c 'import typer, pydantic, rich'"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CMDB_", "PYTHONDONT"))}
    env["CMDB_STORE"] = "embedded"
    return env


def _run(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, timeout=120)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/cli_start.json")
    args = parser.parse_args()

    env = _env()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "sample.db")
        cmdb = [py, "-m", "cmdb.cli", "--db", db]
        subprocess.run([*cmdb, "sample", "load"], env=env, check=True, stdout=subprocess.DEVNULL)
        runs: dict[str, list[str]] = {
            BASELINE: [py, "-c", "import typer, pydantic, rich"],
            "cmdb ci show srv-01": [*cmdb, "ci", "show", "srv-01"],
            "cmdb counts": [*cmdb, "counts"],
            "cmdb ci list": [*cmdb, "ci", "list"],
            "cmdb impact incident --ci bookings-db": [
                *cmdb,
                "impact",
                "incident",
                "--ci",
                "bookings-db",
            ],
            "cmdb --help": [*cmdb, "--help"],
        }
        for argv in runs.values():  # warm-up: bytecode caches, page cache
            _run(argv, env)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeat):
            for name, argv in runs.items():
                times[name].append(_run(argv, env))

    base = statistics.median(times[BASELINE])
    rows = []
    for name, samples in times.items():
        med = statistics.median(samples)
        targeted = name in ("cmdb ci show srv-01", "cmdb counts")
        rows.append(
            {
                "command": name,
                "median_s": round(med, 4),
                "min_s": round(min(samples), 4),
                "x_baseline": round(med / base, 2),
                "target_x": TARGET if targeted else None,
                "met": (med / base <= TARGET) if targeted else None,
            }
        )
    load = os.getloadavg()
    print(f"CLI start, median of {args.repeat} runs; load average {load[0]:.2f} {load[1]:.2f}")
    print(f"{'command':42} {'median s':>9} {'min s':>7} {'x base':>7}  target")
    for r in rows:
        target = "" if r["target_x"] is None else f"<= {TARGET}x: {'met' if r['met'] else 'MISSED'}"
        print(
            f"{r['command']:42} {r['median_s']:9.3f} {r['min_s']:7.3f} {r['x_baseline']:7.2f}  "
            f"{target}"
        )
    result = {
        "benchmark": "cli_start",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "load_average": load,
        "repeat": args.repeat,
        "baseline": BASELINE,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if all(r["met"] is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
