"""docker/nginx.conf in front of two ``cmdb serve`` processes, for real (no Docker here).

Debian's nginx runs the compose file's proxy configuration on 127.0.0.1, its upstream
names (api-1, api-2) pointed at two local ``cmdb serve`` processes on one store, with
FORWARDED_ALLOW_IPS as the compose file sets it: the configuration passes ``nginx -t``,
requests reach both replicas, and a client cannot pick its own address (and so escape
the per-address rate limit) with an X-Forwarded-For header of its own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from cmdb.auth.roles import Role
from cmdb.auth.tokens import TokenStore
from tests.e2e.conftest import _free_port
from tests.servers import answers, debian_tool, wait_until

DOCKER = Path(__file__).resolve().parents[2] / "docker"
READY = "/api/v1/health/ready"
RATE = 3


@pytest.fixture(scope="module")
def nginx_bin() -> str:
    return debian_tool(["nginx"], "nginx", "test-nginx")


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


@pytest.fixture
def proxied(nginx_bin: str, tmp_path: Path) -> Iterator[tuple[str, list[Path], str]]:
    """The proxy's URL, the two replicas' logs, and an admin token."""
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))
    trusted = compose["services"]["api-1"]["environment"]["FORWARDED_ALLOW_IPS"]
    tokens_path = tmp_path / "tokens.db"
    admin, _ = TokenStore(tokens_path).create("root", Role.ADMIN)
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    ports: list[int] = []
    try:
        for i in range(2):
            port = _free_port()
            log = tmp_path / f"api-{i + 1}.log"
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("CMDB_")},
                "CMDB_DB_PATH": str(tmp_path / "cmdb.db"),
                "CMDB_TOKENS_PATH": str(tokens_path),
                "CMDB_API_HOST": "127.0.0.1",
                "CMDB_API_PORT": str(port),
                "CMDB_TOKEN_RATE_PER_MIN": str(RATE),
                "FORWARDED_ALLOW_IPS": str(trusted),
            }
            with log.open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "cmdb.cli", "serve"],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
            logs.append(log)
            ports.append(port)
        for port in ports:
            wait_until(
                f"cmdb serve on {port}", lambda p=port: answers(f"http://127.0.0.1:{p}{READY}")
            )
        # The compose file's proxy configuration, its replicas' names pointed at these two.
        site = (DOCKER / "nginx.conf").read_text(encoding="utf-8")
        for i, port in enumerate(ports):
            site = site.replace(f"api-{i + 1}:8000", f"127.0.0.1:{port}")
        proxy_port = _free_port()
        site = re.sub(r"listen\s+\d+;", f"listen 127.0.0.1:{proxy_port};", site)
        temp = {name: tmp_path / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
        for d in temp.values():
            d.mkdir()
        conf = tmp_path / "nginx.conf"
        conf.write_text(
            f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'} warn;\n"
            "worker_processes 1;\nevents { worker_connections 64; }\nhttp {\n"
            f"access_log {tmp_path / 'access.log'};\n"
            f"client_body_temp_path {temp['body']};\nproxy_temp_path {temp['proxy']};\n"
            f"fastcgi_temp_path {temp['fastcgi']};\nuwsgi_temp_path {temp['uwsgi']};\n"
            f"scgi_temp_path {temp['scgi']};\n{site}\n}}\n",
            encoding="utf-8",
        )
        checked = subprocess.run(
            [nginx_bin, "-t", "-c", str(conf), "-p", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert checked.returncode == 0, checked.stderr
        procs.append(
            subprocess.Popen(
                [nginx_bin, "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        url = f"http://127.0.0.1:{proxy_port}"
        wait_until("nginx", lambda: answers(f"{url}{READY}"))
        yield url, logs, admin
    finally:
        _stop(procs)


def test_the_compose_proxy_fronts_both_replicas(proxied: tuple[str, list[Path], str]) -> None:
    url, logs, admin = proxied
    for i in range(6):
        r = httpx.get(
            f"{url}/api/v1/cis?limit=1",
            headers={"Authorization": f"Bearer {admin}", "X-Request-ID": f"rr-{i}"},
        )
        assert r.status_code == 200, r.text
    # Round robin: each replica answered some of them.
    for log in logs:
        assert "/api/v1/cis?limit=1" in log.read_text(errors="replace"), log


def test_a_client_cannot_choose_its_address(proxied: tuple[str, list[Path], str]) -> None:
    url, _, _ = proxied
    bad = "cmdb_0123456789ab_guessguessguessguess"
    statuses = []
    # Each replica keeps its own buckets (embedded store): 2 x RATE failures at most
    # before both refuse, however many addresses the client claims to have.
    for i in range(2 * RATE + 2):
        r = httpx.get(
            f"{url}/api/v1/cis",
            headers={"Authorization": f"Bearer {bad}", "X-Forwarded-For": f"198.51.100.{i}"},
        )
        statuses.append(r.status_code)
    assert statuses[-2:] == [429, 429], statuses
