"""Every command the README and the guides show is run here, in order, on the demo estate.

The convention, for README.md and docs/**/*.md:

* A fenced block tagged ``console`` (or ``bash``, ``sh``, ``shell``) holds commands, each
  on a line starting with ``$ ``; a line ending in ``\\`` continues on the next one.
* A runnable command is ``cmdb ...``, ``export CMDB_NAME=value`` (kept for the file's
  later commands) or ``. .venv/bin/activate`` (nothing to do here). ``cmdb`` runs through
  the Typer app the ``cmdb`` script runs (``cmdb.cli:app``), in this process. Arguments
  are split as a shell would (quotes, ``*`` globs); pipes, redirections and variables are
  not allowed, so what a reader copies is what ran.
* The lines after a command, up to the next ``$ `` line, are output it must print: each
  non-blank line must appear, in order, inside a line of its stdout or stderr (runs of
  whitespace count as one space). A ``...`` line stands for lines left out.
* A command must exit 0; one whose shown output starts with ``error:`` must instead exit
  2 (the CLI's bad-input code) with that message on stderr.
* A block right after a line ``<!-- not run: REASON -->`` is not run: it needs a running
  server, Neo4j or Docker. Keep them few (``MAX_NOT_RUN``).

Each file starts from its own copy of the demo store: what the Makefile's ``demo`` target
writes (its ``cmdb`` commands before ``serve``), built once, in a temporary directory that
holds ``.cmdb/demo.db`` and links to the repository's top-level entries, so relative paths
such as ``cmdb/sample/inventories/...`` resolve as they do at the top of the repository.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cmdb.cli import app

ROOT = Path(__file__).resolve().parents[2]
SHELL_TAGS = frozenset({"console", "bash", "sh", "shell"})
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(?P<why>\S.*?)\s*-->$")
EXPORT = re.compile(r"^export (?P<name>CMDB_[A-Z0-9_]+)=(?P<value>.*)$")
ACTIVATE = frozenset({". .venv/bin/activate", "source .venv/bin/activate"})
SHELL_SYNTAX = frozenset({"|", "||", "&&", ";", ">", ">>", "<", "2>", "&"})
MAX_NOT_RUN = 6
# Every guide under docs/guides shows commands; so does the README's tour.
MIN_COMMANDS = 5
EXIT_BAD_INPUT = 2
DEMO_DB = ".cmdb/demo.db"
COLUMNS = "120"  # what `make demo` gives rich; tables wrap at it


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


@dataclass
class Command:
    text: str  # as shown, continuation lines joined
    line: int  # where it starts in its file
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    line: int
    commands: list[Command]
    not_run: str | None  # the reason, for a block that is not run


def blocks(path: Path) -> Iterator[Block]:
    """The shell blocks of a Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^(?P<fence>```+|~~~+)\s*(?P<tag>[\w-]*)", lines[i])
        if not fence:
            i += 1
            continue
        start, close = i, fence["fence"]
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].startswith(close):
            body.append(lines[i])
            i += 1
        i += 1
        if fence["tag"] not in SHELL_TAGS:
            continue
        before = next((ln.strip() for ln in reversed(lines[:start]) if ln.strip()), "")
        why = NOT_RUN.match(before)
        try:
            commands = list(_commands(body, start + 2))
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        yield Block(start + 1, commands, why["why"] if why else None)


def _commands(body: list[str], first_line: int) -> Iterator[Command]:
    current: Command | None = None
    continuing = False
    for n, raw in enumerate(body, start=first_line):
        if continuing and current is not None:
            current.text += " " + raw.strip().removesuffix("\\").strip()
            continuing = raw.rstrip().endswith("\\")
        elif raw.startswith("$ "):
            if current is not None:
                yield current
            current = Command(raw[2:].strip().removesuffix("\\").strip(), n)
            continuing = raw.rstrip().endswith("\\")
        elif current is not None and raw.strip():
            current.expected.append(raw.strip())
        elif current is None and raw.strip() and not raw.lstrip().startswith("#"):
            raise ValueError(f"line {n}: a shell block's commands start with '$ ': {raw!r}")
    if current is not None:
        yield current


# -- the demo store ---------------------------------------------------------------------------


def demo_commands(makefile: Path) -> list[list[str]]:
    """The ``cmdb`` arguments the Makefile's ``demo`` target runs, up to ``serve``."""
    text = makefile.read_text(encoding="utf-8").replace("\\\n", " ")
    variables = dict(re.findall(r"^(\w+)\s*[:?]?=\s*(.*?)\s*$", text, flags=re.MULTILINE))

    def expand(value: str) -> str:
        # As make does: variables inside variables, and $(shell ...) (the demo's window is
        # computed from today's date).
        shell = re.fullmatch(r"\$\(shell (.*)\)", value)
        if shell:
            done = subprocess.run(
                expand(shell[1]), shell=True, capture_output=True, text=True, check=True
            )
            return done.stdout.strip()
        return re.sub(
            r"\$\((\w+)\)", lambda m: expand(variables[m[1]]) if m[1] in variables else m[0], value
        )

    recipe = re.search(r"^demo:.*\n((?:\t.*\n?)+)", text, flags=re.MULTILINE)
    assert recipe, "the Makefile has a demo target"
    out: list[list[str]] = []
    for line in recipe[1].splitlines():
        step = line.strip().lstrip("@")
        if not step.startswith("$(DEMO) "):
            continue
        step = expand(step[len("$(DEMO) ") :])
        args = [a for a in shlex.split(step) if a != ">/dev/null"]
        if args[0] == "serve":
            break
        out.append(args)
    assert out and out[0][:2] == ["sample", "load"], f"the demo target loads the sample: {out}"
    return out


def invoke(args: list[str], env: dict[str, str]) -> Result:
    """``cmdb ARGS`` through the Typer app the ``cmdb`` script runs (``cmdb.cli:app``), in
    this process: a fresh interpreter per command would make this test ten times slower
    for the same code. Every ``CMDB_*`` variable of the caller's environment is dropped."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CMDB_")}
    return CliRunner().invoke(app, args, env={**unset, "COLUMNS": COLUMNS, **env})


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        for args in demo_commands(ROOT / "Makefile"):
            done = invoke(["--db", DEMO_DB, *args], {})
            assert done.exit_code == 0, (args, done.output, done.exception)
    return base / DEMO_DB


def workdir(tmp_path: Path, demo_store: Path) -> Path:
    """A fresh copy of the demo store, beside links to the repository's top level."""
    for entry in ROOT.iterdir():
        if not entry.name.startswith(".") and entry.name not in ("build", "site"):
            (tmp_path / entry.name).symlink_to(entry)
    (tmp_path / ".cmdb").mkdir()
    for suffix in ("", "-wal", "-shm"):
        src = demo_store.with_name(demo_store.name + suffix)
        if src.exists():
            shutil.copy(src, tmp_path / ".cmdb" / src.name)
    return tmp_path


# -- running a file's commands ----------------------------------------------------------------


def squash(text: str) -> str:
    return " ".join(text.split())


def check_output(cmd: Command, where: str, output: str) -> None:
    printed = [squash(line) for line in output.splitlines()]
    at = 0
    for want in cmd.expected:
        if want == "...":
            continue
        needle = squash(want)
        found = next((i for i in range(at, len(printed)) if needle in printed[i]), None)
        assert found is not None, f"{where}: {cmd.text}\nexpected {want!r} in:\n{output}"
        at = found + 1


def arguments(cmd: Command, cwd: Path, where: str) -> list[str]:
    """The command's arguments after ``cmdb``, split and globbed as a shell would."""
    args = shlex.split(cmd.text, comments=True)
    bad = SHELL_SYNTAX.intersection(args) or [a for a in args if "$" in a]
    assert not bad, f"{where}: no shell syntax in a guide's command: {cmd.text}"
    out: list[str] = []
    for arg in args[1:]:
        matches = sorted(glob.glob(arg, root_dir=cwd)) if re.search(r"[*?[]", arg) else []
        out += matches or [arg]
    return out


def run_file(path: Path, cwd: Path) -> int:
    """Run a file's commands in order (in ``cwd``); the number of ``cmdb`` commands run."""
    rel = path.relative_to(ROOT)
    env: dict[str, str] = {}
    ran = 0
    for block in blocks(path):
        if block.not_run:
            continue
        for cmd in block.commands:
            where = f"{rel}:{cmd.line}"
            export = EXPORT.match(cmd.text)
            if export:
                env[export["name"]] = export["value"]
                continue
            if cmd.text in ACTIVATE:
                continue
            assert cmd.text.startswith("cmdb "), f"{where}: not a command the test runs"
            done = invoke(arguments(cmd, cwd, where), env)
            wants_error = bool(cmd.expected) and cmd.expected[0].startswith("error:")
            code = EXIT_BAD_INPUT if wants_error else 0
            assert done.exit_code == code, (
                f"{where}: {cmd.text}\nexit {done.exit_code}, not {code}:\n{done.output}",
                done.exception,
            )
            check_output(cmd, where, done.stderr if wants_error else done.output)
            ran += 1
    return ran


SHOWN = [p for p in doc_files() if any(b.commands and not b.not_run for b in blocks(p))]


@pytest.mark.parametrize("path", SHOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_commands_run_in_order(
    path: Path, tmp_path: Path, demo_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = workdir(tmp_path, demo_store)
    monkeypatch.chdir(cwd)
    assert run_file(path, cwd) >= 1


def test_the_readme_and_every_guide_show_commands() -> None:
    counted = {p: sum(len(b.commands) for b in blocks(p) if not b.not_run) for p in doc_files()}
    guides = sorted((ROOT / "docs" / "guides").glob("*.md"))
    assert guides, "docs/guides holds the guides"
    for path in [ROOT / "README.md", *guides]:
        assert counted[path] >= MIN_COMMANDS, f"{path.relative_to(ROOT)} shows few commands"


def test_few_blocks_are_not_run() -> None:
    skipped = [(p, b) for p in doc_files() for b in blocks(p) if b.not_run]
    assert len(skipped) <= MAX_NOT_RUN, [f"{p.relative_to(ROOT)}:{b.line}" for p, b in skipped]
