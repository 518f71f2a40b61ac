"""Peer benchmark: graph-cmdb's Kubernetes discovery beside cartography's, in one Neo4j 5.26.

Issue 12, target 3. The same generated Kubernetes objects (Namespaces, Deployments,
ReplicaSets, Pods, Services in ~40 namespaces, with labels, selectors, ownerReferences
Pod -> ReplicaSet -> Deployment, containers, ports, env, status, uid, creationTimestamp) are
loaded into the same local Neo4j by both tools:

  * graph-cmdb: ``cmdb discover k8s FILE`` run as a subprocess (CMDB_STORE=neo4j), from a
    multi-document YAML manifest and from a ``kind: List`` JSON dump; the figure is the
    command's wall time, start-up and file parsing included;
  * cartography (PyPI, installed once into build/cartography-venv, never into .venv): this
    file run again by that venv's Python as a worker, which calls cartography's own
    transform, load and cleanup functions for the cluster, namespaces, workloads, pods
    (and containers) and services, in the order and with the arguments its ``sync_*``
    functions use. Only the Kubernetes API calls are replaced: the same JSON is turned
    into the client's model objects (V1Pod, ...) by the kubernetes package's own
    deserialiser, timed apart as "fetch" and not counted in cartography's total.

Runs per size, each tool on a database cleared of the other's data (cmdb's migrations and
constraints kept): (a) a full load into the empty database, (b) a re-run over the loaded
graph with 1 % of the objects changed (an image tag, or a label value on objects without
containers). cartography has no change detection: its re-run rewrites every node and edge
with a new update tag and then deletes what kept the old one. On a first load its container
query may find each container's pod through the KubernetesPod(cluster_name) index, on which
every pod has the same value, while the just-filled indexes' statistics still say "empty":
the per-step times printed (containers load) show when that happened.

Targets (issue 12): cmdb's full run <= 0.8x cartography's transform+load+cleanup; cmdb's
1 %-changed re-run <= 0.5x cartography's re-run.

Both tools first load a small cluster, untimed (--warmup): a fresh server's JIT is cold. With
--repeat N each pair of runs is made N times, the tools taking turns at going first, and the
best of each measure is kept (all samples are in the JSON).

Usage: python bench/peer_cartography.py [--sizes 20k[,100k]] [--formats json,yaml]
       [--changed 0.01] [--repeat 1] [--warmup 1k] [--profile]
       [--cartography-version 0.143.0] [--out bench/results/peer_cartography.json] [--merge]
``--profile`` also runs cmdb's JSON full run and re-run of the first size under cProfile
(build/prof_cmdb_{full,rerun}.out) and prints the top functions, with the time spent
waiting on the driver's socket (Neo4j) apart from the rest (Python). Neo4j comes from
devsupport.neo4j_local.find_or_start (NEO4J_URI, else Docker, else the launcher).
"""

# This file is also run by build/cartography-venv's Python (--worker), where neither cmdb
# nor this repository's dependencies are installed: the imports of both roles are local.
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
DATA_DIR = BUILD / "peer_cartography"
CARTO_VENV = BUILD / "cartography-venv"
CARTO_VERSION = "0.143.0"
CLUSTER = "bench-cluster"

TARGET_FULL = 0.8
TARGET_RERUN = 0.5

N_NAMESPACES = 40
TEAMS = (
    "payments", "checkout", "catalog", "search", "identity", "orders", "shipping",
    "billing", "ledger", "notify", "media", "reviews", "pricing", "fraud", "ads",
    "profile", "inventory", "support", "analytics",
)  # fmt: skip
COMPONENTS = (
    "api", "web", "worker", "gateway", "cache", "scheduler", "consumer", "exporter",
    "indexer", "sync", "auth", "admin",
)  # fmt: skip
SIDECAR_IMAGE = "registry.example.com/platform/fluent-bit:3.0.4"
HASH_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes uses for generated names


# -- the objects -----------------------------------------------------------------------------


class _Gen:
    """A deterministic cluster: identical objects for the same size and seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.t0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
        self.services: list[tuple[str, str]] = []  # (name, namespace) made so far

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def stamp(self, after: datetime | None = None) -> str:
        base = after or self.t0
        t = base + timedelta(seconds=self.rng.randrange(1, 90 * 86400 if after is None else 600))
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")

    def token(self, n: int) -> str:
        return "".join(self.rng.choice(HASH_CHARS) for _ in range(n))

    def ip(self, prefix: str) -> str:
        return f"{prefix}.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}"

    def namespace(self, name: str, owner: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "uid": self.uid(),
                "creationTimestamp": self.stamp(),
                "labels": {"kubernetes.io/metadata.name": name, "owner": owner},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }

    def app(self, index: int, ns: str, team: str, nodes: int) -> list[dict[str, Any]]:
        """A Deployment, its ReplicaSet(s), their Pods and the Service selecting them."""
        rng = self.rng
        comp = COMPONENTS[index % len(COMPONENTS)]
        name = f"{team}-{comp}-{index:05d}"
        version = f"1.{rng.randrange(40)}.{rng.randrange(10)}"
        tier = "frontend" if comp in ("web", "gateway") else "backend"
        labels = {
            "app.kubernetes.io/name": name,
            "app.kubernetes.io/part-of": team,
            "app.kubernetes.io/version": version,
            "team": team,
            "tier": tier,
        }
        replicas = rng.choice((1, 2, 2, 3, 3, 3, 4, 5))
        created = self.stamp()
        dep_uid = self.uid()
        pod_hash = self.token(10)
        pod_labels = {**labels, "pod-template-hash": pod_hash}
        image = f"registry.example.com/{team}/{comp}:{version}"
        env: list[dict[str, Any]] = [{"name": "LOG_LEVEL", "value": "info"}]
        if self.services and rng.random() < 0.5:
            other, other_ns = rng.choice(self.services)
            env.append(
                {"name": "UPSTREAM_URL", "value": f"http://{other}.{other_ns}.svc.cluster.local:80"}
            )
        containers: list[dict[str, Any]] = [
            {
                "name": comp,
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "ports": [
                    {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                    {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                ],
                "env": env,
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"cpu": "500m", "memory": "512Mi"},
                },
                "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False},
            }
        ]
        if rng.random() < 0.3:
            containers.append(
                {
                    "name": "log-shipper",
                    "image": SIDECAR_IMAGE,
                    "imagePullPolicy": "IfNotPresent",
                    "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}},
                }
            )
        pod_spec = {
            "containers": containers,
            "serviceAccountName": name,
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
        }
        selector = {"app.kubernetes.io/name": name}
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "namespace": ns,
                "uid": dep_uid,
                "creationTimestamp": created,
                "generation": 2,
                "labels": labels,
                "annotations": {"deployment.kubernetes.io/revision": "2"},
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": selector},
                "strategy": {"type": "RollingUpdate"},
                "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
            },
            "status": {
                "observedGeneration": 2,
                "replicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
                "updatedReplicas": replicas,
                "conditions": [
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
                ],
            },
        }
        owner = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
            "uid": dep_uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
        out = [deployment]
        rs_name = f"{name}-{pod_hash}"
        rs_uid = self.uid()
        out.append(
            self._replicaset(rs_name, rs_uid, ns, created, pod_labels, owner, replicas, pod_spec)
        )
        if rng.random() < 1 / 3:  # the ReplicaSet of the previous revision, scaled to zero
            old_hash = self.token(10)
            old_spec = copy.deepcopy(pod_spec)
            old_spec["containers"][0]["image"] = f"registry.example.com/{team}/{comp}:1.0.0"
            old_labels = {**labels, "pod-template-hash": old_hash}
            out.append(
                self._replicaset(
                    f"{name}-{old_hash}", self.uid(), ns, created, old_labels, owner, 0, old_spec
                )
            )
        rs_owner = {**owner, "kind": "ReplicaSet", "name": rs_name, "uid": rs_uid}
        for _ in range(replicas):
            out.append(
                self._pod(
                    f"{rs_name}-{self.token(5)}", ns, created, pod_labels, rs_owner, pod_spec, nodes
                )
            )
        lb = rng.random() < 0.1
        service: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": name,
                "namespace": ns,
                "uid": self.uid(),
                "creationTimestamp": created,
                "labels": labels,
            },
            "spec": {
                "type": "LoadBalancer" if lb else "ClusterIP",
                "selector": selector,
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
                "clusterIP": self.ip("10.96"),
                "sessionAffinity": "None",
                "ipFamilies": ["IPv4"],
            },
            "status": {"loadBalancer": {}},
        }
        service["spec"]["clusterIPs"] = [service["spec"]["clusterIP"]]
        if lb:
            host = f"a{self.token(12)}-{index}.elb.eu-west-1.amazonaws.com"
            service["status"]["loadBalancer"] = {"ingress": [{"hostname": host}]}
        out.append(service)
        self.services.append((name, ns))
        return out

    def _replicaset(
        self,
        name: str,
        uid: str,
        ns: str,
        created: str,
        labels: dict[str, str],
        owner: dict[str, Any],
        replicas: int,
        pod_spec: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": ns,
                "uid": uid,
                "creationTimestamp": created,
                "generation": 1,
                "labels": labels,
                "ownerReferences": [owner],
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": pod_spec},
            },
            "status": {
                "replicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
                "fullyLabeledReplicas": replicas,
                "observedGeneration": 1,
            },
        }

    def _pod(
        self,
        name: str,
        ns: str,
        created: str,
        labels: dict[str, str],
        owner: dict[str, Any],
        pod_spec: dict[str, Any],
        nodes: int,
    ) -> dict[str, Any]:
        started = self.stamp(datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC))
        pod_ip = self.ip("10.244")
        statuses = [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": f"{c['image'].split(':')[0]}@sha256:{self.rng.getrandbits(256):064x}",
                "ready": True,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": started}},
            }
            for c in pod_spec["containers"]
        ]
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": ns,
                "uid": self.uid(),
                "creationTimestamp": started,
                "labels": labels,
                "ownerReferences": [owner],
            },
            "spec": {**pod_spec, "nodeName": f"node-{self.rng.randrange(nodes):04d}"},
            "status": {
                "phase": "Running",
                "conditions": [
                    {"type": t, "status": "True", "lastTransitionTime": started}
                    for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
                ],
                "hostIP": self.ip("172.16"),
                "podIP": pod_ip,
                "podIPs": [{"ip": pod_ip}],
                "startTime": started,
                "qosClass": "Burstable",
                "containerStatuses": statuses,
            },
        }


def generate(n: int, seed: int) -> list[dict[str, Any]]:
    """About ``n`` objects (whole applications only), namespaces first."""
    gen = _Gen(seed)
    team_ns = [f"{t}-{env}" for env in ("prod", "staging") for t in TEAMS]
    names = ["default", "kube-system", *team_ns][:N_NAMESPACES]
    objects = [
        gen.namespace(ns, "platform" if ns in ("default", "kube-system") else ns.rsplit("-", 1)[0])
        for ns in names
    ]
    nodes = max(3, n // 200)
    index = 0
    while True:
        ns = team_ns[index % len(team_ns)]
        app = gen.app(index, ns, ns.rsplit("-", 1)[0], nodes)
        if len(objects) + len(app) > n:
            break
        objects.extend(app)
        index += 1
    return objects


def changed_copy(objects: list[dict[str, Any]], share: float) -> tuple[list[dict[str, Any]], int]:
    """The objects with one in ``1/share`` changed: a new image tag where the object has
    containers (a Pod's status reports it too), else a new label value."""
    # Through JSON, not deepcopy: objects of one application share their pod spec in memory.
    out: list[dict[str, Any]] = json.loads(json.dumps(objects))
    step = max(1, round(1 / share))
    changed = 0
    for obj in out[::step]:
        spec = obj.get("spec", {})
        pod_spec = spec.get("template", {}).get("spec", spec)
        containers = pod_spec.get("containers")
        if containers:
            old = containers[0]["image"]
            new = old.rsplit(":", 1)[0] + ":2.0.0-rc1"
            containers[0]["image"] = new
            for st in obj.get("status", {}).get("containerStatuses", []):
                if st["image"] == old:
                    st["image"] = new
        else:
            labels = obj["metadata"].setdefault("labels", {})
            key = "owner" if obj["kind"] == "Namespace" else "tier"
            labels[key] = f"{labels.get(key, 'x')}-moved"
        changed += 1
    return out, changed


def write_inputs(objects: list[dict[str, Any]], stem: Path, formats: list[str]) -> dict[str, Path]:
    import yaml

    stem.parent.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    # The cartography worker always reads the JSON; cmdb reads whichever format is measured.
    json_path = stem.with_suffix(".json")
    text = json.dumps({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": objects})
    json_path.write_text(text)
    paths["json"] = json_path
    if "yaml" in formats:
        # Unshared copies: PyYAML writes an object met twice as an anchor and an alias,
        # which no kubectl dump has (and cmdb caps).
        objects = json.loads(text)["items"]
        yaml_path = stem.with_suffix(".yaml")
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        with yaml_path.open("w") as f:
            yaml.dump_all(objects, f, Dumper=dumper, sort_keys=False, default_flow_style=False)
        paths["yaml"] = yaml_path
    return paths


# -- the database ----------------------------------------------------------------------------


class Db:
    """The bench's own connection: clearing between tools and counting what each loaded."""

    def __init__(self, uri: str, user: str, password: str) -> None:
        from neo4j import GraphDatabase

        self.uri, self.user, self.password = uri, user, password
        self.driver = GraphDatabase.driver(
            uri, auth=(user, password), notifications_min_severity="OFF"
        )
        # cmdb's constraints and indexes (and the server's own), taken after `cmdb db migrate`.
        self.keep: set[str] = set()

    def schema(self) -> set[str]:
        with self.driver.session() as s:
            return {r["name"] for r in s.run("SHOW INDEXES YIELD name")} | {
                r["name"] for r in s.run("SHOW CONSTRAINTS YIELD name")
            }

    def clear(self) -> None:
        """Everything but cmdb's schema and migration records. cartography's indexes go too, so
        each of its full loads is a first sync into an empty database: its load() creates
        them, as it would there."""
        with self.driver.session() as s:
            for query in (
                "MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS",
                "MATCH (n) WHERE NOT n:CmdbMigration "
                "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS",
            ):
                s.run(query).consume()
            if not self.keep:
                return
            for r in list(s.run("SHOW CONSTRAINTS YIELD name")):
                if r["name"] not in self.keep:
                    s.run(f"DROP CONSTRAINT {_quoted(r['name'])} IF EXISTS").consume()
            for r in list(s.run("SHOW INDEXES YIELD name, owningConstraint")):
                if r["name"] not in self.keep and r["owningConstraint"] is None:
                    s.run(f"DROP INDEX {_quoted(r['name'])} IF EXISTS").consume()

    def counts(self) -> dict[str, int]:
        with self.driver.session() as s:
            nodes = s.run("MATCH (n) WHERE NOT n:CmdbMigration RETURN count(n) AS c").single()
            rels = s.run("MATCH ()-[r]->() RETURN count(r) AS c").single()
        return {"nodes": nodes["c"] if nodes else 0, "relationships": rels["c"] if rels else 0}

    def close(self) -> None:
        self.driver.close()


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


# -- graph-cmdb ------------------------------------------------------------------------------


def cmdb_env(db: Db) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CMDB_")}
    env.update(
        CMDB_STORE="neo4j",
        CMDB_NEO4J_URI=db.uri,
        CMDB_NEO4J_USER=db.user,
        CMDB_NEO4J_PASSWORD=db.password,
        CMDB_ACTOR="bench",
    )
    return env


def cmdb_exe() -> str:
    return str(Path(sys.executable).with_name("cmdb"))


_RUN_LINE = re.compile(r"^run \S+: .*: (\w+) in ([0-9.]+)s", re.MULTILINE)


def cmdb_run(db: Db, path: Path, profile_out: Path | None = None) -> dict[str, Any]:
    cmd = [cmdb_exe(), "discover", "k8s", str(path)]
    if profile_out is not None:
        cmd = [sys.executable, "-m", "cProfile", "-o", str(profile_out), *cmd]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=cmdb_env(db), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    m = _RUN_LINE.search(proc.stdout)
    runs = subprocess.run(
        [cmdb_exe(), "runs", "list", "--limit", "1", "--json"],
        env=cmdb_env(db),
        capture_output=True,
        text=True,
        check=True,
    )
    run = json.loads(runs.stdout)[0]
    return {
        "wall_s": wall,
        "run_s": float(m.group(2)) if m else None,
        "status": m.group(1) if m else run.get("status"),
        "counts": run.get("counts", {}),
    }


def cmdb_migrate(db: Db) -> None:
    subprocess.run([cmdb_exe(), "db", "migrate"], env=cmdb_env(db), check=True, capture_output=True)


# -- cartography: the orchestrator's side ----------------------------------------------------


def carto_python(version: str) -> Path:
    """build/cartography-venv's Python, with cartography installed: created once, then reused."""
    python = CARTO_VENV / "bin" / "python"
    if python.exists():
        probe = subprocess.run(
            [str(python), "-c", "import importlib.metadata as m; print(m.version('cartography'))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0:
            found = probe.stdout.strip()
            if found != version:
                print(f"  note: build/cartography-venv has cartography {found}", flush=True)
            return python
    print(f"  installing cartography {version} into {CARTO_VENV} ...", flush=True)
    subprocess.run(["python3", "-m", "venv", str(CARTO_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"cartography=={version}"], check=True
    )
    return python


def carto_run(python: Path, db: Db, full: Path, changed: Path, result: Path) -> dict[str, Any]:
    env = {**os.environ, "BENCH_NEO4J_PASSWORD": db.password, "PYTHONWARNINGS": "ignore"}
    cmd = [
        str(python),
        __file__,
        "--worker",
        "--uri",
        db.uri,
        "--user",
        db.user,
        "--full",
        str(full),
        "--rerun",
        str(changed),
        "--result",
        str(result),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(
            f"the cartography worker failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    out: dict[str, Any] = json.loads(result.read_text())
    return out


# -- cartography: the worker (runs in build/cartography-venv) --------------------------------


def worker(args: argparse.Namespace) -> int:
    import logging

    import neo4j

    logging.basicConfig(level=logging.WARNING)
    driver = neo4j.GraphDatabase.driver(
        args.uri, auth=(args.user, os.environ["BENCH_NEO4J_PASSWORD"])
    )
    out: dict[str, Any] = {"cartography": _carto_version()}
    tag = int(time.time())
    with driver.session() as session:
        for run, path in (("full", args.full), ("rerun", args.rerun)):
            out[run] = _carto_sync(session, Path(path), tag)
            tag += 1
    driver.close()
    Path(args.result).write_text(json.dumps(out, indent=2))
    return 0


def _carto_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("cartography")


class _Clock:
    def __init__(self) -> None:
        self.s: dict[str, float] = {"fetch": 0.0, "transform": 0.0, "load": 0.0, "cleanup": 0.0}
        self.steps: dict[str, float] = {}

    def time(self, phase: str, step: str, fn: Any, *a: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        value = fn(*a, **kw)
        took = time.perf_counter() - t0
        self.s[phase] += took
        self.steps[f"{step}.{phase}"] = self.steps.get(f"{step}.{phase}", 0.0) + took
        return value


def _carto_sync(session: Any, path: Path, update_tag: int) -> dict[str, Any]:
    """What cartography.intel.kubernetes.start_k8s_ingestion does for one cluster, limited to
    the kinds in the input, each module's get_* replaced by the objects of the file."""
    from cartography.intel.kubernetes import clusters, namespaces, pods, services, workloads
    from cartography.intel.kubernetes.util import get_kubeconfig_tls_diagnostics
    from kubernetes.client import ApiClient
    from kubernetes.client.models import VersionInfo

    clock = _Clock()

    def fetch() -> dict[str, list[Any]]:
        # What the client's list_* calls return: its own deserialiser over the API's JSON.
        raw = json.loads(path.read_text())["items"]
        by_kind: dict[str, list[Any]] = {}
        for obj in raw:
            by_kind.setdefault(obj["kind"], []).append(obj)
        api = ApiClient()
        deserialize = api._ApiClient__deserialize  # type: ignore[attr-defined]
        return {
            kind: deserialize({"items": items, "metadata": {}}, f"V1{kind}List").items
            for kind, items in by_kind.items()
        }

    objs = clock.time("fetch", "get", fetch)
    client = _FakeClient(CLUSTER)
    kube_system = next(ns for ns in objs["Namespace"] if ns.metadata.name == "kube-system")
    version = VersionInfo(
        major="1",
        minor="30",
        git_version="v1.30.4",
        go_version="go1.22.5",
        compiler="gc",
        platform="linux/amd64",
        build_date="2024-08-14T00:00:00Z",
        git_commit="0" * 40,
        git_tree_state="clean",
    )
    tls = clock.time("fetch", "cluster", get_kubeconfig_tls_diagnostics, CLUSTER, _kubeconfig())

    # sync_kubernetes_cluster
    info = clock.time(
        "transform",
        "cluster",
        clusters.transform_kubernetes_cluster,
        client,
        kube_system,
        version,
        tls,
    )
    clock.time("load", "cluster", clusters.load_kubernetes_cluster, session, info, update_tag)
    common = {"UPDATE_TAG": update_tag, "CLUSTER_ID": info[0]["id"]}
    cluster_id = common["CLUSTER_ID"]

    # sync_namespaces
    ns = clock.time("transform", "namespaces", namespaces.transform_namespaces, objs["Namespace"])
    clock.time(
        "load",
        "namespaces",
        namespaces.load_namespaces,
        session,
        ns,
        update_tag,
        client.name,
        cluster_id,
    )
    clock.time("cleanup", "namespaces", namespaces.cleanup, session, common)

    # sync_workloads (no StatefulSets, DaemonSets, CronJobs or Jobs in the input)
    deps = clock.time(
        "transform", "workloads", workloads.transform_deployments, objs.get("Deployment", [])
    )
    empty: list[Any] = []
    sts = clock.time("transform", "workloads", workloads.transform_statefulsets, empty)
    dss = clock.time("transform", "workloads", workloads.transform_daemonsets, empty)
    cjs = clock.time("transform", "workloads", workloads.transform_cronjobs, empty)
    rss, rs_to_dep = clock.time(
        "transform", "workloads", workloads.transform_replicasets, objs.get("ReplicaSet", [])
    )
    jobs = clock.time("transform", "workloads", workloads.transform_jobs, empty)
    clock.time(
        "load",
        "workloads",
        workloads.load_workloads,
        session=session,
        deployments=deps,
        statefulsets=sts,
        daemonsets=dss,
        cronjobs=cjs,
        replicasets=rss,
        jobs=jobs,
        update_tag=update_tag,
        cluster_id=cluster_id,
        cluster_name=client.name,
    )
    clock.time("cleanup", "workloads", workloads.cleanup, session, common)

    # sync_pods (no nodes synced: the node architecture map is empty)
    tpods = clock.time(
        "transform",
        "pods",
        pods.transform_pods,
        objs.get("Pod", []),
        client.name,
        node_arch_map={},
        replicaset_owner_map=rs_to_dep,
        workloads_available=True,
    )
    clock.time(
        "load",
        "pods",
        pods.load_pods,
        session=session,
        pods=tpods,
        update_tag=update_tag,
        cluster_id=cluster_id,
        cluster_name=client.name,
    )
    containers = clock.time("transform", "containers", pods.transform_containers, tpods)
    clock.time(
        "load",
        "containers",
        pods.load_containers,
        session=session,
        containers=containers,
        update_tag=update_tag,
        cluster_id=cluster_id,
        cluster_name=client.name,
        region=None,
    )
    clock.time("cleanup", "pods", pods.cleanup, session, common)

    # sync_services: the selector is matched against every transformed pod
    svcs = clock.time(
        "transform", "services", services.transform_services, objs.get("Service", []), tpods
    )
    clock.time(
        "load",
        "services",
        services.load_services,
        session=session,
        services=svcs,
        update_tag=update_tag,
        cluster_id=cluster_id,
        cluster_name=client.name,
    )
    clock.time("cleanup", "services", services.cleanup, session, common)

    s = clock.s
    return {
        **{f"{k}_s": v for k, v in s.items()},
        "load_cleanup_s": s["load"] + s["cleanup"],
        "total_s": s["transform"] + s["load"] + s["cleanup"],
        "steps_s": clock.steps,
        "objects": {k: len(v) for k, v in objs.items()},
        "containers": len(containers),
    }


class _FakeClient:
    """What the transform functions read of a K8sClient: its name and external id."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.external_id: str | None = None
        self.config_file = ""


def _kubeconfig() -> str:
    """A kubeconfig naming the cluster, for cartography's TLS diagnostics of the cluster node."""
    path = DATA_DIR / "kubeconfig"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": CLUSTER,
                        "cluster": {
                            "server": "https://127.0.0.1:6443",
                            "certificate-authority-data": "LS0tLS1CRUdJTg==",
                        },
                    }
                ],
                "users": [{"name": "bench", "user": {"token": "not-a-secret"}}],
                "contexts": [{"name": CLUSTER, "context": {"cluster": CLUSTER, "user": "bench"}}],
                "current-context": CLUSTER,
            }
        )
    )
    return str(path)


# -- profiles --------------------------------------------------------------------------------

# Where the process waits for Neo4j: the driver's socket reads (and, far less, writes).
_WAIT_FUNCS = ("recv_into", "recv", "sendall", "select", "poll")


def profile_summary(path: Path, top: int = 25) -> dict[str, Any]:
    import io
    import pstats

    stats = pstats.Stats(str(path))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = max(ct for (_cc, _nc, _tt, ct, _callers) in raw.values())
    wait = sum(
        tt
        for (file, _line, func), (_cc, _nc, tt, _ct, _callers) in raw.items()
        if file == "~" and any(w in func for w in _WAIT_FUNCS)
    )
    listings: dict[str, str] = {}
    for order in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(str(path), stream=buf).sort_stats(order).print_stats(top)
        text = buf.getvalue()
        start = text.find("   ncalls")
        listings[order] = text[start:] if start >= 0 else text
    return {
        "file": str(path.relative_to(ROOT)),
        "total_s": total,
        "db_wait_s": wait,
        "python_s": total - wait,
        "top": listings,
    }


# -- the run ---------------------------------------------------------------------------------


def bench_size(
    n: int, label: str, args: argparse.Namespace, db: Db, python: Path, formats: list[str]
) -> dict[str, Any]:
    print(f"[{label}] generating objects ...", flush=True)
    objects = generate(n, args.seed)
    changed, n_changed = changed_copy(objects, args.changed)
    kinds: dict[str, int] = {}
    for o in objects:
        kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
    full_paths = write_inputs(objects, DATA_DIR / f"k8s-{label}", formats)
    changed_paths = write_inputs(changed, DATA_DIR / f"k8s-{label}-changed", formats)
    del objects, changed
    print(
        f"[{label}] {sum(kinds.values()):,} objects {kinds}, {n_changed:,} changed; files "
        f"{', '.join(f'{p.name} {p.stat().st_size / 1e6:.0f} MB' for p in full_paths.values())}",
        flush=True,
    )
    out: dict[str, Any] = {
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "loadavg_before": list(os.getloadavg()),
        "objects": sum(kinds.values()),
        "kinds": kinds,
        "changed_objects": n_changed,
        "file_mb": {f: p.stat().st_size / 1e6 for f, p in full_paths.items()},
        "cmdb": {},
    }
    cmdb_samples: dict[str, list[dict[str, Any]]] = {fmt: [] for fmt in formats}
    carto_samples: list[dict[str, Any]] = []
    for rep in range(args.repeat):
        # Alternate which tool goes first, so neither always meets the other's leftovers
        # (the server's caches, its garbage, its plan cache).
        order = ["cmdb", "cartography"] if rep % 2 == 0 else ["cartography", "cmdb"]
        for tool in order:
            if tool == "cmdb":
                for fmt in formats:
                    cmdb_samples[fmt].append(
                        cmdb_pair(db, label, fmt, full_paths[fmt], changed_paths[fmt], n_changed)
                    )
            else:
                carto_samples.append(carto_pair(db, label, python, full_paths, changed_paths))
    db.clear()
    out["cmdb"] = {
        fmt: {
            run: min((x[run] for x in runs), key=lambda m: float(m["wall_s"]))
            for run in ("full", "rerun")
        }
        for fmt, runs in cmdb_samples.items()
    }
    for fmt, runs in cmdb_samples.items():
        out["cmdb"][fmt]["samples_wall_s"] = {
            run: [x[run]["wall_s"] for x in runs] for run in ("full", "rerun")
        }
    carto = {
        **carto_samples[0],
        **{
            run: min((x[run] for x in carto_samples), key=lambda c: float(c["total_s"]))
            for run in ("full", "rerun")
        },
        "samples_total_s": {
            run: [x[run]["total_s"] for x in carto_samples] for run in ("full", "rerun")
        },
    }
    out["cartography"] = carto
    out["ratios"] = {
        fmt: {
            "full": r["full"]["wall_s"] / carto["full"]["total_s"],
            "rerun": r["rerun"]["wall_s"] / carto["rerun"]["total_s"],
        }
        for fmt, r in out["cmdb"].items()
    }
    out["targets_met"] = {
        fmt: {"full": q["full"] <= TARGET_FULL, "rerun": q["rerun"] <= TARGET_RERUN}
        for fmt, q in out["ratios"].items()
    }
    out["loadavg_after"] = list(os.getloadavg())
    if args.profile and "json" in formats:
        out["profiles"] = profile_cmdb(db, full_paths["json"], changed_paths["json"])
    db.clear()
    return out


def cmdb_pair(
    db: Db, label: str, fmt: str, full_path: Path, changed_path: Path, n_changed: int
) -> dict[str, Any]:
    db.clear()
    print(f"[{label}] cmdb discover k8s ({fmt}), full ...", flush=True)
    full = cmdb_run(db, full_path)
    full["graph"] = db.counts()
    print(f"    {full['wall_s']:.1f} s wall ({full['run_s']} s reported)", flush=True)
    print(f"[{label}] cmdb discover k8s ({fmt}), re-run, {n_changed:,} changed ...", flush=True)
    rerun = cmdb_run(db, changed_path)
    print(f"    {rerun['wall_s']:.1f} s wall ({rerun['run_s']} s reported)", flush=True)
    return {"full": full, "rerun": rerun}


def carto_pair(
    db: Db, label: str, python: Path, full_paths: dict[str, Path], changed_paths: dict[str, Path]
) -> dict[str, Any]:
    db.clear()
    print(f"[{label}] cartography: full, then re-run ...", flush=True)
    carto = carto_run(
        python,
        db,
        full_paths["json"],
        changed_paths["json"],
        DATA_DIR / f"cartography-{label}.json",
    )
    carto["graph_after_rerun"] = db.counts()
    for run in ("full", "rerun"):
        c = carto[run]
        print(
            f"    {run}: transform {c['transform_s']:.1f} s, load {c['load_s']:.1f} s, "
            f"cleanup {c['cleanup_s']:.1f} s (fetch {c['fetch_s']:.1f} s)",
            flush=True,
        )
    return carto


def warm_up(n: int, args: argparse.Namespace, db: Db, python: Path) -> None:
    """A fresh server's JIT is cold: whichever tool ran first would pay for it."""
    print(f"warm-up: {n:,} objects through both tools, untimed ...", flush=True)
    objects = generate(n, args.seed + 1)
    full = write_inputs(objects, DATA_DIR / "k8s-warmup", ["json"])["json"]
    changed = write_inputs(
        changed_copy(objects, args.changed)[0], DATA_DIR / "k8s-warmup-changed", ["json"]
    )["json"]
    db.clear()
    cmdb_run(db, full)
    cmdb_run(db, changed)
    db.clear()
    carto_run(python, db, full, changed, DATA_DIR / "cartography-warmup.json")
    db.clear()


def profile_cmdb(db: Db, full: Path, changed: Path) -> dict[str, Any]:
    profiles: dict[str, Any] = {}
    db.clear()
    for run, path in (("full", full), ("rerun", changed)):
        print(f"  cProfile: cmdb discover k8s (json), {run} ...", flush=True)
        prof = BUILD / f"prof_cmdb_{run}.out"
        r = cmdb_run(db, path, profile_out=prof)
        summary = profile_summary(prof)
        summary["wall_s"] = r["wall_s"]
        profiles[run] = summary
    return profiles


def print_table(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    load = results["loadavg"]
    t = Table(
        title=f"graph-cmdb vs cartography {results['cartography']}: Kubernetes discovery "
        f"into Neo4j; {results['date']}, load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f} before, {results['loadavg_after'][0]:.2f} after"
    )
    for h in (
        "size",
        "run",
        "input",
        "cmdb wall s",
        "(cmdb run s)",
        "carto load+cleanup",
        "carto transform",
        "carto total",
        "(carto fetch)",
        "cmdb/carto",
        "target",
        "met",
    ):
        t.add_column(h, justify="right")
    for r in results["sizes"].values():
        c = r["cartography"]
        for run, target in (("full", TARGET_FULL), ("rerun", TARGET_RERUN)):
            cr = c[run]
            for fmt, m in r["cmdb"].items():
                ratio = r["ratios"][fmt][run]
                name = "full load" if run == "full" else f"re-run, {r['changed_objects']} changed"
                t.add_row(
                    f"{r['objects']:,}",
                    name,
                    fmt,
                    f"{m[run]['wall_s']:.1f}",
                    f"{m[run]['run_s'] or 0:.1f}",
                    f"{cr['load_cleanup_s']:.1f}",
                    f"{cr['transform_s']:.1f}",
                    f"{cr['total_s']:.1f}",
                    f"{cr['fetch_s']:.1f}",
                    f"{ratio:.2f}x",
                    f"<= {target}x",
                    "yes" if ratio <= target else "NO",
                )
    Console(width=170).print(t)
    start, end = results["git_at_start"], results["git_at_end"]
    print(
        f"  code: {start['commit']} (+{len(start['uncommitted'])} uncommitted files in "
        f"cmdb/discovery/impact) at start, {end['commit']} (+{len(end['uncommitted'])}) at end"
    )
    print(
        "  cmdb wall: `cmdb discover k8s FILE` start to exit; cmdb run: the time the command "
        "reports (without interpreter start and imports). carto total = transform + load + "
        "cleanup; fetch (the client's deserialising of the same JSON) is not counted."
    )
    for label, r in results["sizes"].items():
        c = r["cartography"]
        if "date" in r:
            lb, la = (" ".join(f"{x:.2f}" for x in r[k] if x is not None)
                      for k in ("loadavg_before", "loadavg_after"))  # fmt: skip
            print(f"  {label}: run {r['date']}, load average {lb} before, {la} after")
        for fmt, m in r["cmdb"].items():
            print(
                f"  {label} cmdb {fmt}: graph after the full run {m['full']['graph']}; "
                f"samples (s) {m['samples_wall_s']}; run counts: full {m['full']['counts']}, "
                f"re-run {m['rerun']['counts']}"
            )
        print(
            f"  {label} cartography: graph after the re-run {c['graph_after_rerun']}, "
            f"{c['full']['containers']:,} containers; samples (s) {c['samples_total_s']}"
        )
        for run in ("full", "rerun"):
            steps = ", ".join(f"{k} {v:.1f}" for k, v in c[run]["steps_s"].items() if v >= 0.05)
            print(f"    cartography {run} steps (s): {steps}")
        for run, p in r.get("profiles", {}).items():
            print(
                f"\n  cProfile of cmdb, {label} json {run}: {p['total_s']:.1f} s profiled "
                f"({p['wall_s']:.1f} s wall), waiting on Neo4j {p['db_wait_s']:.1f} s, "
                f"Python {p['python_s']:.1f} s; {p['file']}"
            )
            for order in ("cumulative", "tottime"):
                print(f"  -- by {order}:\n{p['top'][order]}")


def git_state() -> dict[str, Any]:
    """Which code was measured: others commit while a run goes on, so taken at start and end."""

    def git(*a: str) -> str:
        done = subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    dirty = git("status", "--porcelain", "--", "cmdb", "discovery", "impact").splitlines()
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted": dirty}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="20k", help="comma-separated object counts, e.g. 20k,100k")
    ap.add_argument("--formats", default="json,yaml", help="what cmdb reads: json, yaml")
    ap.add_argument("--changed", type=float, default=0.01, help="share of objects changed")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeat", type=int, default=1, help="runs per measure; the best is kept")
    ap.add_argument("--profile", action="store_true", help="cProfile cmdb's JSON runs too")
    ap.add_argument("--cartography-version", default=CARTO_VERSION)
    ap.add_argument(
        "--warmup", default="1k", help="objects both tools load first, untimed (0: none)"
    )
    ap.add_argument("--out", default=str(ROOT / "bench/results/peer_cartography.json"))
    ap.add_argument("--merge", action="store_true", help="keep the other sizes found in --out")
    # The worker role, run by build/cartography-venv's Python.
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--uri", help=argparse.SUPPRESS)
    ap.add_argument("--user", help=argparse.SUPPRESS)
    ap.add_argument("--full", help=argparse.SUPPRESS)
    ap.add_argument("--rerun", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)

    sys.path.insert(0, str(ROOT))
    from bench.estate import parse_size, size_label
    from devsupport.neo4j_local import find_or_start

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if not set(formats) <= {"json", "yaml"}:
        raise SystemExit(f"unknown format in {args.formats!r}")
    python = carto_python(args.cartography_version)
    results: dict[str, Any] = {
        "benchmark": "bench/peer_cartography.py",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "loadavg": list(os.getloadavg()),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "cartography": subprocess.run(
            [str(python), "-c", "import importlib.metadata as m; print(m.version('cartography'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip(),
        "git_at_start": git_state(),
        "changed_share": args.changed,
        "repeat": args.repeat,
        "targets": {"full_max": TARGET_FULL, "rerun_max": TARGET_RERUN},
        "sizes": {},
    }
    server = find_or_start(ROOT)
    db = Db(server.uri, server.user, server.password)
    try:
        results["neo4j"] = db.driver.get_server_info().agent
        cmdb_migrate(db)
        db.keep = db.schema()
        if parse_size(args.warmup) > 0:
            warm_up(parse_size(args.warmup), args, db, python)
        for i, text in enumerate(s.strip() for s in args.sizes.split(",") if s.strip()):
            n = parse_size(text)
            args.profile = args.profile and i == 0
            results["sizes"][size_label(n)] = bench_size(
                n, size_label(n), args, db, python, formats
            )
    finally:
        db.close()
        server.stop()
    results["loadavg_after"] = list(os.getloadavg())
    results["git_at_end"] = git_state()
    out = Path(args.out)
    if args.merge and out.exists():
        earlier = json.loads(out.read_text()).get("sizes", {})
        results["sizes"] = {**{k: v for k, v in earlier.items() if k not in results["sizes"]},
                            **results["sizes"]}  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"written: {out}")
    met = all(all(v.values()) for r in results["sizes"].values() for v in r["targets_met"].values())
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
