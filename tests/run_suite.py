"""``make test`` and ``make test-quick``: the suite as two pytest runs at the same time.

The Neo4j tests (the ``neo4j`` mark) share one server holding one database (community
edition), so they run one after another in one process, which starts that server once and
stops it at the end; its output goes to ``build/test-neo4j.log`` and is shown when it is
done. Everything else, a test with a Neo4j server of its own (``neo4j_own_server``)
included, is parallel-safe and runs meanwhile under pytest-xdist (``-n 2``), a little
lower in CPU priority: the Neo4j run (Python and the server's JVM taking turns) is the
longest line of work that cannot be split, so when the two runs contend for the cores it
goes first, and the xdist workers take what it leaves.

A launcher JVM watches its stdin, a pipe only the Neo4j run's process holds, so a run that
dies (killed, crashed) does not leave a JVM behind; an interrupted run is stopped through
SIGINT, so that pytest tears its fixtures down (and the server with them).

One xdist run with ``--dist loadgroup`` would have been simpler, but with pytest 9.2 it
silently stops grouping (pytest-xdist issue #1386), which would start a server per worker.

    python -m tests.run_suite [--quick] [--workers N] [-- extra pytest arguments]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEO4J_LOG = ROOT / "build" / "test-neo4j.log"
QUICK = "not slow and not fuzz"
# The xdist workers yield to the Neo4j run (and its server) when the cores are contended.
# Mild: on a machine shared with other work, a larger value starves the workers (at 10,
# beside other processes at 0, they got a tenth of a core each and ended long after). On an
# idle machine the Neo4j run took 655 s at both 5 and 7 (the rest 588 s and 653 s): it is
# bound by its round trips, not by the CPU the workers leave it.
NICENESS = 5
SHARED = "neo4j and not neo4j_own_server"
REST = "not neo4j or neo4j_own_server"
STOP_GRACE_S = 60.0
# Not "deselected": each run deselects the other's tests.
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)\b")
NO_TESTS = 5  # pytest's exit code when a run selected nothing (e.g. a path with no Neo4j test)


def _marks(base: str, quick: bool) -> str:
    return f"{base} and {QUICK}" if quick else base


def _pytest(marks: str, cache: str, extra: list[str]) -> list[str]:
    # A cache directory per run: two runs writing one "last failed" list would lose one's.
    return [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-m",
        marks,
        "-o",
        f"cache_dir=.pytest_cache/{cache}",
        *extra,
    ]


def _counts(text: str) -> dict[str, int]:
    """The counts on pytest's last summary line ("3 failed, 900 passed in 12.0s")."""
    for line in reversed(text.splitlines()):
        found = _COUNT.findall(line)
        if found and " in " in line:
            counts: dict[str, int] = {}
            for number, word in found:
                key = "errors" if word.startswith("error") else word
                counts[key] = counts.get(key, 0) + int(number)
            return counts
    return {}


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a run so that it tears down: a Ctrl-C in a terminal reached it already (same
    process group), so it is given a moment first; then SIGINT, then SIGKILL."""
    for send in (None, signal.SIGINT, signal.SIGKILL):
        if send is not None:
            process.send_signal(send)
        try:
            process.wait(timeout=STOP_GRACE_S if send is signal.SIGINT else 5)
            return
        except subprocess.TimeoutExpired:
            continue


def _relay(process: subprocess.Popen[bytes]) -> str:
    """Copy the run's output to ours as it comes (pytest's dots included); return it."""
    assert process.stdout is not None  # stdout=PIPE
    out = sys.stdout.buffer
    chunks: list[bytes] = []
    while chunk := os.read(process.stdout.fileno(), 65536):
        chunks.append(chunk)
        out.write(chunk)
        out.flush()
    return b"".join(chunks).decode(errors="replace")


def _note_end(process: subprocess.Popen[bytes], ended: dict[str, float], name: str) -> None:
    process.wait()
    ended[name] = time.monotonic()


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so that both runs are stopped as on Ctrl-C


def _lower_priority() -> None:
    os.nice(NICENESS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only: {QUICK}")
    parser.add_argument("--workers", default="2", help="xdist workers for the rest (-n)")
    parser.add_argument("pytest_args", nargs="*", help="passed to both pytest runs")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)

    NEO4J_LOG.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print(f"== Neo4j tests: one process, in the background (progress: {NEO4J_LOG})", flush=True)
    with NEO4J_LOG.open("wb") as log:
        neo4j = subprocess.Popen(
            _pytest(_marks(f"({SHARED})", args.quick), "neo4j", args.pytest_args),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    # When each run ended, for the summary: which of the two was the long one.
    ended: dict[str, float] = {}
    threading.Thread(
        target=_note_end, args=(neo4j, ended, "neo4j"), name="neo4j-run-watch", daemon=True
    ).start()
    rest: subprocess.Popen[bytes] | None = None
    try:
        print(f"== The other tests: pytest-xdist, -n {args.workers}", flush=True)
        rest = subprocess.Popen(
            _pytest(
                _marks(f"({REST})", args.quick),
                "rest",
                # Two tests at a time: xdist's default first hands each worker a quarter
                # of its share in one block, which put every slow trial (sorted first by
                # tests/conftest.py) on one worker, the fuzzing last of them.
                ["-n", args.workers, "--maxschedchunk", "2", *args.pytest_args],
            ),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_lower_priority,
        )
        rest_text = _relay(rest)
        rest_code = rest.wait()
        ended["rest"] = time.monotonic()
        neo4j_code = neo4j.wait()
    except BaseException:
        for process in (rest, neo4j):
            if process is not None:
                _stop(process)
        raise
    neo4j_text = NEO4J_LOG.read_text(errors="replace")
    print("\n== Neo4j tests", flush=True)
    print(neo4j_text, end="", flush=True)

    total: dict[str, int] = {}
    for counts in (_counts(rest_text), _counts(neo4j_text)):
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
    summary = ", ".join(f"{value} {key}" for key, value in sorted(total.items()))
    took = {name: at - started for name, at in ended.items()}
    print(
        f"\n== Both runs: {summary or 'no summary line found'} in "
        f"{time.monotonic() - started:.0f}s (Neo4j run {took.get('neo4j', 0):.0f}s, "
        f"the other {took['rest']:.0f}s)"
    )
    codes = [code for code in (rest_code, neo4j_code) if code != NO_TESTS] or [NO_TESTS]
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
