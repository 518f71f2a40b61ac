"""Reliability 15 and 23 ("no 5xx"): schemathesis in-process over the OpenAPI schema, with
an admin and with a viewer token, and over GraphQL once /graphql exists.

Examples are bounded (``EXAMPLES`` per operation and role, positive and negative) so the
whole file runs in about a minute; raise them for a deeper run by hand. Every 5xx is a
bug: the failing request is reported with a curl command that reproduces it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from cmdb.auth.roles import Role
from cmdb.server.app import API_PREFIX
from tests.api.conftest import Api
from tests.api.security import has_graphql, secure_api

pytestmark = pytest.mark.fuzz

EXAMPLES = 15
GRAPHQL_EXAMPLES = 25
HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def fuzz_api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    yield from secure_api("embedded", tmp_path, request)


def _graphql_no_internal_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """A GraphQL 5xx, or an error masked as internal (code INTERNAL): a resolver raised
    something unexpected. Errors about the input (NOT_FOUND, BAD_USER_INPUT) are fine."""
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:300]}")
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return None
    for err in errors:
        if (err.get("extensions") or {}).get("code") in ("INTERNAL", "INTERNAL_SERVER_ERROR"):
            raise AssertionError(f"internal error in {err.get('path')}: {response.text[:300]}")
    return None


def _fuzz(schema: Any, api: Api, role: Role, examples: int, checks: list[Any]) -> list[str]:
    """Every operation, positive and negative examples; the 5xx found, one line each."""
    headers = api.as_role(role)
    found: list[str] = []
    for result in schema.get_all_operations():
        op = result.ok()
        strategies = []
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                strategies.append(op.as_strategy(generation_mode=mode))
            except Exception:  # an operation without negative examples
                continue

        @settings(HYPOTHESIS, max_examples=examples)
        @given(case=st.one_of(strategies))
        def run(case: Any) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=checks)

        try:
            run()
        except Exception as exc:  # the shrunk failure, with a curl command to reproduce
            found.append(f"{op.method.upper()} {op.path} as {role.value}: {exc}"[:1500])
    return found


GRAPHQL_CHECK = schemathesis.check(_graphql_no_internal_error)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.VIEWER], ids=lambda r: r.value)
def test_rest_has_no_server_errors(fuzz_api: Api, role: Role) -> None:
    schema = schemathesis.openapi.from_asgi(f"{API_PREFIX}/openapi.json", fuzz_api.app)
    found = _fuzz(schema, fuzz_api, role, EXAMPLES, [not_a_server_error])
    assert not found, "\n\n".join(found)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.VIEWER], ids=lambda r: r.value)
def test_graphql_has_no_server_errors(fuzz_api: Api, role: Role) -> None:
    if not has_graphql(fuzz_api.app):
        pytest.fail("/graphql is not mounted: the app factory must mount it")
    schema = schemathesis.graphql.from_asgi(
        "/graphql", fuzz_api.app, headers=fuzz_api.as_role(Role.ADMIN)
    )
    found = _fuzz(schema, fuzz_api, role, GRAPHQL_EXAMPLES, [GRAPHQL_CHECK])
    assert not found, "\n\n".join(found)
