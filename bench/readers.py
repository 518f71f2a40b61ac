"""Readers benchmark: the Kubernetes adapter reading the same objects as YAML and as JSON.

N generated objects (Deployments, their ReplicaSets and Pods, and the Services selecting
them, across ``--namespaces`` namespaces, with the fields ``kubectl get -o yaml`` shows:
labels, annotations, ownerReferences, containers with images, ports, env, probes and
resources, status with conditions and container states) are written twice: as a
multi-document YAML manifest and as a JSON ``kind: List``. Then, best of ``--repeat``:

  * the reader: ``collect("k8s", registry.reader("k8s")([file]))``, what ``cmdb discover
    k8s FILE`` and the push service run, on the JSON file, on the YAML file through the
    libyaml reader, and on the YAML file through the pure-Python loader (the reader before
    issue 12, the baseline);
  * the parse alone: ``json_document``, ``yaml_documents`` (libyaml and pure Python) and,
    as the peer, PyYAML's own ``yaml.load_all(Loader=yaml.CSafeLoader)`` without the
    alias and depth guards.

Target (issue 12): the reader on YAML takes at most 1.5x the reader on JSON.

Usage: python bench/readers.py [--sizes 20k,100k] [--namespaces 40] [--repeat 3]
       [--no-baseline] [--out bench/results/readers.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.estate import parse_size, size_label  # noqa: E402
from cmdb.store.gcpause import gc_paused  # noqa: E402
from discovery import io  # noqa: E402
from discovery.records import collect  # noqa: E402
from discovery.registry import reader  # noqa: E402

TARGET_YAML_OVER_JSON = 1.5
PODS_PER_APP = 2  # an app is a Deployment, its ReplicaSet, its Pods and a Service
_EPOCH = datetime(2024, 3, 1, tzinfo=UTC)
_TEAMS = ("payments", "search", "checkout", "identity", "platform", "data", "ml", "web")
_IMAGES = ("nginx", "envoy", "redis", "api", "worker", "frontend", "grpc-gateway", "cron")

# -- the objects -----------------------------------------------------------------------------


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def uid(self) -> str:
        return str(_uuid(self.rng))

    def stamp(self) -> str:
        t = _EPOCH + timedelta(seconds=self.rng.randrange(90 * 86400))
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")

    def version(self) -> str:
        return str(self.rng.randrange(10_000, 99_999_999))

    def ip(self, net: int) -> str:
        return f"10.{net}.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}"


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:]}"


def _meta(g: _Gen, name: str, ns: str, labels: dict[str, str], **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "creationTimestamp": g.stamp(),
        "labels": labels,
        "name": name,
        "namespace": ns,
        "resourceVersion": g.version(),
        "uid": g.uid(),
    }
    meta.update(extra)
    return dict(sorted(meta.items()))  # kubectl writes keys sorted


def _owner(kind: str, name: str, uid: str) -> list[dict[str, Any]]:
    api = "apps/v1" if kind in ("Deployment", "ReplicaSet") else "v1"
    return [
        {
            "apiVersion": api,
            "blockOwnerDeletion": True,
            "controller": True,
            "kind": kind,
            "name": name,
            "uid": uid,
        }
    ]


def _container(g: _Gen, app: str, ns: str, peer: str, port: int) -> dict[str, Any]:
    version = f"1.{g.rng.randrange(40)}.{g.rng.randrange(9)}"
    image = f"registry.example.com/{ns}/{g.rng.choice(_IMAGES)}:{version}"
    return {
        "env": [
            {"name": "LOG_LEVEL", "value": g.rng.choice(("info", "debug", "warn"))},
            {"name": "UPSTREAM_URL", "value": f"http://{peer}.{ns}.svc.cluster.local:80"},
            {"name": "CACHE_HOST", "value": f"redis.{ns}"},
            {"name": "WORKERS", "value": str(g.rng.randrange(1, 16))},
            {
                "name": "DB_PASSWORD",
                "valueFrom": {"secretKeyRef": {"key": "password", "name": f"{app}-db"}},
            },
        ],
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "livenessProbe": {
            "failureThreshold": 3,
            "httpGet": {"path": "/healthz", "port": port, "scheme": "HTTP"},
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "successThreshold": 1,
            "timeoutSeconds": 1,
        },
        "name": app,
        "ports": [
            {"containerPort": port, "name": "http", "protocol": "TCP"},
            {"containerPort": 9090, "name": "metrics", "protocol": "TCP"},
        ],
        "resources": {
            "limits": {"cpu": "500m", "memory": "512Mi"},
            "requests": {"cpu": f"{g.rng.choice((50, 100, 250))}m", "memory": "128Mi"},
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "volumeMounts": [{"mountPath": "/etc/app", "name": "config", "readOnly": True}],
    }


def _pod_spec(g: _Gen, app: str, ns: str, peer: str, port: int) -> dict[str, Any]:
    return {
        "containers": [_container(g, app, ns, peer, port)],
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccountName": app,
        "terminationGracePeriodSeconds": 30,
        "volumes": [{"configMap": {"defaultMode": 420, "name": f"{app}-config"}, "name": "config"}],
    }


def _conditions(g: _Gen, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    when = g.stamp()
    return [{"lastTransitionTime": when, "status": "True", "type": kind} for kind in kinds]


def app_objects(g: _Gen, ns: str, app: str, peer: str, pods: int) -> list[dict[str, Any]]:
    """A Deployment, its ReplicaSet, ``pods`` Pods and the Service in front of them."""
    team = g.rng.choice(_TEAMS)
    labels = {"app": app, "app.kubernetes.io/name": app, "app.kubernetes.io/part-of": team}
    port = g.rng.choice((8080, 8000, 3000, 5000))
    replicas = pods
    dep_uid, rs_uid = g.uid(), g.uid()
    pod_hash = f"{g.rng.getrandbits(40):010x}"[:10]
    rs_name = f"{app}-{pod_hash}"
    pod_labels = {**labels, "pod-template-hash": pod_hash}
    template = {
        "metadata": {"creationTimestamp": None, "labels": pod_labels},
        "spec": _pod_spec(g, app, ns, peer, port),
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(
            g,
            app,
            ns,
            labels,
            annotations={"deployment.kubernetes.io/revision": str(g.rng.randrange(1, 30))},
            generation=g.rng.randrange(1, 30),
        )
        | {"uid": dep_uid},
        "spec": {
            "progressDeadlineSeconds": 600,
            "replicas": replicas,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": app}},
            "strategy": {
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                "type": "RollingUpdate",
            },
            "template": {
                "metadata": {"creationTimestamp": None, "labels": labels},
                "spec": template["spec"],
            },
        },
        "status": {
            "availableReplicas": replicas,
            "conditions": _conditions(g, ("Available", "Progressing")),
            "observedGeneration": 3,
            "readyReplicas": replicas,
            "replicas": replicas,
            "updatedReplicas": replicas,
        },
    }
    replica_set = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": _meta(
            g, rs_name, ns, pod_labels, ownerReferences=_owner("Deployment", app, dep_uid)
        )
        | {"uid": rs_uid},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app, "pod-template-hash": pod_hash}},
            "template": template,
        },
        "status": {
            "availableReplicas": replicas,
            "fullyLabeledReplicas": replicas,
            "observedGeneration": 1,
            "readyReplicas": replicas,
            "replicas": replicas,
        },
    }
    objects: list[dict[str, Any]] = [deployment, replica_set]
    for _ in range(pods):
        suffix = f"{g.rng.getrandbits(25):05x}"[:5]
        ip = g.ip(244)
        spec = _pod_spec(g, app, ns, peer, port) | {"nodeName": f"node-{g.rng.randrange(60):02d}"}
        started = g.stamp()
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": _meta(
                    g,
                    f"{rs_name}-{suffix}",
                    ns,
                    pod_labels,
                    generateName=f"{rs_name}-",
                    ownerReferences=_owner("ReplicaSet", rs_name, rs_uid),
                ),
                "spec": dict(sorted(spec.items())),
                "status": {
                    "conditions": _conditions(
                        g, ("Initialized", "Ready", "ContainersReady", "PodScheduled")
                    ),
                    "containerStatuses": [
                        {
                            "containerID": f"containerd://{g.rng.getrandbits(256):064x}",
                            "image": spec["containers"][0]["image"],
                            "imageID": f"sha256:{g.rng.getrandbits(256):064x}",
                            "lastState": {},
                            "name": app,
                            "ready": True,
                            "restartCount": g.rng.choice((0, 0, 0, 1, 4)),
                            "started": True,
                            "state": {"running": {"startedAt": started}},
                        }
                    ],
                    "hostIP": g.ip(0),
                    "phase": "Running",
                    "podIP": ip,
                    "podIPs": [{"ip": ip}],
                    "qosClass": "Burstable",
                    "startTime": started,
                },
            }
        )
    cluster_ip = g.ip(96)
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(g, app, ns, labels),
            "spec": {
                "clusterIP": cluster_ip,
                "clusterIPs": [cluster_ip],
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "ports": [
                    {"name": "http", "port": 80, "protocol": "TCP", "targetPort": port},
                    {"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": "metrics"},
                ],
                "selector": {"app": app},
                "sessionAffinity": "None",
                "type": "ClusterIP",
            },
            "status": {"loadBalancer": {}},
        }
    )
    return objects


def objects(n: int, namespaces: int, seed: int) -> Iterator[dict[str, Any]]:
    """``n`` objects, app by app, the apps spread round-robin over the namespaces."""
    g = _Gen(seed)
    made = 0
    i = 0
    while made < n:
        ns = f"team-{i % namespaces:02d}"
        app, peer = f"svc-{i:05d}", f"svc-{(i + namespaces) % max(n // 5, 1):05d}"
        for obj in app_objects(g, ns, app, peer, PODS_PER_APP):
            if made == n:
                return
            made += 1
            yield obj
        i += 1


def write_inputs(n: int, namespaces: int, seed: int, folder: Path) -> tuple[Path, Path]:
    # Through JSON and back: no object shares a dict with another, so the YAML has no
    # anchors (kubectl writes none).
    objs = orjson.loads(orjson.dumps(list(objects(n, namespaces, seed))))
    as_yaml = folder / f"manifest-{size_label(n)}.yaml"
    with as_yaml.open("w", encoding="utf-8") as f:
        yaml.dump_all(
            objs, f, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False
        )
    as_json = folder / f"list-{size_label(n)}.json"
    as_json.write_bytes(orjson.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))
    return as_yaml, as_json


# -- measuring -------------------------------------------------------------------------------


def reader_run(path: Path) -> Callable[[], int]:
    """What ``cmdb discover k8s FILE`` runs before reconciling: the adapter, collected."""
    read = reader("k8s")

    def run() -> int:
        # As discovery.reconcile.engine.ingest reads: the cyclic collector paused (the
        # records are a large heap without cycles; with it on, a 20k-object read spends
        # about half its time in collections that free nothing).
        with gc_paused():
            return len(collect("k8s", read([path])).cis)

    return run


def pure_python(run: Callable[[], int]) -> Callable[[], int]:
    """``run`` with YAML read by the pure-Python loader (the reader before issue 12)."""

    def with_pure_python() -> int:
        io.LIBYAML = False
        try:
            return run()
        finally:
            io.LIBYAML = True

    return with_pure_python


def timed(fns: dict[str, Callable[[], int]], repeat: int) -> dict[str, dict[str, Any]]:
    """Best wall and CPU seconds of ``repeat`` runs of each function, taking turns in a
    rotating order (a machine getting busier or quieter affects all alike). The garbage
    collector stays on: it is part of what a reader costs."""
    names = list(fns)
    wall: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    result: dict[str, int] = {}
    for r in range(repeat):
        for k in names[r % len(names) :] + names[: r % len(names)]:
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            result[k] = fns[k]()
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
            print(f"    {k}: {wall[k][-1]:.2f} s", flush=True)
    return {
        k: {"s": min(wall[k]), "cpu_s": min(cpu[k]), "runs_s": wall[k], "result": result[k]}
        for k in names
    }


def bench_size(n: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    print(f"{size_label(n)}: writing {n:,} objects ...", flush=True)
    as_yaml, as_json = write_inputs(n, args.namespaces, args.seed, folder)
    load_before = os.getloadavg()
    out: dict[str, Any] = {
        "objects": n,
        "yaml_bytes": as_yaml.stat().st_size,
        "json_bytes": as_json.stat().st_size,
    }
    fns: dict[str, Callable[[], int]] = {
        "reader_json": reader_run(as_json),
        "reader_yaml": reader_run(as_yaml),
        "parse_json": lambda: len(io.json_document(as_json)["items"]),
        "parse_yaml": lambda: sum(1 for _ in io.yaml_documents(as_yaml)),
        "parse_yaml_pyyaml_c": lambda: sum(
            1 for _ in yaml.load_all(as_yaml.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        ),
    }
    print(f"{size_label(n)}: timing, best of {args.repeat} ...", flush=True)
    out["timings"] = timed(fns, args.repeat)
    if args.baseline:
        print(f"{size_label(n)}: the pure-Python loader, best of {args.baseline_repeat} ...")
        out["timings"] |= timed(
            {"reader_yaml_pure_python": pure_python(reader_run(as_yaml))}, args.baseline_repeat
        )
    t = out["timings"]
    found = {k: v["result"] for k, v in t.items() if k.startswith("reader")}
    assert len(set(found.values())) == 1, f"the readers disagree on the CIs: {found}"
    parsed = {k: v["result"] for k, v in t.items() if k.startswith("parse")}
    assert set(parsed.values()) == {n}, f"the parsers disagree on the objects: {parsed}"
    out["yaml_over_json"] = t["reader_yaml"]["s"] / t["reader_json"]["s"]
    out["target_met"] = out["yaml_over_json"] <= TARGET_YAML_OVER_JSON
    out["load_average_before_after"] = [list(load_before), list(os.getloadavg())]
    return out


# -- the table -------------------------------------------------------------------------------

# (measure, its label, the baseline it is set beside)
_ROWS = (
    ("reader_json", "reader, JSON kind: List", None),
    ("reader_yaml", "reader, YAML via libyaml", "reader_json"),
    ("reader_yaml_pure_python", "reader, YAML pure-Python (before)", "reader_json"),
    ("reader_yaml", "reader, YAML via libyaml", "reader_yaml_pure_python"),
    ("parse_json", "parse: json_document", None),
    ("parse_yaml", "parse: yaml_documents (libyaml)", "parse_json"),
    ("parse_yaml_pyyaml_c", "parse: PyYAML CSafeLoader, no guards", "parse_yaml"),
)


def print_table(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    title = f"readers benchmark, {results['started_at']}, load average " + " ".join(
        f"{x:.2f}" for x in results["load_average_at_start"]
    )
    t = Table(title=title)
    for h in ("size", "measure", "s", "CPU s", "objects/s", "baseline", "baseline s", "ratio"):
        t.add_column(h)
    for label, r in results["sizes"].items():
        timings = r["timings"]
        for key, name, base in _ROWS:
            if key not in timings or (base is not None and base not in timings):
                continue
            m = timings[key]
            ratio = b_name = b_s = ""
            if base is not None:
                b = timings[base]
                ratio = f"{m['s'] / b['s']:.2f}x"
                b_name = next(n for k, n, _ in _ROWS if k == base)
                b_s = f"{b['s']:.2f}"
                if key == "reader_yaml" and base == "reader_json":
                    met = "met" if r["target_met"] else "NOT met"
                    ratio += f" (target <= {TARGET_YAML_OVER_JSON}x: {met})"
            t.add_row(label, name, f"{m['s']:.2f}", f"{m['cpu_s']:.2f}",
                      f"{r['objects'] / m['s']:,.0f}", b_name, b_s, ratio)  # fmt: skip
        load = r["load_average_before_after"]
        t.add_row(label, f"load average before / after: {load[0][0]:.2f} / {load[1][0]:.2f}",
                  "", "", "", "", "", "")  # fmt: skip
    Console(width=170).print(t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="20k", help="objects per file, e.g. 20k,100k")
    ap.add_argument("--namespaces", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measure (best is kept)")
    ap.add_argument(
        "--baseline-repeat",
        type=int,
        default=None,
        help="runs of the pure-Python loader (default: --repeat); minutes each at 100k",
    )
    ap.add_argument("--no-baseline", dest="baseline", action="store_false")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default=str(ROOT / "bench/results/readers.json"))
    args = ap.parse_args(argv)
    args.baseline_repeat = args.baseline_repeat or args.repeat
    if not io.LIBYAML:
        raise SystemExit("PyYAML has no libyaml here: there is nothing to compare")
    results: dict[str, Any] = {
        "benchmark": "bench/readers.py",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_at_start": list(os.getloadavg()),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "pyyaml": yaml.__version__,
            "libyaml": yaml._yaml.get_version_string(),
        },
        "namespaces": args.namespaces,
        "repeat": args.repeat,
        "baseline_repeat": args.baseline_repeat if args.baseline else 0,
        "target_yaml_over_json_max": TARGET_YAML_OVER_JSON,
        "sizes": {},
    }
    with tempfile.TemporaryDirectory(prefix="cmdb-bench-readers-") as tmp:
        for n in (parse_size(s) for s in args.sizes.split(",") if s.strip()):
            results["sizes"][size_label(n)] = bench_size(n, args, Path(tmp))
            gc.collect()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for r in results["sizes"].values():
        for m in r["timings"].values():
            m.pop("result", None)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"written: {out}")
    return 0 if all(r["target_met"] for r in results["sizes"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
