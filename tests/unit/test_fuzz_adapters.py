"""Reliability item 21: a short fuzzing session over every discovery adapter finds no
undeclared exception (fuzz/fuzz_adapters.py; anything but InvalidInput naming the file is a
crash). Two harnesses at a time, each bounded in time and runs: about 35 s on two idle
cores."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from discovery.registry import FORMATS

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "fuzz" / "fuzz_adapters.py"
SECONDS = 5  # per format; two run at once
RUNS = 20_000

pytestmark = pytest.mark.fuzz


def rss_limit_mb(headroom_mb: int = 2048) -> int:
    """2 GB above this process's peak. Linux keeps a process's peak RSS across exec, and
    libFuzzer measures its own peak: a harness started from a test session that has
    grown to 2.7 GB would otherwise report out-of-memory before its first input."""
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak_kb // 1024 + headroom_mb


def fuzz(fmt: str, scratch: Path) -> tuple[str, int, str]:
    work = scratch / fmt
    work.mkdir()
    args = [
        sys.executable,
        str(HARNESS),
        fmt,
        f"-runs={RUNS}",
        f"-max_total_time={SECONDS}",
        "-timeout=20",  # one input taking this long (an alias walk, say) is a finding too
        f"-rss_limit_mb={rss_limit_mb()}",
        "-malloc_limit_mb=2048",  # one allocation this big is a finding (a bomb)
        f"-artifact_prefix={work}/",
    ]
    env = {**os.environ, "TMPDIR": str(work), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        args, cwd=work, env=env, capture_output=True, text=True, timeout=SECONDS + 60
    )
    return fmt, done.returncode, done.stdout + done.stderr


def test_each_adapter_survives_a_fuzzing_session(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda f: fuzz(f, tmp_path), sorted(set(FORMATS))))
    failed = {fmt: log[-4000:] for fmt, code, log in results if code != 0}
    assert not failed, "\n\n".join(f"== {fmt} ==\n{log}" for fmt, log in failed.items())
    for fmt, _code, log in results:
        done = re.search(r"Done (\d+) runs", log)
        assert done and int(done.group(1)) > 0, f"{fmt}: no fuzzing happened\n{log[-2000:]}"
        # The seeds were found and read: the corpus starts from the format's fixtures.
        assert re.search(r"INITED cov: \d+", log), f"{fmt}: {log[-2000:]}"
