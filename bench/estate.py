"""A deterministic generator of realistic layered estates, for the store benchmark.

The estate has the layers of a real IT estate and the sharing that makes impact graphs
hard: services contain applications, applications contain instances, instances run on VMs,
VMs are hosted on physical servers. On top of that:

* some applications run clustered: their VMs are ``MEMBER_OF`` a Cluster CI that declares a
  quorum (``redundancy.min_up``), and the application ``DEPENDS_ON`` the cluster;
* shared databases (standalone, or a 3-node cluster that needs 2 up) and load balancers
  (appliances hosted on servers) are used by many instances (``DEPENDS_ON``), the popular
  ones by far more than the rest (a skewed pick);
* front-end instances call the back-end tier of their application (``CONNECTS_TO``);
* a few supporting services are used by other services (cross-service ``DEPENDS_ON``).

About three relationships per CI. Every edge is checked against the relationship registry
(:mod:`cmdb.domain.relationships`) when the estate is generated.

CIs are numbered in ingest order: shared infrastructure first (servers, database VMs,
databases, load balancers), then service by service. An edge is ingested with the batch
that holds its later endpoint, so every batch refers only to CIs already written or in the
batch itself. Every CI carries exactly one unique identifier (``serial`` for servers,
``fqdn`` for VMs, ``key`` for the rest) and no id: the store identifies it on ingest, and a
second ingest of the same batches changes nothing.

``estate.edge_arrays()`` / ``estate.edges()`` give the same graph as plain ``(src, dst)``
integer edge lists for the baselines (networkx, igraph).
"""

from __future__ import annotations

import random
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from cmdb.domain.changeset import ChangeSet, CIRef, CIUpsert, RelUpsert
from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.domain.model import Criticality, Redundancy
from cmdb.domain.relationships import check_allowed
from cmdb.domain.service import SLA, ServiceDetails, ServiceKind

CLASSES: tuple[str, ...] = (
    "Service",
    "Application",
    "ApplicationInstance",
    "VirtualMachine",
    "Server",
    "Cluster",
    "Database",
    "LoadBalancer",
)
SVC, APP, INST, VM, HOST, CLUSTER, DB, LB = range(len(CLASSES))

REL_TYPES: tuple[str, ...] = (
    "CONTAINS",
    "RUNS_ON",
    "HOSTED_ON",
    "MEMBER_OF",
    "DEPENDS_ON",
    "CONNECTS_TO",
)
CONTAINS, RUNS_ON, HOSTED_ON, MEMBER_OF, DEPENDS_ON, CONNECTS_TO = range(len(REL_TYPES))

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*$")

# When the source saw the estate: fixed, so a re-ingest is byte-for-byte the same batch.
OBSERVED_AT = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

_WORDS = (
    "payments", "checkout", "catalog", "search", "identity", "billing", "ledger", "orders",
    "shipping", "pricing", "inventory", "loyalty", "messaging", "reporting", "analytics",
    "onboarding", "claims", "quotes", "notifications", "documents", "risk", "fraud",
    "settlement", "treasury", "hr", "payroll", "crm", "portal", "mobile", "partners",
)  # fmt: skip
_TIERS = ("web", "api", "worker", "batch", "cache", "gateway")
_ENVS = ("prod", "prod", "prod", "staging", "test")
_CRIT = (Criticality.CRITICAL, Criticality.HIGH, Criticality.MEDIUM, Criticality.LOW)
_DCS = ("dc-lon-1", "dc-lon-2", "dc-fra-1", "dc-ams-1")
_ENGINES = ("postgres", "oracle", "mssql", "mysql")


def parse_size(text: str) -> int:
    """``10k`` -> 10_000, ``1m`` -> 1_000_000, ``2500`` -> 2500."""
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (use e.g. 10k, 100k, 1m)")
    mult = {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


@dataclass
class Estate:
    """CIs (numbered in ingest order) and typed edges between them."""

    size: int
    seed: int
    cls: array = field(default_factory=lambda: array("b"))  # class code per CI
    owner: array = field(default_factory=lambda: array("i"))  # owning service, -1: shared
    names: list[str] = field(default_factory=list)
    src: array = field(default_factory=lambda: array("i"))
    dst: array = field(default_factory=lambda: array("i"))
    typ: array = field(default_factory=lambda: array("b"))
    services: list[int] = field(default_factory=list)
    hosts: list[int] = field(default_factory=list)
    svc_env: list[str] = field(default_factory=list)
    svc_crit: list[Criticality] = field(default_factory=list)
    svc_facing: list[bool] = field(default_factory=list)
    min_up: dict[int, int] = field(default_factory=dict)  # cluster -> members that must be up

    # -- building ----------------------------------------------------------------------
    def _add(self, code: int, name: str, owner: int) -> int:
        self.cls.append(code)
        self.owner.append(owner)
        self.names.append(name)
        return len(self.names) - 1

    def _edge(self, s: int, d: int, t: int) -> None:
        self.src.append(s)
        self.dst.append(d)
        self.typ.append(t)

    # -- reading -----------------------------------------------------------------------
    @property
    def n_cis(self) -> int:
        return len(self.names)

    @property
    def n_edges(self) -> int:
        return len(self.src)

    def edge_arrays(
        self,
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.int8]]:
        """The graph as integer arrays: (src, dst, type code into ``REL_TYPES``)."""
        return (
            np.frombuffer(self.src, dtype=np.int32).copy(),
            np.frombuffer(self.dst, dtype=np.int32).copy(),
            np.frombuffer(self.typ, dtype=np.int8).copy(),
        )

    def edges(self) -> Iterator[tuple[int, int]]:
        """The same graph as plain ``(src, dst)`` pairs of CI numbers."""
        return zip(self.src, self.dst, strict=True)

    def busiest_host(self) -> int:
        """The physical server with the most CIs hosted on it."""
        _, d, t = self.edge_arrays()
        hosted = d[t == HOSTED_ON]
        counts = np.bincount(hosted, minlength=self.n_cis)
        return int(np.argmax(counts))

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(np.frombuffer(self.cls, dtype=np.int8), minlength=len(CLASSES))
        return {CLASSES[i]: int(c) for i, c in enumerate(counts)}

    def type_counts(self) -> dict[str, int]:
        counts = np.bincount(np.frombuffer(self.typ, dtype=np.int8), minlength=len(REL_TYPES))
        return {REL_TYPES[i]: int(c) for i, c in enumerate(counts)}

    def identifier(self, i: int) -> Identifier:
        c = self.cls[i]
        if c == HOST:
            return Identifier(kind=IdentifierKind.SERIAL, value=f"SRV{self.seed:03d}{i:09d}")
        if c == VM:
            return Identifier(kind=IdentifierKind.FQDN, value=f"{self.names[i]}.estate.example")
        return Identifier(kind=IdentifierKind.KEY, value=f"bench:{CLASSES[c]}:{self.names[i]}")

    # -- change sets -------------------------------------------------------------------
    def batches(self, batch: int) -> Iterator[tuple[int, int, npt.NDArray[np.int64]]]:
        """(first CI, end CI, edge numbers) per batch: edges go with their later endpoint."""
        s, d, _ = self.edge_arrays()
        later = np.maximum(s, d)
        order = np.argsort(later, kind="stable")
        bounds = np.searchsorted(later[order], np.arange(0, self.n_cis + batch, batch))
        for k, lo in enumerate(range(0, self.n_cis, batch)):
            yield lo, min(lo + batch, self.n_cis), order[bounds[k] : bounds[k + 1]]

    def changesets(self, batch: int, *, run_id: str = "bench-run-1") -> Iterator[ChangeSet]:
        """The estate as change sets of ``batch`` CIs plus the edges they complete."""
        refs: dict[int, CIRef] = {}

        def ref(i: int) -> CIRef:
            r = refs.get(i)
            if r is None:
                r = refs[i] = CIRef(identifier=self.identifier(i))
            return r

        for k, (lo, hi, edge_nos) in enumerate(self.batches(batch)):
            ups = [self.upsert(i, ref(i).identifier) for i in range(lo, hi)]  # type: ignore[arg-type]
            rels = [
                RelUpsert(
                    type=REL_TYPES[self.typ[e]],
                    source=ref(self.src[e]),
                    target=ref(self.dst[e]),
                    confidence=0.9 if self.typ[e] in (DEPENDS_ON, CONNECTS_TO) else None,
                )
                for e in edge_nos.tolist()
            ]
            yield ChangeSet(
                actor="bench",
                source="bench-discovery",
                run_id=run_id,
                request_id=f"{run_id}-batch-{k:05d}",
                observed_at=OBSERVED_AT,
                ci_upserts=ups,
                rel_upserts=rels,
            )

    def upsert(self, i: int, ident: Identifier) -> CIUpsert:
        c, name, svc = self.cls[i], self.names[i], self.owner[i]
        env = self.svc_env[svc] if svc >= 0 else "prod"
        crit = self.svc_crit[svc] if svc >= 0 else Criticality.HIGH
        owner = f"team-{_WORDS[svc % len(_WORDS)]}" if svc >= 0 else "team-platform"
        ident_list = [ident]
        attrs: dict[str, object]
        extra: dict[str, object] = {}
        if c == SVC:
            facing = self.svc_facing[svc]
            extra["service"] = ServiceDetails(
                kind=ServiceKind.CUSTOMER_FACING if facing else ServiceKind.SUPPORTING,
                customers=["retail", "business"] if facing else [],
                sla=SLA(name=f"{name}-sla", availability_target=99.9 if facing else 99.5),
            )
            attrs = {"portfolio_owner": owner}
        elif c == APP:
            attrs = {"language": ("java", "python", "go", "dotnet")[i % 4], "repo": f"git/{name}"}
        elif c == INST:
            attrs = {"port": 8000 + i % 1000, "tier": name.rsplit("-", 2)[-2]}
        elif c == VM:
            attrs = {"cpu": 2 << (i % 3), "memory_gb": 4 << (i % 4), "os": "linux"}
            ident_list.append(Identifier(kind=IdentifierKind.HOSTNAME, value=name))
        elif c == HOST:
            attrs = {"model": "PowerEdge R760", "cpu": 64, "memory_gb": 1024, "rack": f"r{i % 97}"}
            ident_list.append(Identifier(kind=IdentifierKind.HOSTNAME, value=name))
        elif c == CLUSTER:
            extra["redundancy"] = Redundancy(min_up=self.min_up[i])
            attrs = {"kind": "quorum"}
        elif c == DB:
            attrs = {"engine": _ENGINES[i % len(_ENGINES)], "size_gb": 50 + i % 2000}
        else:  # LB
            attrs = {"vendor": "f5", "vip_count": 4 + i % 40}
        return CIUpsert.model_validate(
            {
                "class": CLASSES[c],
                "name": name,
                "environment": env,
                "criticality": crit,
                "owner": owner,
                "location": _DCS[i % len(_DCS)] if c in (HOST, VM, LB) else None,
                "identifiers": ident_list,
                "attributes": attrs,
                **extra,
            }
        )


def _skewed(rng: random.Random, n: int, power: float = 2.0) -> int:
    """A pick in [0, n) that favours low numbers: a few popular, a long tail."""
    return min(n - 1, int(n * rng.random() ** power))


def generate(size: int, seed: int = 42) -> Estate:
    """A layered estate of about ``size`` CIs (exact count in ``estate.n_cis``)."""
    rng = random.Random(seed)
    est = Estate(size=size, seed=seed)
    add, edge = est._add, est._edge

    # Shared infrastructure, sized from the estate: ~1 server per 30 CIs.
    n_hosts = max(4, size // 30)
    for h in range(n_hosts):
        est.hosts.append(add(HOST, f"srv-{_DCS[h % len(_DCS)]}-{h:06d}", -1))
    hosts = est.hosts

    def place(vm: int, host: int) -> None:
        edge(vm, hosts[host], HOSTED_ON)

    def new_vm(name: str, owner: int) -> int:
        return add(VM, name, owner)

    dbs: list[int] = []
    n_dbs = max(2, size // 400)
    for j in range(n_dbs):
        db = add(DB, f"db-{_WORDS[j % len(_WORDS)]}-{j:05d}", -1)
        dbs.append(db)
        if j % 3 == 0:  # a 3-node database cluster that needs 2 up
            cl = add(CLUSTER, f"dbcl-{j:05d}", -1)
            est.min_up[cl] = 2
            first = rng.randrange(n_hosts)
            for m in range(3):
                vm = new_vm(f"dbvm-{j:05d}-{m}", -1)
                place(vm, (first + m) % n_hosts)  # anti-affinity: one node per server
                edge(vm, cl, MEMBER_OF)
                edge(db, vm, RUNS_ON)
        else:
            vm = new_vm(f"dbvm-{j:05d}-0", -1)
            place(vm, _skewed(rng, n_hosts, 1.3))
            edge(db, vm, RUNS_ON)
    lbs: list[int] = []
    for j in range(max(2, size // 2000)):
        lb = add(LB, f"lb-{j:04d}", -1)
        lbs.append(lb)
        first = rng.randrange(n_hosts)
        edge(lb, hosts[first], HOSTED_ON)
        edge(lb, hosts[(first + 1) % n_hosts], HOSTED_ON)  # an appliance pair

    # Services until the estate is full.
    svc_no = 0
    while est.n_cis < size:
        facing = rng.random() < 0.3
        svc = add(SVC, f"svc-{_WORDS[svc_no % len(_WORDS)]}-{svc_no:05d}", svc_no)
        est.services.append(svc)
        est.svc_env.append(_ENVS[svc_no % len(_ENVS)])
        est.svc_crit.append(_CRIT[rng.randrange(len(_CRIT))] if facing else Criticality.MEDIUM)
        est.svc_facing.append(facing)
        # A few services use supporting services (always earlier ones: ingest order).
        if svc_no >= 5 and rng.random() < 0.15:
            for other in rng.sample(
                est.services[:-1], k=min(len(est.services) - 1, rng.randint(1, 3))
            ):
                edge(svc, other, DEPENDS_ON)
        for a in range(rng.randint(4, 12)):
            app = add(APP, f"app-{svc_no:05d}-{a:02d}", svc_no)
            edge(svc, app, CONTAINS)
            app_dbs = list(
                dict.fromkeys(dbs[_skewed(rng, n_dbs)] for _ in range(rng.randint(1, 4)))
            )
            lb = lbs[_skewed(rng, len(lbs), 1.5)]
            clustered = rng.random() < 0.3
            cluster = -1
            if clustered:
                cluster = add(CLUSTER, f"cl-{svc_no:05d}-{a:02d}", svc_no)
                edge(app, cluster, DEPENDS_ON)
            n_inst = rng.randint(3, 20)
            n_front = max(1, n_inst // 3)
            vms: list[int] = []
            insts: list[int] = []
            host0 = _skewed(rng, n_hosts, 1.3)
            for k in range(n_inst):
                # One or two instances per VM; clustered VMs spread over distinct servers.
                if not vms or rng.random() < 0.6:
                    vm = new_vm(f"vm-{svc_no:05d}-{a:02d}-{len(vms):02d}", svc_no)
                    place(
                        vm,
                        (host0 + len(vms)) % n_hosts if clustered else _skewed(rng, n_hosts, 1.3),
                    )
                    if clustered:
                        edge(vm, cluster, MEMBER_OF)
                    vms.append(vm)
                tier = _TIERS[0 if k < n_front else 1 + k % (len(_TIERS) - 1)]
                inst = add(INST, f"inst-{svc_no:05d}-{a:02d}-{tier}-{k:02d}", svc_no)
                insts.append(inst)
                edge(app, inst, CONTAINS)
                edge(inst, vms[-1], RUNS_ON)
                if k < n_front:
                    edge(inst, lb, DEPENDS_ON)
                else:
                    for db in app_dbs:
                        edge(inst, db, DEPENDS_ON)
            # The front end calls one to three back-end instances of its application.
            back = insts[n_front:]
            if back:
                for f in insts[:n_front]:
                    for b in rng.sample(back, k=min(len(back), rng.randint(1, 3))):
                        edge(f, b, CONNECTS_TO)
            if clustered:
                est.min_up[cluster] = len(vms) // 2 + 1  # quorum
        svc_no += 1

    _check_registry(est)
    return est


def _check_registry(est: Estate) -> None:
    """Every (type, source class, target class) the estate uses is allowed by the registry."""
    s, d, t = est.edge_arrays()
    c = np.frombuffer(est.cls, dtype=np.int8)
    nc = len(CLASSES)
    triples = np.sort((t.astype(np.int64) * nc + c[s]) * nc + c[d])
    triples = triples[np.r_[True, triples[1:] != triples[:-1]]]
    for code in triples.tolist():
        ty, rest = divmod(code, nc * nc)
        check_allowed(REL_TYPES[ty], CLASSES[rest // nc], CLASSES[rest % nc])
    if (s == d).any():
        raise AssertionError("the generator made a self-loop")
    keys = s.astype(np.int64) * est.n_cis + d.astype(np.int64)
    keys = np.sort(keys * len(REL_TYPES) + t)
    if (keys[1:] == keys[:-1]).any():
        raise AssertionError("the generator made the same edge twice")


if __name__ == "__main__":
    import sys
    import time

    for arg in sys.argv[1:] or ["10k"]:
        t0 = time.perf_counter()
        e = generate(parse_size(arg))
        dt = time.perf_counter() - t0
        print(
            f"{arg}: {e.n_cis} CIs, {e.n_edges} edges ({e.n_edges / e.n_cis:.2f}/CI), "
            f"{len(e.services)} services, generated in {dt:.1f}s"
        )
        print("  ", e.class_counts())
        print("  ", e.type_counts())
