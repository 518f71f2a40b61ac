"""Generic JSON and CSV import: good files, each kind of error at its place, and round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import IdentifierKind
from discovery.adapters.csv import read as read_csv
from discovery.adapters.json import dump_json, to_document
from discovery.adapters.json import read as read_json
from discovery.records import DiscoveredCI, DiscoveredRel, Inventory, Severity, collect
from discovery.schema import ImportDocument, ImportRel, format_loc

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOOD_JSON = FIXTURES / "generic_good.json"
CIS_CSV = FIXTURES / "generic_cis.csv"
RELS_CSV = FIXTURES / "generic_rels.csv"


def _plain(inv: Inventory) -> tuple[list[DiscoveredCI], list[DiscoveredRel]]:
    """The records without ``where``, which names the file they came from."""
    cis = [c.model_copy(update={"where": None}) for c in inv.cis]
    rels = [r.model_copy(update={"where": None}) for r in inv.rels]
    return cis, rels


def _where(inv: Inventory) -> dict[str, str]:
    """Problems by their place, the file path cut to its name."""
    return {p.where.rsplit("/", 1)[-1]: p.message for p in inv.problems}


@pytest.fixture(scope="module")
def good() -> Inventory:
    return collect("json", read_json([GOOD_JSON]))


def test_good_json(good: Inventory) -> None:
    assert good.problems == []
    assert [c.key for c in good.cis] == ["web-01", "shop", "shop-db", "ops"]
    web = good.ci("web-01")
    assert web.ci_class == "Server"
    # Identifiers are normalised by the domain rules (fqdn lower case, trailing dot gone).
    assert [(i.kind, i.value) for i in web.identifiers] == [
        (IdentifierKind.SERIAL, "SN-1001"),
        (IdentifierKind.FQDN, "web-01.example.com"),
        (IdentifierKind.IP, "10.0.0.11"),
        (IdentifierKind.IP, "10.0.0.12"),
    ]
    assert web.fields == {"status": "live", "environment": "prod", "criticality": "high"}
    assert web.attributes == {"rack": "A3"}
    # The list form of identifiers reads the same as the map form.
    assert [(i.kind, i.value) for i in good.ci("shop").identifiers] == [
        (IdentifierKind.KEY, "app:shop")
    ]
    assert good.ci("shop").fields == {"description": "The web shop", "version": "4.2"}


def test_relationship_types_by_name_and_phrase(good: Inventory) -> None:
    rels = {(r.source, r.type, r.target): r for r in good.rels}
    assert set(rels) == {
        ("shop", "DEPENDS_ON", "shop-db"),
        ("shop-db", "HOSTED_ON", "web-01"),
        # "ops owns shop" is the reverse phrase of OWNED_BY: the ends swap.
        ("shop", "OWNED_BY", "ops"),
    }
    assert rels[("shop-db", "HOSTED_ON", "web-01")].confidence == 0.8
    assert rels[("shop", "OWNED_BY", "ops")].attributes == {"since": "2023"}


def test_csv_reads_to_the_same_records_as_json(good: Inventory) -> None:
    # The relationships file is given first: it is still read after the CIs file.
    csv_inv = collect("csv", read_csv([RELS_CSV, CIS_CSV]))
    assert csv_inv.problems == []
    assert _plain(csv_inv) == _plain(good)
    assert str(csv_inv.ci("web-01").where).endswith("generic_cis.csv:2")


def test_json_round_trip_through_records(good: Inventory, tmp_path: Path) -> None:
    cis, rels = _plain(good)
    text = dump_json(to_document(cis, rels))
    path = tmp_path / "again.json"
    path.write_text(text, encoding="utf-8")
    again = collect("json", read_json([path]))
    assert again.problems == []
    assert _plain(again) == (cis, rels)
    # And the written document is itself stable.
    assert dump_json(ImportDocument.model_validate(json.loads(text))) == text


def test_a_relationship_may_name_a_ci_of_another_file(tmp_path: Path) -> None:
    a = tmp_path / "a.json"
    b = tmp_path / "b.json"
    a.write_text(json.dumps({"version": 1, "cis": [{"key": "x", "class": "Server", "name": "x"}]}))
    b.write_text(
        json.dumps(
            {
                "version": 1,
                "cis": [{"key": "y", "class": "ApplicationInstance", "name": "y"}],
                "relationships": [{"source": "y", "type": "runs on", "target": "x"}],
            }
        )
    )
    # b.json is read first; its relationship is checked once a.json has been read too.
    inv = collect("json", read_json([b, a]))
    assert inv.problems == []
    assert [(r.source, r.type, r.target) for r in inv.rels] == [("y", "RUNS_ON", "x")]


@pytest.fixture(scope="module")
def bad_json() -> Inventory:
    return collect("json", read_json([FIXTURES / "generic_bad.json"]))


def test_json_errors_name_their_json_path(bad_json: Inventory) -> None:
    where = _where(bad_json)
    assert "unknown CI class 'Mainframe'" in where["generic_bad.json:cis[1].class"]
    assert "'not-a-mac' is not a MAC address" in where["generic_bad.json:cis[2].identifiers.mac"]
    assert "unknown identifier kind 'colour'" in where["generic_bad.json:cis[2].identifiers.colour"]
    assert "'live'" in where["generic_bad.json:cis[3].status"]
    assert "already defined at" in where["generic_bad.json:cis[4].key"]
    assert "unknown relationship type 'likes'" in where["generic_bad.json:relationships[1].type"]
    assert "less than or equal to 1" in where["generic_bad.json:relationships[3].confidence"]


def test_bad_entries_do_not_stop_the_rest(bad_json: Inventory) -> None:
    assert [c.key for c in bad_json.cis] == ["a", "e"]
    assert bad_json.ci("a").name == "a"  # the duplicate key did not overwrite it
    assert all(p.severity is Severity.ERROR for p in bad_json.problems)


def test_relationship_checks_after_reading(bad_json: Inventory) -> None:
    where = _where(bad_json)
    # A key no file defines is a Problem (no placeholder: the import names its own CIs).
    assert where["generic_bad.json:relationships[2].target"] == (
        "no CI with key 'nowhere' in the input"
    )
    # A Server cannot depend on a Team: refused by the registry, said at the type.
    assert "DEPENDS_ON" in where["generic_bad.json:relationships[0].type"]
    # "e used by a" is "a depends on e" read backwards: refused for the same reason.
    assert "DEPENDS_ON" in where["generic_bad.json:relationships[4].type"]
    assert bad_json.rels == []
    assert len(bad_json.problems) == 10


@pytest.mark.parametrize(
    ("document", "where", "message"),
    [
        ({"version": 2, "cis": []}, "version", "Input should be 1"),
        ({"cis": []}, "version", "Field required"),
        ({"version": 1, "cis": {"key": "a"}}, "cis", "valid list"),
        ({"version": 1, "things": []}, "things", "unknown field 'things'"),
        ([1, 2], None, "JSON object"),
    ],
)
def test_a_bad_envelope_refuses_the_file(
    tmp_path: Path, document: object, where: str | None, message: str
) -> None:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InvalidInput, match=message) as err:
        list(read_json([path]))
    assert err.value.where == (f"{path}:{where}" if where else str(path))


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"version": 1,\n "cis": [,]}')
    with pytest.raises(InvalidInput, match="invalid JSON") as err:
        list(read_json([path]))
    assert err.value.where is not None and err.value.where.startswith(f"{path}:2:")


@pytest.fixture(scope="module")
def bad_csv() -> Inventory:
    paths = [FIXTURES / "generic_bad_cis.csv", FIXTURES / "generic_bad_rels.csv"]
    return collect("csv", read_csv(paths))


def test_csv_errors_name_file_line_and_column(bad_csv: Inventory) -> None:
    expected = {
        "generic_bad_cis.csv:3:class": "unknown CI class 'Mainframe'",
        "generic_bad_cis.csv:4:mac": "'zz:zz' is not a MAC address",
        "generic_bad_cis.csv:5:name": "Field required",
        "generic_bad_cis.csv:6:criticality": "Input should be 'low'",
        "generic_bad_cis.csv:7:key": "already defined at",
        "generic_bad_rels.csv:3:type": "unknown relationship type 'admires'",
        "generic_bad_rels.csv:4:confidence": "valid number",
        "generic_bad_rels.csv:2:target": "no CI with key 'ghost' in the input",
    }
    got = _where(bad_csv)
    assert set(got) == set(expected)
    for where, message in expected.items():
        assert message in got[where], where
    assert [c.key for c in bad_csv.cis] == ["x1"]
    assert bad_csv.ci("x1").attributes == {"note": "fine"}


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("key,class,name,colour\nx,Server,x,red\n", "1:colour", "unknown column 'colour'"),
        ("key,class\nx,Server\n", "1", "missing column"),
        ("key,class,name,owner,owner\n", "1:owner", "appears twice"),
        ("", "1", "empty CSV"),
        ("source,type,target,weight\n", "1:weight", "unknown column 'weight'"),
    ],
)
def test_a_bad_csv_header_refuses_the_file(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(text)
    with pytest.raises(InvalidInput, match=message) as err:
        list(read_csv([path]))
    assert err.value.where == f"{path}:{where}"


def test_csv_rows_quoting_blank_lines_and_extra_cells(tmp_path: Path) -> None:
    path = tmp_path / "cis.csv"
    path.write_text(
        "key,class,name,description,id.ip\n"
        'a,Server,a,"two\nlines",10.0.0.1\n'
        "\n"
        "b,Server,b,,,surplus\n"
        "c,Server,c,,10.0.0.3\n"
    )
    inv = collect("csv", read_csv([path]))
    assert inv.ci("a").fields["description"] == "two\nlines"
    assert str(inv.ci("c").where).endswith("cis.csv:6")
    assert _where(inv) == {"cis.csv:5": "6 cells but the header has 5 columns"}


def test_the_csv_key_identifier_is_written_id_key(tmp_path: Path) -> None:
    path = tmp_path / "cis.csv"
    path.write_text("key,class,name,id.key,id.ip,ip\nk,Server,s,srv:1,10.0.0.1,10.0.0.2\n")
    ci = collect("csv", read_csv([path])).ci("k")
    assert [(i.kind.value, i.value) for i in ci.identifiers] == [
        ("ip", "10.0.0.1"),
        ("ip", "10.0.0.2"),
        ("key", "srv:1"),
    ]


def test_import_rel_reverse_phrase_swaps_ends() -> None:
    rel = ImportRel.model_validate({"source": "db", "type": "Used By", "target": "app"})
    assert rel.resolved() == ("DEPENDS_ON", "app", "db")
    rel = ImportRel.model_validate({"source": "app", "type": "depends-on", "target": "db"})
    assert rel.resolved() == ("DEPENDS_ON", "app", "db")


def test_the_document_model_refuses_duplicate_keys() -> None:
    doc = {
        "version": 1,
        "cis": [{"key": "a", "class": "Server", "name": "a"}] * 2,
    }
    with pytest.raises(ValueError, match=r"cis\[1\]\.key"):
        ImportDocument.model_validate(doc)


def test_format_loc() -> None:
    assert format_loc(("cis", 3, "class")) == "cis[3].class"
    assert format_loc(("relationships", 0)) == "relationships[0]"
    assert format_loc(()) == ""
