"""The problems beside an incident (cmdb.app.problems.for_incident), as a service-scoped
caller sees them: no shell asks it with a scope yet (``cmdb incident show`` sees
everything), so the rule is held here, on both stores."""

from __future__ import annotations

from cmdb.app import problems
from cmdb.app.scope import Visibility
from cmdb.auth.roles import Role
from cmdb.auth.tokens import Principal
from cmdb.domain.records import Incident
from cmdb.practice.incidents import save as save_incidents
from cmdb.practice.problems import log_problem
from cmdb.store.contract import GraphStore
from cmdb.store.refs import resolve_ci
from tests.fakes import FakeClock

APP_API, BOOKING = "Boarding Pass App API", "Online Ferry Booking"


def test_beside_an_incident_a_scoped_caller_sees_only_what_it_reads(
    sample_store: GraphStore, sample_clock: FakeClock
) -> None:
    store, clock = sample_store, sample_clock
    gateway, web = resolve_ci(store, "mobile-gateway-1"), resolve_ci(store, "booking-web-1")
    app_api, booking = resolve_ci(store, APP_API).id, resolve_ci(store, BOOKING).id
    inc = Incident(
        id="INC-1",
        title="gateway and web down",
        ci_ids=[gateway.id, web.id],
        service_ids=[app_api, booking],
        opened_at=clock(),
    )
    save_incidents(store, [inc], actor="sd")
    # Linked to the incident, with a workaround: on the app API's gateway (in view).
    log_problem(
        store, problem_id="PRB-IN", title="push tokens expire", cis=[gateway], actor="pm",
        now=clock(), incident_ids=["INC-1"], workaround="restart the gateway",
    )  # fmt: skip
    # A known error on the booking web server: it names nothing in the app API's view.
    log_problem(
        store, problem_id="PRB-OUT", title="502s", cis=[web], actor="pm", now=clock(),
        workaround="drain the node",
    )  # fmt: skip

    everything = problems.for_incident(store, Visibility(), inc)
    assert [p.id for p in everything.problems] == ["PRB-IN"]
    assert [p.id for p in everything.known_errors] == ["PRB-IN", "PRB-OUT"]

    vis = Visibility.for_principal(store, Principal("scoped", Role.VIEWER, services=(app_api,)))
    scoped = problems.for_incident(store, vis, inc)
    assert [p.id for p in scoped.problems] == ["PRB-IN"]
    assert [p.id for p in scoped.known_errors] == ["PRB-IN"]  # PRB-OUT is not read
    # Shown with only the ids in view: the booking service (from the incident) is hidden.
    assert booking in everything.problems[0].service_ids
    assert scoped.problems[0].service_ids == [app_api]
