"""The reports in GraphQL on both stores: the same numbers as ``/api/v1/reports/...`` for
the same estate and the same token (a service-scoped one included: trimmed alike), the
same refusals, and the cost limit sizing a report's lists by its ``limit``."""

from __future__ import annotations

from typing import Any

from cmdb.auth.roles import Role
from cmdb.server.app import API_PREFIX
from cmdb.store.refs import resolve_ci
from tests.api.conftest import Api
from tests.api.test_changes_api import APP_API, BOOKING, NIGHT, call, rfc
from tests.api.test_graphql import data, error_of, gql
from tests.api.test_incidents_api import OPENED, iso

COUNT = "{ key name count }"
# Every count of each report (instants and ages are left out: each shell reads the clock
# at its own moment).
GAP = (
    "service { id name ciClass } sla agreement { kind name party } ci { id name ciClass }"
    " path { ciIds names phrases text }"
    " gaps { target priority unit slaValue agreementValue text }"
)
QUERY = f"""query($from: DateTime, $to: DateTime) {{
  changeReport(from: $from, to: $to) {{
    total byState {COUNT} byType {COUNT} byPriority {COUNT} byCi {COUNT} byService {COUNT}
    rejected emergency failed reviewed failedRate reviewRequired
    backlog {{ open byState {COUNT} byAge {COUNT} oldest {{ id title state type }} }}
  }}
  incidentReport(from: $from, to: $to) {{
    total open major outages byState {COUNT} byPriority {COUNT} byService {COUNT}
    byCi {COUNT} clocks breachedIncidents
    breaches {{ incidentId title priority serviceId service sla target targetMinutes running }}
  }}
  problemReport(from: $from, to: $to) {{
    total open knownErrors incidentsExplained byState {COUNT} byCategory {COUNT}
    byCi {COUNT} byService {COUNT} oldestOpen {{ id title state knownError incidents }}
  }}
  ciReport(from: $from, to: $to) {{
    total byClass {COUNT} byStatus {COUNT} byLocation {COUNT} byOwner {COUNT}
    byEnvironment {COUNT} mostChanged {{ key name writes fields }} mostIncidents {COUNT}
  }}
  cmdbHealth {{
    total retired complete completenessPercent
    byClass {{ ciClass required total complete percent missing {{ field missing }} }}
    incompleteTotal incomplete {{ id name ciClass missing }}
    staleTotal stale {{ id staleSources allStale }}
    orphansTotal orphans {{ id status }}
    duplicateGroups duplicates {{ reason key cis {{ id name ciClass }} }}
    agreementGapsTotal agreementGaps {{ service {{ name }} agreement {{ name }} gaps {{ text }} }}
    limit
  }}
}}"""
AGENDA = (
    """query($from: DateTime, $to: DateTime) {
  cabAgenda(from: $from, to: $to) {
    decide { ...Item } scheduled { ...Item } review { ...Item }
  }
}
fragment Item on AgendaItem {
  section id title type state priority requester riskClass approval rule score why
  recordedRisk services { id name kind severity }
  collisions { a b kind subjects detail } violations { changeId kind serviceId service }
  agreementGaps { """
    + GAP
    + """ }
}"""
)
REST = {
    "changeReport": "changes",
    "incidentReport": "incidents",
    "problemReport": "problems",
    "ciReport": "cis",
    "cmdbHealth": "health",
    "cabAgenda": "cab-agenda",
}


def camelized(value: Any) -> Any:
    """REST's JSON with GraphQL's field names (``by_ci`` -> ``byCi``)."""
    if isinstance(value, dict):
        return {_camel(k): camelized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camelized(v) for v in value]
    return value


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(w.capitalize() for w in rest)


def same(got: Any, want: Any, where: str = "") -> None:
    """Every field GraphQL answered equals REST's, field by field (``where`` says which)."""
    if isinstance(got, dict):
        assert isinstance(want, dict), where
        for key, value in got.items():
            same(value, want[key], f"{where}.{key}")
    elif isinstance(got, list):
        assert isinstance(want, list) and len(got) == len(want), (where, got, want)
        for n, (g, w) in enumerate(zip(got, want, strict=True)):
            same(g, w, f"{where}[{n}]")
    else:
        assert got == want, (where, got, want)


def estate(api: Api) -> None:
    """Changes, incidents and problems half inside Boarding Pass App API's scope, half
    outside."""
    rfc(api, "RFC-MIX", "vm-app-01", "booking-web-1", title="patch the app tier")
    rfc(api, "RFC-OUT", "booking-web-1", title="patch the booking web tier")
    rfc(api, "RFC-IN", "vm-app-03", window=None, type="emergency", priority="high")
    assert call(api, "POST", "/RFC-MIX/assess").status_code == 200
    assert call(api, "POST", "/RFC-OUT/assess").status_code == 200
    cm = api.as_role(Role.CHANGE_MANAGER)
    for inc_id, ci in (("INC-MIX", "srv-01"), ("INC-OUT", "booking-web-1")):
        body = {"id": inc_id, "title": "disk errors", "cis": [ci], "opened_at": iso(OPENED)}
        r = api.client.post(f"{API_PREFIX}/incidents", json=body, headers=cm)
        assert r.status_code == 201, r.text
    mutation = "mutation($p: ProblemInput!) { logProblem(input: $p) { id } }"
    for problem in (
        {"id": "PRB-MIX", "title": "disk errors", "cis": ["srv-01"], "incidents": ["INC-MIX"]},
        {"id": "PRB-OUT", "title": "502s", "cis": ["booking-web-1"], "category": "software"},
        {"id": "PRB-IN", "title": "push", "cis": ["mobile-gateway-1"], "workaround": "retry"},
    ):
        data(api, mutation, {"p": problem}, role=Role.CHANGE_MANAGER)


def compare(api: Api, headers: dict[str, str], query: str, params: dict[str, str]) -> Any:
    """The query's reports from GraphQL and from REST with the same token; equal."""
    got = data(api, query, params, headers=headers)
    rest_params = {k: v for k, v in params.items() if v is not None}
    for field, answer in got.items():
        r = api.client.get(
            f"{API_PREFIX}/reports/{REST[field]}", params=rest_params, headers=headers
        )
        assert r.status_code == 200, r.text
        same(answer, camelized(r.json()), field)
    return got


def test_the_reports_answer_what_rest_answers(api: Api) -> None:
    estate(api)
    viewer = api.as_role(Role.VIEWER)
    got = compare(api, viewer, QUERY, {})
    assert got["changeReport"]["total"] == 3 and got["changeReport"]["emergency"] == 1
    assert got["changeReport"]["backlog"]["open"] == 3
    assert got["incidentReport"]["total"] == 2 and got["incidentReport"]["breaches"]
    problems = got["problemReport"]
    assert (problems["total"], problems["knownErrors"], problems["incidentsExplained"]) == (3, 1, 1)
    assert got["ciReport"]["total"] == 47
    assert got["cmdbHealth"]["incompleteTotal"] == 2 and got["cmdbHealth"]["orphansTotal"] == 0
    # A period counts what began in it, as REST does.
    period = {"from": iso(OPENED), "to": "2026-11-25T00:00:00Z"}
    assert compare(api, viewer, QUERY, period)["incidentReport"]["total"] == 2
    agenda = compare(api, viewer, AGENDA, {"from": NIGHT[0], "to": NIGHT[1]})["cabAgenda"]
    assert [i["id"] for i in agenda["decide"]] == ["RFC-MIX", "RFC-OUT"]
    assert agenda["decide"][0]["why"] and agenda["decide"][0]["services"]
    # The planted supplier contract: in the health report, and on the agenda of a change
    # under the service it fails to hold up.
    tidewire = [
        (f["service"]["name"], g["text"])
        for f in got["cmdbHealth"]["agreementGaps"]
        if f["agreement"]["name"] == "Tidewire bulk messaging contract"
        for g in f["gaps"]
    ]
    assert (BOOKING, "P1 resolution 480 min vs 240 min") in tidewire
    assert got["cmdbHealth"]["agreementGapsTotal"] == len(got["cmdbHealth"]["agreementGaps"])
    gaps = {
        (f["service"]["name"], f["agreement"]["name"]) for f in agenda["decide"][0]["agreementGaps"]
    }
    assert (BOOKING, "Tidewire bulk messaging contract") in gaps


def test_a_scoped_token_gets_its_reports_trimmed_as_rest_trims_them(api: Api) -> None:
    estate(api)
    scope = resolve_ci(api.store, APP_API).id
    scoped = api.token_for(Role.VIEWER, services=(scope,), name="scoped")
    got = compare(api, scoped, QUERY, {})
    assert got["changeReport"]["total"] == 2  # RFC-MIX (one CI in view) and RFC-IN
    assert [c["name"] for c in got["ciReport"]["mostIncidents"]] == ["srv-01"]
    assert got["incidentReport"]["total"] == 1
    assert [p["id"] for p in got["problemReport"]["oldestOpen"]] == ["PRB-MIX", "PRB-IN"]
    assert 2 < got["ciReport"]["total"] < 47
    assert got["cmdbHealth"]["total"] == got["ciReport"]["total"]
    agenda = compare(api, scoped, AGENDA, {"from": NIGHT[0], "to": NIGHT[1]})["cabAgenda"]
    assert [i["id"] for i in agenda["decide"]] == ["RFC-MIX"]
    assert agenda["decide"][0]["why"] == ""
    # Its own service's agreement gaps only.
    assert {f["service"]["name"] for f in got["cmdbHealth"]["agreementGaps"]} == {APP_API}
    assert {f["service"]["name"] for f in agenda["decide"][0]["agreementGaps"]} == {APP_API}
    # Nothing outside the view shows.
    text = str(data(api, QUERY, headers=scoped)) + str(agenda)
    outside = resolve_ci(api.store, "booking-web-1").id
    booking = resolve_ci(api.store, BOOKING).id
    for hidden in (outside, "booking-web-1", booking, BOOKING, "RFC-OUT", "INC-OUT", "PRB-OUT"):
        assert hidden not in text, hidden


BACKWARDS = 'from: "2026-12-02T00:00:00Z", to: "2026-12-01T00:00:00Z"'
BAD = [
    (f"{{ changeReport({BACKWARDS}) {{ total }} }}", "to"),
    ("{ ciReport(top: 0) { total } }", "top"),
    ("{ incidentReport(top: 1001) { total } }", "top"),
    ("{ cmdbHealth(limit: 0) { total } }", "limit"),
    ("{ cabAgenda(days: 367) { start } }", "days"),
    (f"{{ cabAgenda({BACKWARDS}) {{ start }} }}", "to"),
]


def test_bad_arguments_are_refused_naming_the_argument(api_embedded: Api) -> None:
    for query, where in BAD:
        err = error_of(gql(api_embedded, query, role=Role.VIEWER))
        assert err["extensions"]["code"] == "INVALID_INPUT", err
        assert err["extensions"]["where"] == where, err


def test_the_cost_limit_sizes_a_reports_lists_by_its_limit(api_embedded: Api) -> None:
    api = api_embedded
    lists = """incomplete { id name ciClass missing } stale { id name staleSources }
      orphans { id name status } duplicates { key cis { id name } }"""
    # The default limit (1000 rows per finding) fits the default cost limit...
    assert data(api, f"{{ cmdbHealth {{ total {lists} }} }}")["cmdbHealth"]["total"] > 0
    # ... ten thousand rows per finding does not.
    err = error_of(gql(api, f"{{ cmdbHealth(limit: 10000) {{ total {lists} }} }}"))
    assert err["extensions"]["code"] == "QUERY_TOO_COSTLY", err
