"""A large YAML stream read on several cores gives what the one-process reader gives: the
same documents, lines and errors, or it is not cut at all."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest

from cmdb.domain.errors import InvalidInput
from discovery import io
from discovery.io import yaml_documents

pytestmark = pytest.mark.skipif(
    not io._use_libyaml(), reason="PyYAML without libyaml 0.2.6+: no parallel reading"
)


def _manifest(n: int) -> str:
    docs = []
    for i in range(n):
        docs.append(
            f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: pod-{i}\n  namespace: ns-{i % 7}\n"
            f"  labels: {{app: a{i % 5}, tier: '{i}'}}\n"
            "spec:\n  containers:\n  - name: c\n    image: nginx:1.25\n"
            f"    ports: [{{containerPort: {8000 + i % 90}}}]\n"
            f"    args: ['--ratio=0.{i}', 'yes', ~]\n"
            "    description: |\n      a literal block\n      --- not a marker inside\n"
        )
    return "---\n".join(docs) + "---\n# an empty document at the end\n"


def _read(path: Path, parallel: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(io, "PARALLEL_MIN_BYTES", 1 if parallel else 10**12)
    monkeypatch.setattr(io, "_cpus", lambda: 3)  # two workers, even on a one-core runner
    monkeypatch.setattr(io, "_idle_cores", lambda: 3)
    try:
        return list(yaml_documents(path))
    except InvalidInput as exc:
        return ("error", exc.message, exc.where)


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the parts handed to worker processes."""
    sizes: list[int] = []
    run = io._run_worker

    def counting(part: str) -> list[tuple[int, Any]]:
        sizes.append(len(part))
        return run(part)

    monkeypatch.setattr(io, "_run_worker", counting)
    return sizes


def test_the_parts_read_as_the_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spawned: list[int]
) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(_manifest(300))
    one = _read(path, False, monkeypatch)
    assert spawned == []
    many = _read(path, True, monkeypatch)
    assert len(spawned) == 2, "two worker processes read a part each"
    assert many == one
    assert [line for line, _ in many] == [line for line, _ in one]
    assert len(one) == 300  # the empty document is skipped by both
    assert one[-1][1]["metadata"]["name"] == "pod-299"
    # A line number from a worker's part is the file's line.
    lines = path.read_text().splitlines()
    for line, doc in many:
        assert lines[line - 1] == "apiVersion: v1"
        assert doc["kind"] == "Pod"


def test_timestamps_come_back_from_a_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spawned: list[int]
) -> None:
    # marshal cannot write a datetime: the worker falls back to pickle.
    path = tmp_path / "ts.yaml"
    docs = (f"at: 2026-12-0{1 + i % 9}T10:00:00Z\nn: {i}\n" for i in range(90))
    path.write_text("---\n".join(docs))
    many = _read(path, True, monkeypatch)
    assert spawned
    assert many == _read(path, False, monkeypatch)


@pytest.mark.parametrize("where", [0.1, 0.5, 0.95])
def test_an_error_in_any_part_is_the_one_process_readers_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spawned: list[int], where: float
) -> None:
    docs = _manifest(200).split("---\n")
    bad = int(len(docs) * where)
    docs[bad] = docs[bad].replace("kind: Pod", "kind: [Pod", 1)  # an unclosed flow sequence
    path = tmp_path / "broken.yaml"
    path.write_text("---\n".join(docs))
    one = _read(path, False, monkeypatch)
    assert one[0] == "error" and str(path) in one[2]
    assert _read(path, True, monkeypatch) == one


def test_documents_before_the_error_are_given_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spawned: list[int]
) -> None:
    docs = _manifest(120).split("---\n")
    docs[100] = "key: [unclosed\n"
    path = tmp_path / "late.yaml"
    path.write_text("---\n".join(docs))
    monkeypatch.setattr(io, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(io, "_cpus", lambda: 3)
    monkeypatch.setattr(io, "_idle_cores", lambda: 3)
    seen: list[str] = []
    with pytest.raises(InvalidInput) as caught:
        for _line, doc in yaml_documents(path):
            seen.append(doc["metadata"]["name"])
    assert seen == [f"pod-{i}" for i in range(100)]
    assert caught.value.where is not None and caught.value.where.startswith(f"{path}:")


def test_a_worker_that_cannot_run_leaves_the_reading_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(_manifest(100))
    one = _read(path, False, monkeypatch)

    def broken(part: str) -> list[tuple[int, Any]]:
        raise OSError("no processes left")

    monkeypatch.setattr(io, "_run_worker", broken)
    assert _read(path, True, monkeypatch) == one


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\n---\nb: *x\n",  # anchors: aliases are counted over the whole file
        "%YAML 1.1\n---\na: 1\n---\nb: 2\n",  # a directive belongs to the next document
        "a: 1\r\n---\r\nb: 2\r\n",  # other line breaks: line numbers would need care
    ],
)
def test_what_cutting_could_change_is_read_in_one_process(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(io, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(io, "_cpus", lambda: 4)
    monkeypatch.setattr(io, "_idle_cores", lambda: 4)
    assert io._parts(text * 50) is None
    assert io._parts("a: 1\n---\nb: 2\n" * 50) is not None


def test_one_core_or_a_small_file_reads_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "a: 1\n---\nb: 2\n" * 50
    monkeypatch.setattr(io, "_idle_cores", lambda: 4)
    monkeypatch.setattr(io, "_cpus", lambda: 1)
    monkeypatch.setattr(io, "PARALLEL_MIN_BYTES", 1)
    assert io._parts(text) is None
    monkeypatch.setattr(io, "_cpus", lambda: 2)
    monkeypatch.setattr(io, "PARALLEL_MIN_BYTES", 10**9)
    assert io._parts(text) is None


def test_cuts_fall_on_document_starts_only(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _manifest(50)
    monkeypatch.setattr(io, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(io, "_cpus", lambda: 5)
    monkeypatch.setattr(io, "_idle_cores", lambda: 5)
    parts = io._parts(text)
    assert parts is not None and len(parts) == 5
    assert parts[0][0] == 0 and parts[-1][1] == len(text)
    for (_s, end), (start, _e) in itertools.pairwise(parts):
        assert end == start
        assert text[start:].startswith("---\n") and text[start - 1] == "\n"
    # The first part, read by the caller's process, is the smallest.
    sizes = [e - s for s, e in parts]
    assert sizes[0] == min(sizes)


def test_a_busy_machine_reads_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "a: 1\n---\nb: 2\n" * 50
    monkeypatch.setattr(io, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(io, "_cpus", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.8, 1.0, 1.0))
    assert io._idle_cores() == 0
    assert io._parts(text) is None
    monkeypatch.setattr(os, "getloadavg", lambda: (0.2, 1.0, 1.0))
    assert io._idle_cores() == 2
    parts = io._parts(text)
    assert parts is not None and len(parts) == 2
