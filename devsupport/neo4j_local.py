"""A real Neo4j 5.26 server for tests and developers, with or without Docker.

Where Docker is missing (CI machines, some laptops) the server is the embedded Neo4j
community DBMS run by the small Java program in ``neo4j-launcher/``, which opens a Bolt port;
the application then talks to it exactly as to a standalone server.

This is a dev/test helper, not part of the application (it is not installed): it may read
the process environment itself (``NEO4J_URI`` and friends, as testcontainers does), whereas
the application reads its settings only through ``cmdb.config``.

Command line (developers, from the repository root)::

    python -m devsupport.neo4j_local up      # prints CMDB_* lines to export
    python -m devsupport.neo4j_local status
    python -m devsupport.neo4j_local down
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from neo4j import GraphDatabase
from neo4j.exceptions import ServiceUnavailable

DEFAULT_PASSWORD = "cmdb-test-password"
DEFAULT_USER = "neo4j"
DOCKER_IMAGE = "neo4j:5.26"
LAUNCHER_DIR = "neo4j-launcher"
MAIN_CLASS = "io.graphcmdb.launcher.Neo4jLauncher"
# The launcher reads the password from here so that it does not show up in `ps` output.
PASSWORD_ENV = "NEO4J_LAUNCHER_PASSWORD"
READY_PREFIX = "READY "

# -Xmx bounds the heap; the page cache (256 MiB, set by the launcher) is off-heap on top.
# The --add-opens let Neo4j's page cache use direct buffers instead of a slower fallback
# (it logs a warning without them); OOM should kill the JVM rather than leave it wedged.
# SerialGC: measured ~130 MiB less RSS than the default G1 with no loss on test workloads;
# a small heap does not need a concurrent collector. (C1-only JIT started faster but ran
# queries half as fast, so it is not used for the developer server and the benchmarks.)
JVM_OPTIONS: tuple[str, ...] = (
    "-Xms256m",
    "-Xmx1g",
    "-XX:+UseSerialGC",
    "-XX:+ExitOnOutOfMemoryError",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
)
# A test suite's server (``for_tests``): the C1 compiler only, and the launcher's
# --for-tests (each query keeps its first plan). Each test runs many short, different
# queries a few times on freshly refilled data, so C2 kept compiling code that did not run
# again (69 of 185 s of the JVM's CPU on tests/api from a fresh server) and Cypher kept
# planning the same queries again. Measured on the Neo4j tests (JVM CPU, fresh server):
# tests/api 169 s -> 145 s with --for-tests alone -> 82-98 s with C1 as well; start-up
# 16 -> 10 s; tests/integration + tests/contract 263 -> 244 -> 223 s. C1 without
# --for-tests was worse than neither (405 s there, on a busier machine): planning is what
# C1 runs slowest. Not for benchmarks or the developer server: there queries repeat, and
# C2's code is what is measured.
TEST_JVM_OPTIONS: tuple[str, ...] = ("-XX:TieredStopAtLevel=1",)

STOP_TIMEOUT_S = 30.0
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
TAIL_LINES = 40


@dataclass
class Neo4jServer:
    """Where to reach a Neo4j server, and what to stop when done with it.

    ``process`` is the launcher JVM when this module started one, and None when the server
    is external (``NEO4J_URI``) or a testcontainers container (kept in ``container``).
    """

    uri: str
    user: str
    password: str
    process: subprocess.Popen[bytes] | None
    # A fresh per-run store is deleted on stop; None for external or persistent stores.
    data_dir: Path | None = None
    # testcontainers' Neo4jContainer; Any because testcontainers ships no type information.
    container: Any = field(default=None, repr=False)

    def stop(self) -> None:
        """Stop what this object started; safe to call twice, a no-op for external servers."""
        if self.process is not None:
            _terminate(self.process)
            self.process = None
        if self.container is not None:
            self.container.stop()
            self.container = None
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None


# --------------------------------------------------------------------------- build


def _launcher_dir(project_root: Path) -> Path:
    return project_root / LAUNCHER_DIR


def _stamp_path(project_root: Path) -> Path:
    # Written after a successful build, holding the sources' fingerprint: Maven's own outputs
    # do not say whether the build as a whole finished (copy-dependencies may skip jars).
    return _launcher_dir(project_root) / "target" / "launcher.stamp"


def _classpath(project_root: Path) -> str:
    target = _launcher_dir(project_root) / "target"
    # The JVM expands a trailing "/*" itself to every jar in the directory.
    return f"{target / 'classes'}{os.pathsep}{target / 'lib'}{os.sep}*"


def _source_fingerprint(launcher: Path) -> str:
    """Identity of the launcher's sources: paths, sizes and mtimes, hashed.

    Compared for equality rather than "stamp newer than sources", because file systems with
    coarse timestamps can give an edit and the previous build the same mtime, and a
    `git checkout` can bring back sources older than the last build.
    """
    sources = [launcher / "pom.xml", *(p for p in (launcher / "src").rglob("*") if p.is_file())]
    digest = hashlib.sha256()
    for path in sorted(sources):
        stat = path.stat()
        digest.update(
            f"{path.relative_to(launcher)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode()
        )
    return digest.hexdigest()


def _pom_hash(launcher: Path) -> str:
    return hashlib.sha256((launcher / "pom.xml").read_bytes()).hexdigest()


def _read_stamp(project_root: Path) -> dict[str, str]:
    try:
        stamp = json.loads(_stamp_path(project_root).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in stamp.items()} if isinstance(stamp, dict) else {}


def _build_is_current(project_root: Path) -> bool:
    launcher = _launcher_dir(project_root)
    main_class = (
        launcher / "target" / "classes" / Path(*MAIN_CLASS.split(".")).with_suffix(".class")
    )
    lib = launcher / "target" / "lib"
    if not (main_class.is_file() and any(lib.glob("neo4j-bolt-*.jar"))):
        return False
    return _read_stamp(project_root).get("sources") == _source_fingerprint(launcher)


@contextlib.contextmanager
def _build_lock(project_root: Path) -> Iterator[None]:
    # Parallel test workers may all ask for the launcher at once; one builds, others wait.
    target = _launcher_dir(project_root) / "target"
    target.mkdir(parents=True, exist_ok=True)
    with (target / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_launcher(project_root: Path) -> None:
    """Build neo4j-launcher with Maven unless the last successful build used these sources.

    The first build downloads the Neo4j jars (~160 MB) into ~/.m2, which takes about two
    minutes; a rebuild takes ~5 s, and a call with unchanged sources a few stat() calls.
    """
    project_root = project_root.resolve()  # the JVM gets absolute paths whatever the cwd
    launcher = _launcher_dir(project_root)
    if not (launcher / "pom.xml").is_file():
        raise RuntimeError(f"no Maven project at {launcher}")
    if _build_is_current(project_root):
        return
    with _build_lock(project_root):
        if _build_is_current(project_root):  # another process built it while we waited
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeError("Maven ('mvn') is not on PATH; it is needed to build neo4j-launcher")
        previous = _read_stamp(project_root)
        _stamp_path(project_root).unlink(missing_ok=True)
        # Taken before Maven runs, so an edit made during the build triggers the next one.
        fingerprint = _source_fingerprint(launcher)
        pom_hash = _pom_hash(launcher)
        # copy-dependencies never deletes jars, so after a dependency change the old ones
        # would stay on the "lib/*" classpath next to the new ones. Only then is lib/ cleared:
        # other launcher JVMs may be running from these jars.
        if previous.get("pom") not in (None, pom_hash):
            shutil.rmtree(launcher / "target" / "lib", ignore_errors=True)
        result = subprocess.run(
            [mvn, "-q", "-B", "package"],
            cwd=launcher,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            # Maven 3.8 colours some output even in batch mode; escapes only clutter errors.
            output = _tail(_ANSI_ESCAPE.sub("", result.stdout + result.stderr))
            raise RuntimeError(
                f"building {launcher} failed (mvn exit {result.returncode}):\n{output}"
            )
        _stamp_path(project_root).write_text(json.dumps({"sources": fingerprint, "pom": pom_hash}))


# --------------------------------------------------------------------------- run


def _tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _file_tail(path: Path) -> str:
    try:
        return _tail(path.read_text(errors="replace"))
    except OSError:
        return "(no output)"


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("Java ('java', version 17 or 21) is not on PATH; Neo4j 5.26 needs it")
    return java


def _launcher_command(
    project_root: Path,
    data_dir: Path,
    host: str,
    port: int,
    *,
    watch_stdin: bool,
    for_tests: bool = False,
) -> list[str]:
    command = [
        _java(),
        *JVM_OPTIONS,
        *(TEST_JVM_OPTIONS if for_tests else ()),
        "-cp",
        _classpath(project_root),
        MAIN_CLASS,
        "--host",
        host,
        "--port",
        str(port),
        "--data",
        str(data_dir),
    ]
    if not watch_stdin:
        command.append("--no-stdin-watch")
    if for_tests:
        command.append("--for-tests")  # query plans kept despite the data's churn
    return command


def _launcher_env(password: str) -> dict[str, str]:
    env = dict(os.environ)
    env[PASSWORD_ENV] = password
    return env


def _parse_ready(line: str) -> str | None:
    line = line.strip()
    return line[len(READY_PREFIX) :].strip() if line.startswith(READY_PREFIX) else None


def _verify(uri: str, user: str, password: str, deadline: float) -> None:
    # READY is printed after Bolt is bound, so this normally succeeds at once; the retry only
    # covers a listener that is bound but not yet accepting under heavy load.
    while True:
        try:
            with GraphDatabase.driver(uri, auth=(user, password)) as driver:
                driver.verify_connectivity()
            return
        except ServiceUnavailable:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()  # SIGTERM: the launcher's shutdown hook checkpoints the stores
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _read_lines_into(stream: IO[bytes], lines: queue.Queue[str | None]) -> None:
    for raw in stream:
        lines.put(raw.decode("utf-8", errors="replace"))
    lines.put(None)  # EOF: the process closed stdout, i.e. it is exiting


def start_local(
    project_root: Path,
    password: str = DEFAULT_PASSWORD,
    timeout: float = 180,
    data_dir: Path | None = None,
    *,
    for_tests: bool = False,
) -> Neo4jServer:
    """Build if needed and start a launcher JVM on a free port with a fresh, throw-away store.

    ``timeout`` bounds the wait for the server (READY plus a driver handshake), not the build.
    ``for_tests``: tuned for a test suite's CPU in all rather than for query speed
    (``TEST_JVM_OPTIONS``).

    The JVM watches its stdin, which only this process holds: if the test run dies without
    calling stop(), the pipe closes and the JVM shuts itself down instead of lingering.
    """
    project_root = project_root.resolve()  # the JVM gets absolute paths whatever the cwd
    build_launcher(project_root)
    # The timeout starts after the build: a cold build downloads ~160 MB and its duration
    # says nothing about whether the server is healthy; a failed build raises anyway.
    deadline = time.monotonic() + timeout
    # A given data_dir is the caller's (e.g. a crash test restarting on the same store)
    # and survives stop(); otherwise the store is fresh and thrown away on stop().
    keep = data_dir is not None
    if data_dir is None:
        data_dir = project_root / "build" / f"neo4j-data-{uuid.uuid4().hex[:12]}"
    data_dir.mkdir(parents=True, exist_ok=True)
    # stderr goes to a file, not a pipe: nobody reads it while tests run, and a full pipe
    # buffer would block the JVM's logging thread.
    log_path = data_dir / "launcher.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            # Port 0: the JVM binds a free port itself and reports it, so there is no window
            # in which another process can take a port we picked.
            _launcher_command(
                project_root, data_dir, "127.0.0.1", 0, watch_stdin=True, for_tests=for_tests
            ),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=_launcher_env(password),
        )
    assert process.stdout is not None  # stdout=PIPE above
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(
        target=_read_lines_into,
        args=(process.stdout, lines),
        name="neo4j-launcher-stdout",
        daemon=True,
    ).start()

    uri: str | None = None
    try:
        while uri is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(
                    f"Neo4j launcher gave no READY line within {timeout:.0f}s; "
                    f"log {log_path}:\n{_file_tail(log_path)}"
                )
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:
                code = process.wait(timeout=STOP_TIMEOUT_S)
                raise RuntimeError(
                    f"Neo4j launcher exited early (exit {code}); "
                    f"log {log_path}:\n{_file_tail(log_path)}"
                )
            uri = _parse_ready(line)
        _verify(uri, DEFAULT_USER, password, deadline)
    except BaseException:
        # Keep data_dir: its logs/debug.log says why Neo4j did not come up.
        _terminate(process)
        raise
    return Neo4jServer(
        uri=uri,
        user=DEFAULT_USER,
        password=password,
        process=process,
        data_dir=None if keep else data_dir,
    )


def _docker_available() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        # The CLI may be installed without a reachable engine; only `info` asks the engine.
        result = subprocess.run(
            [docker, "info"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _neo4j_container_class() -> Any:
    """testcontainers' Neo4jContainer, or None when testcontainers is not installed."""
    try:
        # testcontainers >= 4.x moved it; the old path still works but warns.
        from testcontainers.community.neo4j import Neo4jContainer
    except ImportError:
        try:
            from testcontainers.neo4j import Neo4jContainer
        except ImportError:
            return None
    return Neo4jContainer


def _start_container(container_class: Any, password: str) -> Neo4jServer:
    container = container_class(DOCKER_IMAGE, password=password)
    container.start()
    try:
        uri = str(container.get_connection_url())
    except BaseException:
        container.stop()
        raise
    return Neo4jServer(
        uri=uri, user=DEFAULT_USER, password=password, process=None, container=container
    )


def find_or_start(
    project_root: Path, password: str = DEFAULT_PASSWORD, *, for_tests: bool = False
) -> Neo4jServer:
    """A Neo4j server for tests: the one named by NEO4J_URI, else Docker, else the launcher
    (``for_tests``: see ``start_local``).

    Reading os.environ here (not via cmdb.config) is deliberate: this is a test/dev helper,
    and NEO4J_URI/NEO4J_USER/NEO4J_PASSWORD are the names testcontainers and Neo4j's own
    tools use.
    """
    uri = os.environ.get("NEO4J_URI")
    if uri:
        env_password = os.environ.get("NEO4J_PASSWORD")
        if env_password is None:
            raise RuntimeError("NEO4J_URI is set but NEO4J_PASSWORD is not")
        user = os.environ.get("NEO4J_USER", DEFAULT_USER)
        return Neo4jServer(uri=uri, user=user, password=env_password, process=None)
    container_class = _neo4j_container_class()
    if container_class is not None and _docker_available():
        return _start_container(container_class, password)
    return start_local(project_root, password=password, for_tests=for_tests)


# --------------------------------------------------------------------------- CLI


def _default_project_root() -> Path:
    # devsupport/neo4j_local.py -> the repository root holding neo4j-launcher/.
    return Path(__file__).resolve().parents[1]


def _state_path(root: Path) -> Path:
    return root / "build" / "neo4j-local.json"


def _read_state(root: Path) -> dict[str, Any] | None:
    try:
        state = json.loads(_state_path(root).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _is_launcher(pid: int) -> bool:
    """Whether pid is alive and still our launcher (pids get reused after a crash or reboot)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: certainly not ours
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust the pidfile
    return MAIN_CLASS.encode() in cmdline


def _env_lines(uri: str, user: str, password: str) -> list[str]:
    values = {
        "CMDB_STORE": "neo4j",
        "CMDB_NEO4J_URI": uri,
        "CMDB_NEO4J_USER": user,
        "CMDB_NEO4J_PASSWORD": password,
    }
    return [f"{key}={shlex.quote(value)}" for key, value in values.items()]


def _wait_for_ready_in_log(
    process: subprocess.Popen[bytes], log_path: Path, deadline: float
) -> str:
    while time.monotonic() < deadline:
        with log_path.open(errors="replace") as log:
            for line in log:
                uri = _parse_ready(line)
                if uri is not None:
                    return uri
        if process.poll() is not None:
            raise RuntimeError(
                f"Neo4j launcher exited early (exit {process.returncode}); "
                f"log {log_path}:\n{_file_tail(log_path)}"
            )
        time.sleep(0.2)
    raise RuntimeError(
        f"Neo4j launcher gave no READY line; log {log_path}:\n{_file_tail(log_path)}"
    )


def _cmd_up(root: Path, port: int, password: str, timeout: float) -> int:
    state = _read_state(root)
    if state is not None and _is_launcher(int(state["pid"])):
        print(f"neo4j already running (pid {state['pid']}) at {state['uri']}", file=sys.stderr)
        print("\n".join(_env_lines(state["uri"], state["user"], state["password"])))
        return 0
    build_launcher(root)
    deadline = time.monotonic() + timeout  # after the build, as in start_local
    build = root / "build"
    # A fixed store, unlike the tests' throw-away ones, so a developer's data survives restarts.
    data_dir = build / "neo4j-dev-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = build / "neo4j-local.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            # No stdin watch: stdin is /dev/null, and the server must outlive this command.
            _launcher_command(root, data_dir, "127.0.0.1", port, watch_stdin=False),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_launcher_env(password),
            start_new_session=True,  # not killed with this shell's process group / on hangup
        )
    try:
        uri = _wait_for_ready_in_log(process, log_path, deadline)
        _verify(uri, DEFAULT_USER, password, deadline)
    except BaseException:
        _terminate(process)
        raise
    state_path = _state_path(root)
    state_path.write_text(
        json.dumps(
            {
                "pid": process.pid,
                "uri": uri,
                "user": DEFAULT_USER,
                "password": password,
                "data_dir": str(data_dir),
                "log": str(log_path),
            },
            indent=2,
        )
    )
    state_path.chmod(0o600)  # it holds the password
    print(f"neo4j started (pid {process.pid}) at {uri}; log {log_path}", file=sys.stderr)
    print("\n".join(_env_lines(uri, DEFAULT_USER, password)))
    return 0


def _cmd_down(root: Path) -> int:
    state = _read_state(root)
    if state is None:
        print("neo4j is not running (no build/neo4j-local.json)")
        return 0
    pid = int(state["pid"])
    if not _is_launcher(pid):
        _state_path(root).unlink(missing_ok=True)
        print(f"neo4j is not running (stale pid {pid} removed)")
        return 0
    os.kill(pid, signal.SIGTERM)  # the launcher's shutdown hook closes the stores cleanly
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and _is_launcher(pid):
        time.sleep(0.2)
    how = "stopped"
    if _is_launcher(pid):
        os.kill(pid, signal.SIGKILL)
        how = f"killed (no exit {STOP_TIMEOUT_S:.0f}s after SIGTERM)"
    _state_path(root).unlink(missing_ok=True)
    print(f"neo4j {how} (pid {pid})")
    return 0


def _cmd_status(root: Path) -> int:
    state = _read_state(root)
    if state is not None and _is_launcher(int(state["pid"])):
        print(f"neo4j running (pid {state['pid']}) at {state['uri']}")
        return 0
    print("neo4j not running")
    return 3  # the LSB "not running" status code, so scripts can test it


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devsupport.neo4j_local",
        description="Run a local Neo4j 5.26 (embedded community edition) for development.",
    )
    parser.add_argument(
        "--project-root", type=Path, default=_default_project_root(), help=argparse.SUPPRESS
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start in the background and print CMDB_* settings")
    up.add_argument("--port", type=int, default=7687, help="Bolt port (0 = any free port)")
    up.add_argument("--password", default=DEFAULT_PASSWORD, help="password of user neo4j")
    up.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for READY")
    commands.add_parser("down", help="stop the background server")
    commands.add_parser("status", help="say whether the background server runs")
    commands.add_parser("build", help="build the launcher (Maven) if its sources changed")
    args = parser.parse_args(argv)
    root: Path = args.project_root.resolve()
    try:
        if args.command == "build":
            build_launcher(root)
            print("neo4j launcher built", file=sys.stderr)
            return 0
        if args.command == "up":
            return _cmd_up(root, args.port, args.password, args.timeout)
        if args.command == "down":
            return _cmd_down(root)
        return _cmd_status(root)
    except RuntimeError as error:
        # Our errors already carry the Maven or Neo4j output that explains them.
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
