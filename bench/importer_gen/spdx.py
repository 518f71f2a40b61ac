"""SPDX documents for bench/importers.py: ``n`` packages, half as 2.3 JSON, half as 3.0 JSON-LD.

Each document is an application's SBOM in the shape SBOM tools write (Syft, the Kubernetes
``bom`` tool): the application package the document describes, then packages with a purl,
a version, checksums, a download location and licences, one file per ten packages, and the
relationships: DESCRIBES the application, the application DEPENDS_ON every package, each
package DEPENDS_ON the one before it, the application CONTAINS each file. 3.0 says the same
with elements in an ``@graph``, licences as license-expression elements, and
``hasConcludedLicense`` relationships. Packages are the resources counted in ``n``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

FORMAT = "spdx"
_LICENSES = ("MIT", "Apache-2.0", "BSD-3-Clause", "ISC", "MIT OR Apache-2.0")


def generate(n: int, directory: Path) -> list[Path]:
    half = n // 2
    paths = [
        _write(directory / "sbom.spdx.json", _doc_2(half)),
        _write(directory / "sbom.spdx3.json", _doc_3(n - half)),
    ]
    return paths


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_bytes(orjson.dumps(doc))
    return path


def _purl(i: int) -> str:
    return f"pkg:npm/%40bench/package-{i}@{i % 7}.{i % 13}.{i % 5}"


def _doc_2(n: int) -> dict[str, Any]:
    packages: list[dict[str, Any]] = [
        {
            "SPDXID": "SPDXRef-Package-app",
            "name": "bench-app",
            "versionInfo": "1.0.0",
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "Apache-2.0",
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "APPLICATION",
        }
    ]
    files: list[dict[str, Any]] = []
    rels = [
        {
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": "SPDXRef-Package-app",
        }
    ]
    for i in range(1, n):
        ref = f"SPDXRef-Package-npm-{i}"
        packages.append(
            {
                "SPDXID": ref,
                "name": f"@bench/package-{i}",
                "versionInfo": f"{i % 7}.{i % 13}.{i % 5}",
                "supplier": "Organization: Bench",
                "downloadLocation": f"https://registry.npmjs.org/@bench/package-{i}/-/{i}.tgz",
                "filesAnalyzed": False,
                "licenseConcluded": _LICENSES[i % len(_LICENSES)],
                "licenseDeclared": "NOASSERTION",
                "copyrightText": "NOASSERTION",
                "checksums": [{"algorithm": "SHA1", "checksumValue": f"{i:040x}"}],
                "externalRefs": [
                    {
                        "referenceCategory": "PACKAGE-MANAGER",
                        "referenceType": "purl",
                        "referenceLocator": _purl(i),
                    }
                ],
            }
        )
        rels.append(
            {
                "spdxElementId": "SPDXRef-Package-app",
                "relationshipType": "DEPENDS_ON",
                "relatedSpdxElement": ref,
            }
        )
        if i > 1:
            rels.append(
                {
                    "spdxElementId": ref,
                    "relationshipType": "DEPENDS_ON",
                    "relatedSpdxElement": f"SPDXRef-Package-npm-{i - 1}",
                }
            )
        if i % 10 == 0:
            files.append(
                {
                    "SPDXID": f"SPDXRef-File-{i}",
                    "fileName": f"./dist/chunk-{i}.js",
                    "checksums": [{"algorithm": "SHA1", "checksumValue": f"{i:040x}"}],
                    "licenseConcluded": "NOASSERTION",
                    "copyrightText": "NOASSERTION",
                }
            )
            rels.append(
                {
                    "spdxElementId": "SPDXRef-Package-app",
                    "relationshipType": "CONTAINS",
                    "relatedSpdxElement": f"SPDXRef-File-{i}",
                }
            )
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "bench-app-1.0.0",
        "documentNamespace": "https://example.org/spdxdocs/bench-app-1.0.0",
        "creationInfo": {"created": "2026-01-05T10:00:00Z", "creators": ["Tool: bench"]},
        "documentDescribes": ["SPDXRef-Package-app"],
        "packages": packages,
        "files": files,
        "relationships": rels,
    }


def _doc_3(n: int) -> dict[str, Any]:
    base = "https://example.org/spdxdocs/bench-app-1.0.0-v3"
    app = f"{base}/app"
    graph: list[dict[str, Any]] = [
        {
            "@id": "_:ci",
            "type": "CreationInfo",
            "specVersion": "3.0.1",
            "created": "2026-01-05T10:00:00Z",
        },
        {
            "spdxId": f"{base}/doc",
            "type": "SpdxDocument",
            "creationInfo": "_:ci",
            "rootElement": [app],
        },
        {
            "spdxId": app,
            "type": "software_Package",
            "creationInfo": "_:ci",
            "name": "bench-app",
            "software_packageVersion": "1.0.0",
            "software_primaryPurpose": "application",
        },
    ]
    for j, text in enumerate(_LICENSES):
        graph.append(
            {
                "spdxId": f"{base}/license-{j}",
                "type": "simplelicensing_LicenseExpression",
                "creationInfo": "_:ci",
                "simplelicensing_licenseExpression": text,
            }
        )
    for i in range(1, n):
        ref = f"{base}/package-{i}"
        graph.append(
            {
                "spdxId": ref,
                "type": "software_Package",
                "creationInfo": "_:ci",
                "name": f"@bench/package-{i}",
                "software_packageVersion": f"{i % 7}.{i % 13}.{i % 5}",
                "software_packageUrl": _purl(i),
                "software_downloadLocation": f"https://registry.npmjs.org/@bench/package-{i}.tgz",
                "verifiedUsing": [{"type": "Hash", "algorithm": "sha1", "hashValue": f"{i:040x}"}],
            }
        )
        graph.append(
            _rel_3(
                f"{base}/rel-lic-{i}",
                "hasConcludedLicense",
                ref,
                f"{base}/license-{i % len(_LICENSES)}",
            )
        )
        graph.append(_rel_3(f"{base}/rel-app-{i}", "dependsOn", app, ref))
        if i > 1:
            graph.append(_rel_3(f"{base}/rel-dep-{i}", "dependsOn", ref, f"{base}/package-{i - 1}"))
    return {"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": graph}


def _rel_3(ref: str, rtype: str, source: str, target: str) -> dict[str, Any]:
    return {
        "spdxId": ref,
        "type": "Relationship",
        "creationInfo": "_:ci",
        "relationshipType": rtype,
        "from": source,
        "to": [target],
    }
