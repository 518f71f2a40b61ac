"""Fuzz one discovery adapter: ``python fuzz/fuzz_adapters.py FORMAT [libFuzzer flags]``.

Mutated bytes go to the adapter the way ``cmdb discover`` and the push service feed it: as a
file with the format's usual suffix, read by ``registry.reader(FORMAT)`` and gathered by
``collect``, and the inventory is then serialised as the push service and the digest do.
The one declared failure is ``InvalidInput``, and it must name the file; anything else
escaping is a crash that libFuzzer reports (and saves under ``-artifact_prefix``).

The seed corpus is the format's hand-written fixtures in tests/unit/discovery/fixtures,
copied to a scratch folder (libFuzzer writes new inputs into its first corpus folder, and
the fixtures are not its to change) under $TMPDIR. Give folders after the flags to use those
instead.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["discovery", "cmdb.domain", "yaml"]):
    import importlib

    from cmdb.domain.errors import InvalidInput
    from discovery.reconcile.digest import record_digest
    from discovery.reconcile.service import SUFFIX
    from discovery.records import collect
    from discovery.registry import FORMATS, reader

    # The registry imports adapters on demand: import them here so they are instrumented.
    for _module in sorted(set(FORMATS.values())):
        importlib.import_module(_module)

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "unit" / "discovery" / "fixtures"
# Fixture names per format: file name prefix and suffixes.
SEEDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "k8s": ("k8s_", (".yaml", ".json")),
    "compose": ("compose_", (".yaml",)),
    "backstage": ("backstage_", (".yaml",)),
    "terraform": ("tf_", (".tfstate",)),
    "nmap": ("nmap_", (".xml",)),
    "ansible": ("ansible_", (".json",)),
    "cyclonedx": ("sbom_", (".json",)),
    "spdx": ("spdx", (".json",)),  # spdx_*.json (2.3) and spdx3_*.json (3.0)
    "glpi": ("glpi_", (".json",)),
    "csv": ("generic_", (".csv",)),
    "json": ("generic_", (".json",)),
    "netbox": ("netbox", (".json",)),
    "aws": ("aws_", (".json",)),
}


def seeds(fmt: str) -> list[Path]:
    prefix, suffixes = SEEDS[fmt]
    return sorted(
        p for p in FIXTURES.iterdir() if p.name.startswith(prefix) and p.suffix in suffixes
    )


def check_one(fmt: str, path: Path, data: bytes) -> None:
    """Run the adapter over ``data``; raise anything but a well-formed InvalidInput."""
    path.write_bytes(data)
    try:
        inventory = collect(fmt, reader(fmt)([path]))
    except InvalidInput as exc:
        if str(path) not in str(exc):
            raise AssertionError(f"InvalidInput does not name the file: {exc}") from exc
        return
    inventory.model_dump_json()  # what the push service does with every inventory
    for ci in inventory.cis:
        record_digest(ci, inventory.rels)


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in FORMATS:
        sys.exit(f"usage: {argv[0]} FORMAT [libFuzzer flags] [corpus dirs]; FORMAT: {FORMATS}")
    fmt = argv[1]
    scratch = Path(tempfile.mkdtemp(prefix=f"fuzz-{fmt}-"))
    target = scratch / f"inventory{SUFFIX[fmt]}"
    args = [argv[0], *argv[2:]]
    if not any(not a.startswith("-") for a in argv[2:]):
        corpus = scratch / "corpus"
        corpus.mkdir()
        for seed in seeds(fmt):
            shutil.copy(seed, corpus / seed.name)
        args.append(str(corpus))

    def one_input(data: bytes) -> None:
        check_one(fmt, target, data)

    atheris.Setup(args, one_input)
    atheris.Fuzz()  # libFuzzer exits the process: the scratch folder lives under $TMPDIR


if __name__ == "__main__":
    main(sys.argv)
