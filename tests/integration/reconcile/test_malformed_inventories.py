"""Reliability item 21: malformed inventories, through the push service and ``cmdb discover``
on both stores.

Entity bombs and external entities (XML), alias bombs (YAML), truncated files, files of the
wrong format and of the wrong encoding are refused with ``InvalidInput`` naming the file and,
where the parser knows it, the place; the store holds afterwards exactly what it held
before (CIs, edges, history, runs), and no run is recorded as succeeded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from cmdb.cli import app
from cmdb.domain.errors import InvalidInput
from cmdb.domain.records import RunStatus
from cmdb.store.contract import GraphStore
from cmdb.store.embedded.store import EmbeddedStore
from discovery.io import MAX_ALIASES
from discovery.reconcile.service import SUFFIX, ingest_payload
from tests.fakes import FakeClock
from tests.neo4j_support import fresh_store
from tests.reconcile_support import FIXTURES, all_cis, edge_count, history_rows

UNIT = Path(__file__).resolve().parents[2] / "unit" / "discovery" / "fixtures"
GOOD_NMAP = FIXTURES / "one_machine" / "nmap.xml"
SECRET = "TOP-SECRET-do-not-import-7d1c"
# A well-formed file of each format, the base of the truncated and re-encoded cases.
GOOD = {
    "k8s": "k8s_edge.yaml",
    "compose": "compose_edge.yaml",
    "backstage": "backstage_relations.yaml",
    "terraform": "tf_v3_counts.tfstate",
    "nmap": "nmap_edge.xml",
    "ansible": "ansible_fact_cache.json",
    "cyclonedx": "sbom_nested.json",
    "glpi": "glpi_computer.json",
    "spdx": "spdx_edges.json",
    "csv": "generic_cis.csv",
    "json": "generic_good.json",
    "aws": "aws_target_groups.json",
    "netbox": "netbox4_devices.json",
}
PLACE = r"[^:\s]+:\d+:\d+"  # file:line:column
NOT_UTF8 = r"not UTF-8 text \(byte \d+"


@dataclass(frozen=True)
class Case:
    fmt: str
    make: Callable[[Path], bytes]  # gets a scratch folder (for the XXE target)
    expect: str  # a regex that str(InvalidInput) must match, after the file's name


def good(fmt: str) -> bytes:
    return (UNIT / GOOD[fmt]).read_bytes()


def _billion_laughs(_: Path) -> bytes:
    ents = ['<!ENTITY l0 "lol">'] + [f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)]
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE nmaprun [\n{chr(10).join(ents)}\n]>\n'
        '<nmaprun><host><status state="up"/><address addr="10.9.9.9" addrtype="ipv4"/>'
        '<hostnames><hostname name="&l9;"/></hostnames></host></nmaprun>\n'
    ).encode()


def _xxe(scratch: Path) -> bytes:
    secret = scratch / "secret.txt"
    secret.write_text(SECRET)
    return (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE nmaprun [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n'
        '<nmaprun><host><status state="up"/><address addr="10.9.9.8" addrtype="ipv4"/>'
        '<hostnames><hostname name="&xxe;"/></hostnames></host></nmaprun>\n'
    ).encode()


def _alias_bomb(head: str) -> Callable[[Path], bytes]:
    aliases = ", ".join(["*a"] * (MAX_ALIASES + 1))
    return lambda _: f"{head}x-bomb:\n  a: &a [lol, lol]\n  b: [{aliases}]\n".encode()


def _const(data: bytes) -> Callable[[Path], bytes]:
    return lambda _: data


def _half(fmt: str) -> Callable[[Path], bytes]:
    return lambda _: good(fmt)[: len(good(fmt)) // 2]


def _utf16(fmt: str) -> Callable[[Path], bytes]:
    return lambda _: good(fmt).decode().encode("utf-16")  # with a BOM


def _latin1(fmt: str) -> Callable[[Path], bytes]:
    return lambda _: good(fmt).decode().replace("e", "\xe9", 1).encode("latin-1")


def _garbage(_: Path) -> bytes:
    return bytes(range(256)) * 4


_K8S_HEAD = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\n"
_BACKSTAGE_HEAD = (
    "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: bomb}\n"
    "spec: {type: service, owner: team-a, lifecycle: production}\n"
)
CASES: dict[str, Case] = {
    # Entities: refused before anything is expanded or fetched.
    "nmap-billion-laughs": Case("nmap", _billion_laughs, "refused XML construct"),
    "nmap-xxe-file": Case("nmap", _xxe, "refused XML construct"),
    # More aliases than the loader allows: refused, with the line.
    "k8s-alias-bomb": Case("k8s", _alias_bomb(_K8S_HEAD), r"aliases at line \d+: refused"),
    "compose-alias-bomb": Case(
        "compose",
        _alias_bomb("services:\n  web: {image: nginx}\n"),
        r"aliases at line \d+: refused",
    ),
    "backstage-alias-bomb": Case(
        "backstage", _alias_bomb(_BACKSTAGE_HEAD), r"aliases at line \d+: refused"
    ),
    # Cut in the middle: the parser says where the input stopped making sense.
    "k8s-truncated": Case("k8s", _half("k8s"), rf"{PLACE}: invalid YAML"),
    "compose-truncated": Case(
        "compose",
        _const(b'services:\n  web:\n    image: nginx\n    ports: ["80:80", "44'),
        r":4:\d+: invalid YAML",
    ),
    "backstage-truncated": Case(
        "backstage",
        _const(_BACKSTAGE_HEAD.replace("lifecycle: production}\n", "lifecycle: prod").encode()),
        r":4:\d+: invalid YAML",
    ),
    "terraform-truncated": Case("terraform", _half("terraform"), rf"{PLACE}: invalid JSON"),
    "nmap-truncated": Case("nmap", _half("nmap"), rf"{PLACE}: invalid XML"),
    "ansible-truncated": Case("ansible", _half("ansible"), rf"{PLACE}: invalid JSON"),
    "cyclonedx-truncated": Case("cyclonedx", _half("cyclonedx"), rf"{PLACE}: invalid JSON"),
    "glpi-truncated": Case("glpi", _half("glpi"), rf"{PLACE}: invalid JSON"),
    "spdx-truncated": Case("spdx", _half("spdx"), rf"{PLACE}: invalid JSON"),
    "json-truncated": Case("json", _half("json"), rf"{PLACE}: invalid JSON"),
    "aws-truncated": Case("aws", _half("aws"), rf"{PLACE}: invalid JSON"),
    "netbox-truncated": Case("netbox", _half("netbox"), rf"{PLACE}: invalid JSON"),
    # The wrong format for the adapter.
    "nmap-given-json": Case("nmap", lambda _: good("terraform"), rf"{PLACE}: invalid XML"),
    "terraform-given-xml": Case("terraform", lambda _: good("nmap"), rf"{PLACE}: invalid JSON"),
    "ansible-given-yaml": Case("ansible", lambda _: good("k8s"), rf"{PLACE}: invalid JSON"),
    "cyclonedx-given-xml": Case("cyclonedx", lambda _: good("nmap"), rf"{PLACE}: invalid JSON"),
    "json-given-csv": Case("json", lambda _: good("csv"), rf"{PLACE}: invalid JSON"),
    "cyclonedx-given-json": Case("cyclonedx", lambda _: good("ansible"), "not a CycloneDX BOM"),
    "glpi-given-sbom": Case("glpi", lambda _: good("cyclonedx"), r":\$: not a GLPI inventory"),
    "terraform-given-sbom": Case(
        "terraform", lambda _: good("cyclonedx"), "not a Terraform state|state version"
    ),
    "k8s-given-xml": Case("k8s", lambda _: good("nmap"), r":\d+: not Kubernetes manifests"),
    "backstage-given-csv": Case(
        "backstage", lambda _: good("csv"), r":\d+: not a Backstage catalog"
    ),
    "compose-given-xml": Case("compose", lambda _: good("nmap"), r":\d+: a Compose file is"),
    "csv-given-json": Case("csv", lambda _: good("json"), r":1:.*unknown column"),
    "aws-given-sbom": Case("aws", lambda _: good("cyclonedx"), "not an AWS describe reply"),
    "spdx-given-cyclonedx": Case("spdx", lambda _: good("cyclonedx"), "not an SPDX document"),
    "netbox-given-sbom": Case(
        "netbox", lambda _: good("cyclonedx"), r":count: not a NetBox export"
    ),
    # The wrong encoding: UTF-16 with its BOM, Latin-1, binary garbage.
    **{
        f"{fmt}-utf16": Case(
            fmt,
            _utf16(fmt),
            "encoding specified in XML declaration is incorrect" if fmt == "nmap" else NOT_UTF8,
        )
        for fmt in GOOD
    },
    **{
        f"{fmt}-latin1": Case(
            fmt, _latin1(fmt), rf"{PLACE}: invalid XML" if fmt == "nmap" else NOT_UTF8
        )
        for fmt in GOOD
    },
    **{
        f"{fmt}-garbage": Case(
            fmt, _garbage, rf"{PLACE}: invalid XML" if fmt == "nmap" else NOT_UTF8
        )
        for fmt in GOOD
    },
}


def test_every_format_has_truncation_wrong_format_and_encoding_cases() -> None:
    # CSV has no truncation case: a CSV cut at a row boundary is a valid, shorter CSV.
    kinds = {name.removeprefix(f"{c.fmt}-").split("-")[0] for name, c in CASES.items()}
    assert {"truncated", "given", "utf16", "latin1", "garbage"} <= kinds
    assert {c.fmt for c in CASES.values()} == set(GOOD) == set(SUFFIX)


Snapshot = tuple[int, int, int, list[tuple[str, RunStatus]]]


def snapshot(store: GraphStore) -> Snapshot:
    runs = [(r.id, r.status) for r in store.list_runs(limit=1000)]
    return len(all_cis(store)), edge_count(store), history_rows(store), runs


def _seed(store: GraphStore, fmt: str) -> None:
    """A successful run of the same source, so a wrongly accepted file would have something
    to mark stale, and the before/after comparison is not of two empty stores."""
    report = ingest_payload(
        store, GOOD_NMAP.read_bytes(), fmt="nmap", source=fmt, scope="lan", stale_after_runs=1
    )
    assert report.run.status is RunStatus.SUCCEEDED and report.created


# -- the push service ---------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_push_refuses_and_changes_nothing(store: GraphStore, tmp_path: Path, name: str) -> None:
    case = CASES[name]
    _seed(store, case.fmt)
    before = snapshot(store)
    filename = f"inventory-{name}{SUFFIX[case.fmt]}"
    with pytest.raises(InvalidInput) as caught:
        ingest_payload(
            store,
            case.make(tmp_path),
            fmt=case.fmt,
            source=case.fmt,
            scope="lan",
            filename=filename,
            stale_after_runs=1,
        )
    text = str(caught.value)
    assert text.startswith(filename), text  # the where names the upload first
    assert "cmdb-upload" not in text and SECRET not in text
    assert re.search(case.expect, text), text
    assert snapshot(store) == before
    assert all(status is RunStatus.SUCCEEDED for _id, status in before[3])  # only the seed


# -- the command line ---------------------------------------------------------------------


@pytest.fixture
def cli_store(
    store_kind: str, tmp_path: Path, clock: FakeClock, request: pytest.FixtureRequest
) -> Iterator[tuple[dict[str, str], Callable[[], GraphStore]]]:
    """Environment for ``cmdb`` to use a store of this kind, and a way to open it afresh
    (the embedded store keeps an in-memory index: a write by the CLI is seen on re-open)."""
    if store_kind == "embedded":
        db = tmp_path / "cli.db"
        yield {"CMDB_STORE": "embedded", "CMDB_DB_PATH": str(db)}, lambda: EmbeddedStore(db)
        return
    server = request.getfixturevalue("neo4j_server")
    driver = request.getfixturevalue("neo4j_driver")
    fresh_store(driver, clock).close()  # wiped
    env = {
        "CMDB_STORE": "neo4j",
        "CMDB_NEO4J_URI": server.uri,
        "CMDB_NEO4J_USER": server.user,
        "CMDB_NEO4J_PASSWORD": server.password,
    }
    from cmdb.store.neo4j.store import Neo4jStore

    yield env, lambda: Neo4jStore(driver, clock=clock, owns_driver=False)


def _cli_snapshot(open_store: Callable[[], GraphStore]) -> Snapshot:
    s = open_store()
    try:
        return snapshot(s)
    finally:
        s.close()


@pytest.mark.parametrize("name", list(CASES))
def test_cli_exits_2_with_one_line_and_changes_nothing(
    cli_store: tuple[dict[str, str], Callable[[], GraphStore]], tmp_path: Path, name: str
) -> None:
    env, open_store = cli_store
    env = {**env, "CMDB_ACTOR": "tester", "COLUMNS": "200"}
    runner = CliRunner()
    case = CASES[name]
    seeded = runner.invoke(app, ["discover", "nmap", str(GOOD_NMAP), "--source", case.fmt], env=env)
    assert seeded.exit_code == 0, (seeded.stdout, seeded.stderr)
    before = _cli_snapshot(open_store)
    bad = tmp_path / f"inventory-{name}{SUFFIX[case.fmt]}"
    bad.write_bytes(case.make(tmp_path))
    result = runner.invoke(app, ["discover", case.fmt, str(bad), "--source", case.fmt], env=env)
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad}"), result.stderr
    assert re.search(case.expect, lines[0]), lines[0]
    assert SECRET not in result.output and "Traceback" not in result.output
    assert _cli_snapshot(open_store) == before


# -- aliases under the cap: accepted, and never expanded into the store ------------------


def _laughs(levels: int, indent: str) -> str:
    lines = [f"{indent}l0: &l0 [lol, lol]"]
    lines += [f"{indent}l{i}: &l{i} [*l{i - 1}, *l{i - 1}]" for i in range(1, levels)]
    return "\n".join(lines)


TOP = "*l39"  # 2**40 leaves if anything walked it
UNDER_CAP = {
    "k8s": f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: laughs\n  annotations:\n"
    f"{_laughs(40, '    ')}\n  labels: {{a: {TOP}}}\nspec:\n  containers:\n"
    f"  - {{name: c, image: busybox, args: {TOP}, env: {TOP}}}\n",
    "compose": f"x-laughs:\n{_laughs(40, '  ')}\nservices:\n  web:\n    image: nginx\n"
    f"    environment: {{A: {TOP}}}\n    labels: {{a: {TOP}}}\n    command: {TOP}\n",
    "backstage": f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n"
    f"  name: laughs\n  annotations:\n{_laughs(40, '    ')}\n  tags: {TOP}\n"
    f"  labels: {{a: {TOP}}}\n  title: {TOP}\nspec: {{type: service, owner: team-a}}\n",
}


@pytest.mark.parametrize("fmt", list(UNDER_CAP))
def test_aliases_under_the_cap_are_stored_small(store: GraphStore, fmt: str) -> None:
    # Returning at all is the point: walking 2**40 leaves would never finish.
    report = ingest_payload(store, UNDER_CAP[fmt].encode(), fmt=fmt, source=fmt)
    assert report.run.status is RunStatus.SUCCEEDED, report.error
    stored = [c for c in all_cis(store) if "laughs" in c.name or c.name == "web"]
    assert stored
    assert sum(len(orjson.dumps(c.attributes)) for c in stored) < 10_000
