"""The importers read the benchmark's generated inputs into the same records as before.

Issue 15's speed work changed how the AWS, NetBox, SPDX (and, through shared helpers,
GLPI) adapters build their records, not what they build. The digests below are of what the
adapters made of a 2,000-resource input before that work: every record in order, dumped
(field order included), with the fields each marks set, its identifiers' and
placeholders' too, the problems and the stats. A change to any of them fails here; if the
change is meant, the digests are renewed by running this module as a script.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from discovery.records import DiscoveredCI, DiscoveredRel, Inventory, collect
from discovery.registry import reader

RESOURCES = 2000
DIGESTS = Path(__file__).resolve().parent / "fixtures" / "importer_outputs_2k.json"
FORMATS = ("aws", "netbox", "spdx", "glpi")


def _record(m: Any) -> dict[str, Any]:
    placeholders = [getattr(m, "source_placeholder", None), getattr(m, "target_placeholder", None)]
    return {
        "type": type(m).__name__,
        "dump": m.model_dump(mode="json"),
        "set": sorted(m.model_fields_set),
        "placeholders_set": [sorted(p.model_fields_set) if p else None for p in placeholders],
        "identifiers_set": [sorted(i.model_fields_set) for i in getattr(m, "identifiers", ())],
    }


def _digests(inv: Inventory, directory: Path) -> dict[str, str]:
    parts = {
        "cis": [_record(c) for c in inv.cis],
        "rels": [_record(r) for r in inv.rels],
        "problems": [p.model_dump(mode="json") for p in inv.problems],
        "stats": dict(sorted(inv.stats.items())),
    }
    out = {}
    for name, part in parts.items():
        # Where each record came from names the temporary directory: not part of the answer.
        text = json.dumps(part).replace(str(directory), "<dir>")
        out[name] = hashlib.sha256(text.encode()).hexdigest()
    return out


def _read(fmt: str, directory: Path) -> Inventory:
    gen = importlib.import_module(f"bench.importer_gen.{fmt}")
    return collect(fmt, reader(fmt)(gen.generate(RESOURCES, directory)))


@pytest.mark.parametrize("fmt", FORMATS)
def test_generated_input_reads_as_before(fmt: str, tmp_path: Path) -> None:
    inv = _read(fmt, tmp_path)
    assert _digests(inv, tmp_path) == json.loads(DIGESTS.read_text())[fmt]
    # Built without validation, every record still passes it.
    for ci in inv.cis:
        assert DiscoveredCI.model_validate(ci.model_dump()) == ci
    for rel in inv.rels:
        assert DiscoveredRel.model_validate(rel.model_dump()) == rel


if __name__ == "__main__":  # python tests/unit/discovery/test_importer_outputs.py
    import tempfile

    digests = {}
    for fmt in FORMATS:
        with tempfile.TemporaryDirectory() as d:
            digests[fmt] = _digests(_read(fmt, Path(d)), Path(d))
    DIGESTS.write_text(json.dumps(digests, indent=2) + "\n")
    print(json.dumps(digests, indent=2), file=sys.stderr)
