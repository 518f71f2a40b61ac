"""The pure domain: classes, relationship registry, identifiers, redundancy, SLAs, CI rules."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from pydantic import ValidationError

from cmdb.domain.classes import (
    ABSTRACT,
    ROOT,
    TECHNICAL,
    all_classes,
    check_class,
    concrete_classes,
    descendants,
    is_a,
    lineage,
)
from cmdb.domain.errors import (
    AmbiguousReference,
    CmdbError,
    ForbiddenRelationship,
    InvalidInput,
    NotFound,
)
from cmdb.domain.identifiers import UNIQUE_KINDS, Identifier, IdentifierKind, normalise
from cmdb.domain.model import (
    CI,
    CI_FIELDS,
    Redundancy,
    Relationship,
    relationship_id,
)
from cmdb.domain.records import Change
from cmdb.domain.relationships import (
    REGISTRY,
    ImpactFlow,
    check_allowed,
    get_type,
    parse_phrase,
)
from cmdb.domain.service import (
    SLA,
    CalendarException,
    ServiceCalendar,
    TimeRange,
    Weekday,
)

# -- class hierarchy -------------------------------------------------------------------------


def test_lineage_most_specific_first() -> None:
    assert lineage("Pod") == ("Pod", "Container", "Compute", ROOT)
    assert lineage("Database") == ("Database", "ApplicationInstance", ROOT)
    assert lineage(ROOT) == (ROOT,)
    for name in all_classes():
        assert lineage(name)[0] == name and lineage(name)[-1] == ROOT


def test_descendants_include_the_class_and_all_below() -> None:
    assert {"Compute", "Server", "VirtualMachine", "Container", "Pod"} <= descendants("Compute")
    assert {"Party", "Team", "Supplier", "Customer"} <= descendants("Party")
    assert "Application" not in descendants("Compute") and "Server" not in descendants("Party")
    assert descendants("Pod") == {"Pod"}
    assert descendants(ROOT) == set(all_classes())
    for name in all_classes():
        assert descendants(name) == {c for c in all_classes() if is_a(c, name)}


def test_unknown_class_is_refused_everywhere() -> None:
    for fn in (lineage, descendants, check_class):
        with pytest.raises(InvalidInput, match="unknown CI class"):
            fn("Mainframe")


def test_abstract_classes_are_refused_for_cis() -> None:
    for name in ABSTRACT:
        with pytest.raises(InvalidInput, match="abstract"):
            check_class(name)
        with pytest.raises(ValidationError, match="abstract"):
            CI.model_validate({"id": "ci_x", "class": name, "name": "x"})
    assert set(concrete_classes()) == set(all_classes()) - ABSTRACT
    assert check_class("Server") == "Server"


def test_is_a() -> None:
    assert is_a("Pod", "Compute") and is_a("Team", "Party")
    assert not is_a("Server", "Container") and not is_a("Compute", "Server")


def test_error_tree_and_where() -> None:
    err = InvalidInput("bad", where="ci_upserts[0].name")
    assert str(err) == "ci_upserts[0].name: bad" and err.message == "bad"
    assert str(NotFound("gone")) == "gone"
    assert issubclass(ForbiddenRelationship, InvalidInput)
    amb = AmbiguousReference("two match", ["a", "b"], where="ci")
    assert amb.candidates == ["a", "b"] and "a, b" in str(amb)
    assert all(issubclass(e, CmdbError) for e in (InvalidInput, NotFound, AmbiguousReference))


# -- relationship registry -------------------------------------------------------------------


def test_every_type_reads_both_ways() -> None:
    forwards = [t.forward for t in REGISTRY.values()]
    reverses = [t.reverse for t in REGISTRY.values()]
    assert len(set(forwards + reverses)) == 2 * len(REGISTRY)  # no phrase means two things
    for name, rtype in REGISTRY.items():
        assert rtype.name == name and rtype.forward and rtype.reverse
        assert rtype.forward != rtype.reverse
        assert isinstance(rtype.impact, ImpactFlow)
        assert rtype.allowed, name
        assert parse_phrase(rtype.forward) == (rtype, False)
        assert parse_phrase(rtype.reverse) == (rtype, True)
        assert parse_phrase(name) == (rtype, False)


def test_parse_phrase_spellings() -> None:
    depends = REGISTRY["DEPENDS_ON"]
    assert parse_phrase("used by") == (depends, True)
    assert parse_phrase("  Used_By ") == (depends, True)
    assert parse_phrase("depends-on") == (depends, False)
    assert parse_phrase("hosts") == (REGISTRY["HOSTED_ON"], True)
    with pytest.raises(InvalidInput, match="unknown relationship type"):
        parse_phrase("is friends with")


def test_get_type_spellings() -> None:
    for spelling in ("DEPENDS_ON", "depends_on", "depends on", "Depends-On"):
        assert get_type(spelling).name == "DEPENDS_ON"
    with pytest.raises(InvalidInput):
        get_type("LOVES")


@pytest.mark.parametrize(
    ("type_name", "source", "target"),
    [
        ("DEPENDS_ON", "Service", "Database"),
        ("RUNS_ON", "Pod", "VirtualMachine"),
        ("RUNS_ON", "ApplicationInstance", "Cluster"),
        ("HOSTED_ON", "VirtualMachine", "Server"),
        ("MEMBER_OF", "Server", "Cluster"),
        ("CONTAINS", "Location", "Location"),
        ("LOCATED_IN", "Server", "Location"),
        ("OWNED_BY", "Application", "Team"),
        ("SUPPLIED_BY", "CloudResource", "Supplier"),
        ("SERVES", "Service", "Customer"),
    ],
)
def test_allowed_pairs(type_name: str, source: str, target: str) -> None:
    assert check_allowed(type_name, source, target).name == type_name


@pytest.mark.parametrize(
    ("type_name", "source", "target"),
    [
        ("RUNS_ON", "Server", "ApplicationInstance"),
        ("HOSTED_ON", "Server", "VirtualMachine"),  # only onto Server/Cluster/...
        ("MEMBER_OF", "Server", "Server"),
        ("OWNED_BY", "Server", "Supplier"),
        ("SERVES", "Application", "Customer"),
        ("DEPENDS_ON", "Team", "Server"),
        ("CONTAINS", "Location", "Server"),
        ("LOCATED_IN", "Location", "Location"),
    ],
)
def test_forbidden_pairs_name_the_classes(type_name: str, source: str, target: str) -> None:
    with pytest.raises(ForbiddenRelationship) as err:
        check_allowed(type_name, source, target)
    msg = str(err.value)
    assert source in msg and target in msg and type_name in msg


def test_impact_semantics() -> None:
    assert REGISTRY["DEPENDS_ON"].impact is ImpactFlow.TARGET_TO_SOURCE
    assert REGISTRY["MEMBER_OF"].impact is ImpactFlow.SOURCE_TO_TARGET
    assert REGISTRY["MEMBER_OF"].redundancy_membership
    assert REGISTRY["OWNED_BY"].impact is ImpactFlow.NONE
    assert not REGISTRY["DEPENDS_ON"].redundancy_membership


def test_relationship_ids_are_deterministic() -> None:
    a = relationship_id("DEPENDS_ON", "ci_a", "ci_b")
    assert a == relationship_id("DEPENDS_ON", "ci_a", "ci_b")
    assert a != relationship_id("DEPENDS_ON", "ci_b", "ci_a")
    assert a != relationship_id("CONNECTS_TO", "ci_a", "ci_b")
    assert a.startswith("rel_")
    r = Relationship(id=a, type="depends on", source_id="ci_a", target_id="ci_b")
    assert r.type == "DEPENDS_ON" and r.active
    with pytest.raises(ValidationError):
        Relationship(id=a, type="NOPE", source_id="ci_a", target_id="ci_b")


# -- identifiers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    ["00:1A:2B:3C:4D:5E", "00-1a-2b-3c-4d-5e", "001a2b3c4d5e", " 00:1a:2b:3c:4d:5e "],
)
def test_mac_forms_normalise_to_one(spelling: str) -> None:
    assert Identifier(kind=IdentifierKind.MAC, value=spelling).value == "00:1a:2b:3c:4d:5e"


@pytest.mark.parametrize("bad", ["00:1a:2b:3c:4d", "zz:1a:2b:3c:4d:5e", "00:1a:2b:3c:4d:5e:6f"])
def test_bad_macs(bad: str) -> None:
    with pytest.raises(ValidationError, match="MAC"):
        Identifier(kind=IdentifierKind.MAC, value=bad)


def test_fqdn_and_hostname_case() -> None:
    assert Identifier(kind=IdentifierKind.FQDN, value="Web01.Example.COM.").value == (
        "web01.example.com"
    )
    assert Identifier(kind=IdentifierKind.HOSTNAME, value="WEB01").value == "web01"
    # Other kinds keep their case: serials are case-sensitive.
    assert Identifier(kind=IdentifierKind.SERIAL, value=" AbC-1 ").value == "AbC-1"


def test_ip_normalised_and_bad_ip_refused() -> None:
    assert Identifier(kind=IdentifierKind.IP, value="2001:DB8:0:0::1").value == "2001:db8::1"
    assert normalise(IdentifierKind.IP, "10.0.0.1") == "10.0.0.1"
    for bad in ("10.0.0.256", "web01", "1.2.3"):
        with pytest.raises(ValidationError, match="not an IP"):
            Identifier(kind=IdentifierKind.IP, value=bad)
    with pytest.raises(InvalidInput) as err:
        normalise(IdentifierKind.IP, "nope")
    assert err.value.where == "ip"


def test_empty_and_long_values() -> None:
    with pytest.raises(ValidationError, match="empty"):
        Identifier(kind=IdentifierKind.SERIAL, value="   ")
    with pytest.raises(ValidationError, match="1024"):
        Identifier(kind=IdentifierKind.SERIAL, value="x" * 1025)


def test_uniqueness_of_kinds() -> None:
    assert IdentifierKind.HOSTNAME not in UNIQUE_KINDS and IdentifierKind.IP not in UNIQUE_KINDS
    assert Identifier(kind=IdentifierKind.SERIAL, value="s").unique
    assert not Identifier(kind=IdentifierKind.HOSTNAME, value="h").unique


def test_identifier_parse() -> None:
    ident = Identifier.parse("FQDN=Web.Example.com")
    assert (ident.kind, ident.value, str(ident)) == (
        IdentifierKind.FQDN,
        "web.example.com",
        "fqdn=web.example.com",
    )
    with pytest.raises(InvalidInput, match="KIND=VALUE"):
        Identifier.parse("web01")
    with pytest.raises(InvalidInput, match="unknown identifier kind"):
        Identifier.parse("colour=blue")


# -- redundancy ------------------------------------------------------------------------------


def test_redundancy_by_count() -> None:
    assert Redundancy(min_up=2).required(5) == 2
    assert Redundancy(min_up=2).required(1) == 2  # more than exist: the cluster is down


@pytest.mark.parametrize(
    ("percent", "members", "needed"),
    [(50, 3, 2), (50, 4, 2), (100, 3, 3), (34, 3, 2), (33.4, 3, 2), (1, 10, 1), (10, 1, 1)],
)
def test_redundancy_percent_rounds_up(percent: float, members: int, needed: int) -> None:
    assert Redundancy(min_up_percent=percent).required(members) == needed


def test_redundancy_needs_exactly_one_rule() -> None:
    for bad in ({}, {"min_up": 1, "min_up_percent": 50}, {"min_up": 0}, {"min_up_percent": 0}):
        with pytest.raises(ValidationError):
            Redundancy.model_validate(bad)
    with pytest.raises(ValidationError):
        Redundancy(min_up_percent=101)


# -- SLAs and service calendars --------------------------------------------------------------


def test_calendar_time_zone_must_exist() -> None:
    assert ServiceCalendar(timezone="Europe/Paris").timezone == "Europe/Paris"
    with pytest.raises(ValidationError, match="unknown time zone"):
        ServiceCalendar(timezone="Mars/Olympus_Mons")
    with pytest.raises(ValidationError, match="unknown time zone"):
        SLA.model_validate(
            {"name": "gold", "availability_target": 99.9, "service_hours": {"timezone": "X/Y"}}
        )


def test_time_ranges_end_after_start() -> None:
    assert TimeRange(start=time(9), end=time(17)).end == time(17)
    assert TimeRange(start=time(18), end=time(0)).end == time(0)  # until midnight
    for start, end in ((time(17), time(9)), (time(9), time(9))):
        with pytest.raises(ValidationError, match="end after it starts"):
            TimeRange(start=start, end=end)
    with pytest.raises(ValidationError):
        CalendarException.model_validate(
            {"day": "2026-12-25", "hours": [{"start": "12:00", "end": "08:00"}]}
        )


def test_always_calendar_and_sla_defaults() -> None:
    cal = ServiceCalendar.always("UTC")
    assert set(cal.weekly) == set(Weekday)
    assert all(r == [TimeRange(start=time(0), end=time(0))] for r in cal.weekly.values())
    sla = SLA(name="gold", availability_target=99.5)
    assert sla.service_hours.weekly == cal.weekly
    with pytest.raises(ValidationError):
        SLA(name="x", availability_target=100.5)


def test_change_window_order() -> None:
    t = datetime(2026, 3, 1, 22, tzinfo=UTC)
    with pytest.raises(ValidationError, match="planned_end"):
        Change(id="RFC-1", title="t", planned_start=t, planned_end=t)


# -- CI rules --------------------------------------------------------------------------------


def test_redundancy_only_on_a_cluster() -> None:
    ok = CI.model_validate(
        {"id": "c", "class": "Cluster", "name": "c", "redundancy": {"min_up": 1}}
    )
    assert ok.redundancy == Redundancy(min_up=1)
    with pytest.raises(ValidationError, match="only a Cluster"):
        CI.model_validate({"id": "s", "class": "Server", "name": "s", "redundancy": {"min_up": 1}})


def test_service_details_only_on_a_service() -> None:
    svc = CI.model_validate({"id": "s", "class": "Service", "name": "shop"})
    assert svc.service is not None and svc.service.sla is None  # defaulted
    with pytest.raises(ValidationError, match="Service CIs only"):
        CI.model_validate({"id": "x", "class": "Server", "name": "x", "service": {}})


def test_ci_identifiers_deduplicated_and_sorted() -> None:
    ci = CI.model_validate(
        {
            "id": "ci_1",
            "class": "Server",
            "name": "s",
            "identifiers": [
                {"kind": "serial", "value": "B"},
                {"kind": "fqdn", "value": "A.example.com"},
                {"kind": "serial", "value": "B"},
                {"kind": "fqdn", "value": "a.example.com."},
            ],
        }
    )
    assert [str(i) for i in ci.identifiers] == ["fqdn=a.example.com", "serial=B"]
    assert ci.identifier("serial") == "B" and ci.identifier("mac") is None


def test_ci_field_values_are_the_user_fields() -> None:
    ci = CI.model_validate({"id": "ci_1", "class": "Server", "name": "s", "owner": "ops"})
    values = ci.field_values()
    assert list(values) == list(CI_FIELDS)
    assert values["ci_class"] == "Server" and values["owner"] == "ops"
    assert "id" not in values and "sources" not in values
    assert ci.label() == "s (Server, ci_1)"


def test_ci_name_bounds_and_extra_fields() -> None:
    with pytest.raises(ValidationError):
        CI.model_validate({"id": "ci_1", "class": "Server", "name": ""})
    with pytest.raises(ValidationError):
        CI.model_validate({"id": "ci_1", "class": "Server", "name": "s", "colour": "red"})


def test_technical_classes_exist() -> None:
    assert set(TECHNICAL) <= set(all_classes())
