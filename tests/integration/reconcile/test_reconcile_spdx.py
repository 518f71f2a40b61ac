"""SPDX documents reconciled into each store: the real examples, the same package named by
a CycloneDX SBOM and by SPDX 2.3 and 3.0 documents as one CI, and placeholders."""

from __future__ import annotations

import json
from pathlib import Path

from cmdb.domain.identifiers import Identifier, IdentifierKind
from cmdb.store.contract import Direction, GraphStore
from tests.fakes import FakeClock
from tests.reconcile_support import all_cis, edge_count, history_rows, inventory_path, run

UNIT = Path(__file__).resolve().parents[2] / "unit" / "discovery" / "fixtures"
EXAMPLE11_2 = "spdx2.3_example11_sbom.spdx.json"
EXAMPLE11_3 = "spdx3.0_example11_sbom.spdx3.json"
ROOT_PURL = "pkg:deb/debian/libselinux1-dev@3.1-3?arch=s390x"  # hello-server-src's
CRATES = ("pkg:cargo/hyper@0.14", "pkg:cargo/tokio@1.19.2", "pkg:cargo/pretty_env_logger@0.4.0")


def _purl(store: GraphStore, purl: str) -> list[str]:
    return [
        c.id for c in store.find_by_identifier(Identifier(kind=IdentifierKind.PURL, value=purl))
    ]


def _cyclonedx(tmp_path: Path) -> Path:
    """A minimal CycloneDX 1.4 SBOM of the same application as SPDX example 11, naming two
    of its crates by purl (with surrounding spaces, which both adapters strip), and a crate
    of its own."""
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.4",
        "version": 1,
        "metadata": {
            "component": {
                "type": "application",
                "bom-ref": "app",
                "name": "hello-server-src",
                "version": "0.1.0",
                "purl": ROOT_PURL,
            }
        },
        "components": [
            {
                "type": "library",
                "bom-ref": "tokio",
                "name": "tokio",
                "version": "1.19.2",
                "purl": f" {CRATES[1]} ",
            },
            {
                "type": "library",
                "bom-ref": "hyper",
                "name": "hyper",
                "version": "0.14",
                "purl": CRATES[0],
            },
            {
                "type": "library",
                "bom-ref": "bytes",
                "name": "bytes",
                "version": "1.1.0",
                "purl": "pkg:cargo/bytes@1.1.0",
            },
        ],
        "dependencies": [
            {"ref": "app", "dependsOn": ["tokio", "hyper"]},
            {"ref": "tokio", "dependsOn": ["bytes"]},
        ],
    }
    path = tmp_path / "hello-server.cdx.json"
    path.write_text(json.dumps(bom))
    return path


def test_each_real_document_three_times_adds_nothing_after_the_first(
    store: GraphStore, clock: FakeClock
) -> None:
    folder = inventory_path("spdx")
    for path in sorted(folder.iterdir()):
        first = run(store, "spdx", path, scope=path.name, clock=clock)
        assert not first.conflicts, (path.name, first.conflicts)
        assert first.errors == 0, (path.name, first.problems)
        before = (len(all_cis(store)), edge_count(store), history_rows(store))
        for _ in range(2):
            clock.advance(3600)
            again = run(store, "spdx", path, scope=path.name, clock=clock)
            assert (len(again.created), len(again.updated)) == (0, 0), path.name
        assert (len(all_cis(store)), edge_count(store), history_rows(store)) == before, path.name
    # Example 11 in both generations names its four packages by purl: four CIs, not eight.
    # The hello examples have no purls: one CI per document's package (five documents).
    by_class = store.counts().by_class
    assert by_class.get("Application") == 1 + 5 + 1  # example 11, the hellos, example 13
    assert by_class.get("SoftwarePackage") == 3 + 3  # example 11's crates, example 13's
    for purl in (ROOT_PURL, *CRATES):
        assert len(_purl(store, purl)) == 1, purl


def test_the_same_purl_from_cyclonedx_and_spdx_is_one_ci(store: GraphStore, tmp_path: Path) -> None:
    cdx = run(store, "cyclonedx", _cyclonedx(tmp_path))
    assert len(cdx.created) == 4
    two = run(store, "spdx", inventory_path("spdx", EXAMPLE11_2))
    three = run(store, "spdx", inventory_path("spdx", EXAMPLE11_3))
    assert not (two.conflicts or three.conflicts)
    # Only pretty_env_logger is new: the application and two crates were the BOM's.
    assert [c.name for c in two.created] == ["pretty_env_logger"]
    assert three.created == []
    for purl in (ROOT_PURL, *CRATES):
        found = _purl(store, purl)
        assert len(found) == 1, purl
        ci = store.get_ci(found[0])
        expected = {"cyclonedx", "spdx"} if purl != CRATES[2] else {"spdx"}
        assert set(ci.sources) == expected, (purl, ci.sources)
    app = store.get_ci(_purl(store, ROOT_PURL)[0])
    assert app.ci_class == "Application"
    deps = store.neighbours(app.id, direction=Direction.OUT, types=["DEPENDS_ON"])
    assert sorted(n.ci.name for n in deps) == ["hyper", "pretty_env_logger", "tokio"]
    assert store.counts().by_class == {"Application": 1, "SoftwarePackage": 4}


def test_fixture_placeholders_are_unresolved_and_edges_land(store: GraphStore) -> None:
    report = run(store, "spdx", UNIT / "spdx_edges.json")
    unresolved = {u.name for u in report.unresolved}
    assert unresolved == {"DocumentRef-base:SPDXRef-libc", "SPDXRef-ghost"}
    assert all(u.ci_id for u in report.unresolved)
    assert store.counts().relationships_by_type == {"DEPENDS_ON": 5, "CONTAINS": 1}
    shop = store.get_ci(_purl(store, "pkg:npm/shop@2.0")[0])
    assert shop.ci_class == "Application"
    contained = store.neighbours(shop.id, direction=Direction.OUT, types=["CONTAINS"])
    assert [n.ci.name for n in contained] == ["bundled-assets"]
