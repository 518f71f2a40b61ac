"""What the security tests share: the routes read from the app itself, the sample estate's
objects inside and outside a scoped token's view, request bodies built from the OpenAPI
schema, a snapshot of everything a request could change, and a client that remembers
every response so none may carry a credential.

Nothing here lists routes by hand: a route someone adds is in the matrix at once.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from cmdb.app.scope import Visibility
from cmdb.auth.roles import GRANTS, Permission, Role
from cmdb.auth.tokens import Principal, TokenStore
from cmdb.config import Settings
from cmdb.domain.changeset import ChangeSet
from cmdb.domain.events import WebhookRule
from cmdb.domain.proposals import Edit, EditOp, Proposal
from cmdb.domain.records import Change, Incident, Problem
from cmdb.server.app import API_PREFIX, create_app
from tests.api.conftest import Api, make_api

# Open by design: load balancers carry no token.
PUBLIC = frozenset(
    f"{API_PREFIX}{path}" for path in ("/health", "/ready", "/health/live", "/health/ready")
)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Fields only the server sets; a client sending one gets 422.
SERVER_OWNED = ("id", "created_by", "created_at", "updated_at", "sources", "source_priority")
SCOPE_SERVICE = "Boarding Pass App API"
NO_LIMIT = 1_000_000  # requests per minute: the matrix is not about the rate limit


@dataclass(frozen=True)
class RouteCase:
    method: str
    path: str  # with the prefix and plain {params}, e.g. /api/v1/cis/{ref}
    permissions: frozenset[Permission]
    path_params: tuple[str, ...]
    required_query: tuple[str, ...]
    operation_id: str | None

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def public(self) -> bool:
        return self.path in PUBLIC

    def granted(self, role: Role) -> bool:
        return self.permissions <= GRANTS[role]

    @property
    def read(self) -> bool:
        return self.permissions <= {Permission.READ}


def _permissions(dependant: Any) -> set[Permission]:
    found: set[Permission] = set()
    stack = [dependant]
    while stack:
        dep = stack.pop()
        perm = getattr(dep.call, "permission", None)
        if isinstance(perm, Permission):
            found.add(perm)
        stack.extend(dep.dependencies)
    return found


def route_cases(app: FastAPI) -> list[RouteCase]:
    """Every (method, path) of every APIRoute under the API prefix, with the permissions
    its dependency tree checks (router-level dependencies included)."""
    cases: list[RouteCase] = []
    for rc in iter_route_contexts(app.routes):
        route = rc.original_route
        if not isinstance(route, APIRoute):
            continue
        path = str(rc.path_format or route.path_format)
        if not path.startswith(API_PREFIX + "/"):
            continue
        dependant = getattr(rc, "dependant", None) or route.dependant
        required = tuple(
            q.field_info.alias or q.name
            for q in dependant.query_params
            if q.field_info.is_required()
        )
        for method in sorted((route.methods or set()) - {"HEAD"}):
            cases.append(
                RouteCase(
                    method=method,
                    path=path,
                    permissions=frozenset(_permissions(dependant)),
                    path_params=tuple(p.name for p in dependant.path_params),
                    required_query=required,
                    operation_id=route.operation_id,
                )
            )
    return cases


def _build_cases() -> tuple[list[RouteCase], dict[str, Any]]:
    with tempfile.TemporaryDirectory() as d:
        settings = Settings(db_path=Path(d) / "unused.db", tokens_path=Path(d) / "tokens.db")
        app = create_app(settings, tokens=TokenStore(settings.tokens_path))
        return route_cases(app), app.openapi()


ROUTES, OPENAPI = _build_cases()


def has_graphql(app: FastAPI) -> bool:
    return any(
        isinstance(rc.original_route, APIRoute) and rc.path_format == "/graphql"
        for rc in iter_route_contexts(app.routes)
    )


# -- the estate as a scoped token sees it --------------------------------------------------


@dataclass(frozen=True)
class Objects:
    """One object of each kind a path or body can name."""

    ci: str
    ci2: str
    service: str
    rel: str | None
    run: str | None
    token: str
    change: str | None = None  # an RFC naming ``ci`` (changes and incidents: issue 7)
    incident: str | None = None
    problem: str | None = None  # a problem naming ``ci`` (issue 7)
    webhook: str | None = None  # a webhook rule (issue 16)


@dataclass
class World:
    api: Api
    inside: Objects
    outside: Objects
    hidden: frozenset[str]  # every CI id the scoped tokens must never see
    scoped: dict[str, dict[str, str]]  # role -> headers of a token scoped to SCOPE_SERVICE
    secrets: list[str] = field(default_factory=list)  # what no response may contain


def _service_id(api: Api, name: str) -> str:
    return next(c.id for c in api.store.list_cis(limit=1000).items if c.name == name)


def build_world(api: Api) -> World:
    store = api.store
    cis = store.list_cis(limit=1000).items
    service = _service_id(api, SCOPE_SERVICE)
    principal = Principal("probe", Role.VIEWER, (service,))
    visible = Visibility.for_principal(store, principal)
    assert visible.ids is not None
    seen = set(visible.ids)
    hidden = frozenset(c.id for c in cis if c.id not in seen)
    assert hidden and len(seen) > 2, "the sample estate gives the scope something on each side"

    def pick(ids: set[str] | frozenset[str], exclude: str = "") -> str:
        return sorted(i for i in ids if i != exclude)[0]

    services = {c.id for c in cis if c.ci_class == "Service"}
    rels = store.list_relationships(limit=10_000).items
    rel_in = next((r.id for r in rels if r.source_id in seen and r.target_id in seen), None)
    rel_out = next((r.id for r in rels if r.source_id in hidden and r.target_id in hidden), None)

    admin = api.as_role(Role.ADMIN)
    run = api.client.post(
        f"{API_PREFIX}/discovery/runs",
        params={"format": "csv", "source": "matrix", "scope": "matrix"},
        content=b"key,class,name,serial\nprobe-1,Server,probe-1,SN-PROBE-1\n",
        headers={**admin, "Content-Type": "text/csv"},
    )
    run_id = run.json().get("run", {}).get("id") if run.status_code < 300 else None

    victim_clear, victim = api.tokens.create("victim", Role.VIEWER)
    ci_in = pick(seen - {service})
    ci_out = pick(hidden)
    _practice_records(api, ci_in, "IN")
    _practice_records(api, ci_out, "OUT")
    webhook = _webhook_rule(api)
    inside = Objects(
        ci_in,
        pick(seen, ci_in),
        service,
        rel_in,
        None,
        victim.key,
        "RFC-MATRIX-IN",
        "INC-MATRIX-IN",
        "PRB-MATRIX-IN",
        webhook,
    )
    outside = Objects(
        ci_out,
        pick(hidden, ci_out),
        pick(services & hidden),
        rel_out,
        run_id,
        victim.key,
        "RFC-MATRIX-OUT",
        "INC-MATRIX-OUT",
        "PRB-MATRIX-OUT",
        webhook,
    )
    scoped = {
        role.value: api.token_for(role, services=(service,), name=f"scoped-{role.value}")
        for role in Role
    }
    secrets = [victim_clear, WEBHOOK_SECRET]
    secrets += [h["Authorization"].removeprefix("Bearer ") for h in api.headers.values()]
    secrets += [h["Authorization"].removeprefix("Bearer ") for h in scoped.values()]
    return World(api, inside, outside, hidden, scoped, secrets)


WEBHOOK_SECRET = "whsec_bWF0cml4LXNlY3JldA=="  # the matrix rule's: never in an answer


def _webhook_rule(api: Api) -> str:
    """A webhook rule, for the routes under /webhooks/{rule_id} (it names no CI: a scoped
    token is refused it whole, by role or by scope)."""
    rule = WebhookRule(
        id="wh_matrix",
        url="https://hooks.example/matrix",
        secret=WEBHOOK_SECRET,
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    api.store.save_webhook_rule(rule)
    return rule.id


def _practice_records(api: Api, ci_id: str, tag: str) -> None:
    """A change, an incident and a problem naming ``ci_id``, for the routes under
    /changes/{change_id}, /incidents/{incident_id} and /problems/{problem_id}."""
    start = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    change = Change(
        id=f"RFC-MATRIX-{tag}",
        title="matrix",
        ci_ids=[ci_id],
        planned_start=start,
        planned_end=start + timedelta(hours=1),
    )
    incident = Incident(id=f"INC-MATRIX-{tag}", title="matrix", ci_ids=[ci_id], opened_at=start)
    problem = Problem(id=f"PRB-MATRIX-{tag}", title="matrix", ci_ids=[ci_id], opened_at=start)
    api.store.apply(
        ChangeSet(
            actor="test-setup",
            source="test",
            changes=[change],
            incidents=[incident],
            problems=[problem],
        )
    )
    # A what-if proposal on the change (issue 17), for /changes/{change_id}/proposal.
    retire = Edit(op=EditOp.RETIRE_CI, ci_id=ci_id)
    api.store.save_proposal(Proposal(id=change.id, version=1, edits=[retire], at=start))


def stored_hashes(tokens: TokenStore) -> list[str]:
    with sqlite3.connect(tokens.path) as db:
        return [str(r[0]) for r in db.execute("SELECT secret_sha256 FROM api_token")]


def snapshot(api: Api) -> tuple[Any, ...]:
    """Everything a request could change: the graph, its history, runs, changes, incidents,
    problems, tokens."""
    store = api.store
    history = list(store.iter_history())
    return (
        store.counts().model_dump(),
        len(history),
        history[-1].model_dump(mode="json") if history else None,
        sorted(c.model_dump_json() for c in store.list_cis(limit=1000).items),
        sorted(r.id for r in store.list_runs(limit=1000)),
        len(store.list_changes()),
        sorted(c.model_dump_json() for c in store.list_changes()),
        sorted(i.model_dump_json() for i in store.list_incidents()),
        sorted(p.model_dump_json() for p in store.list_problems()),
        sorted((t.key, t.revoked_at) for t in api.tokens.list()),
        sorted(r.model_dump_json() for r in store.list_webhook_rules()),
        sorted(p.model_dump_json() for p in store.list_proposals()),
    )


# -- filling a request from the schema ----------------------------------------------------

_KIND_BY_PARAM = {
    "entity_id": "ci",
    "ci": "ci",
    "root": "ci",
    "service": "service",
    "rel_id": "rel",
    "run_id": "run",
    "key": "token",
    "change_id": "change",
    "incident_id": "incident",
    "problem_id": "problem",
    "rule_id": "webhook",
}


def param_kind(case: RouteCase, name: str) -> str:
    if name == "ref":
        return "service" if "/services/" in case.path else "ci"
    return _KIND_BY_PARAM.get(name, "ci")


def object_for(objects: Objects, kind: str) -> str | None:
    value: str | None = getattr(objects, kind)
    return value


def url_for(case: RouteCase, objects: Objects) -> str | None:
    """The route's URL naming ``objects``; None when no such object exists."""
    values: dict[str, str] = {}
    for name in case.path_params:
        value = object_for(objects, param_kind(case, name))
        if value is None:
            return None
        values[name] = value
    return case.path.format(**values)


def query_for(case: RouteCase, objects: Objects) -> dict[str, str]:
    return {name: str(object_for(objects, param_kind(case, name))) for name in case.required_query}


def names_objects(case: RouteCase, body: Any) -> bool:
    return bool(case.path_params or case.required_query) or _mentions_ci(body)


def _mentions_ci(body: Any) -> bool:
    return "ci_" in repr(body)


_CI_FIELDS = {"cis", "ci", "source", "target", "root", "roots", "ref", "refs", "services"}


class Bodies:
    """Minimal request bodies from the OpenAPI schema: only required fields, CI-naming
    fields filled with the given objects."""

    def __init__(self, openapi: dict[str, Any]) -> None:
        self.openapi = openapi

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = self.openapi["components"]["schemas"][name]
        return schema

    def request_schema(self, case: RouteCase) -> tuple[str, dict[str, Any]] | None:
        op = self.openapi["paths"].get(case.path, {}).get(case.method.lower(), {})
        content = op.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            return "application/json", self._resolve(content["application/json"]["schema"])
        if content:
            return next(iter(content)), {}
        return None

    def body(self, case: RouteCase, objects: Objects) -> Any:
        got = self.request_schema(case)
        if got is None or got[0] != "application/json":
            return None
        return self.value(got[1], "body", objects)

    def value(self, schema: dict[str, Any], name: str, objects: Objects) -> Any:
        schema = self._resolve(schema)
        if "default" in schema and name not in _CI_FIELDS:
            return schema["default"]
        for key in ("anyOf", "oneOf", "allOf"):
            if key in schema:
                options = [s for s in schema[key] if self._resolve(s).get("type") != "null"]
                return self.value(options[0], name, objects) if options else None
        if "enum" in schema:
            return schema["enum"][0]
        if "const" in schema:
            return schema["const"]
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            props = schema.get("properties", {})
            return {k: self.value(props[k], k, objects) for k in schema.get("required", [])}
        if kind == "array":
            item = self.value(schema.get("items", {}), name.rstrip("s"), objects)
            return [item] * max(1, int(schema.get("minItems", 1)))
        if kind == "integer":
            return int(schema.get("minimum", 1))
        if kind == "number":
            return float(schema.get("minimum", 1))
        if kind == "boolean":
            return False
        if schema.get("format") == "date-time":
            return "2026-01-05T10:00:00Z" if name == "end" else "2026-01-05T09:00:00Z"
        if name in ("service", "services"):
            return objects.service
        if name in ("target",):
            return objects.ci2
        if name in _CI_FIELDS or name.rstrip("s") in _CI_FIELDS:
            return objects.ci
        if name == "class":
            return "Server"
        if name == "type":
            return "DEPENDS_ON"
        if name == "role":
            return Role.VIEWER.value
        return "matrix-probe"


# -- a client that keeps every answer ----------------------------------------------------


class Recorder:
    """``api.client`` with every response kept, so a test can prove none of them carried
    a credential."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.responses: list[httpx.Response] = []

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        r = self.api.client.request(method, url, **kwargs)
        self.responses.append(r)
        return r

    def leaks(self, secrets: list[str]) -> list[str]:
        found = []
        for r in self.responses:
            text = r.text + repr(sorted(r.headers.items()))
            for s in secrets:
                if s and s in text:
                    found.append(f"{r.request.method} {r.request.url.path}: {s[:12]}...")
        return found


def all_secrets(world: World) -> list[str]:
    api = world.api
    found = list(world.secrets) + stored_hashes(api.tokens)
    found += [t.split("_", 2)[2] for t in world.secrets if t.count("_") >= 2]
    password = api.settings.neo4j_password
    if password is not None:
        found.append(password.get_secret_value())
    return found


def secure_api(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, **overrides: object
) -> Iterator[Api]:
    overrides.setdefault("token_rate_per_min", NO_LIMIT)
    yield from make_api(kind, tmp_path, request, **overrides)
