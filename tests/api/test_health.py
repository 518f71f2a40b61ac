"""The app factory's basics: health, readiness, request ids, error shape, body limit."""

from __future__ import annotations

from tests.api.conftest import Api


def test_health_and_ready_answer_without_a_token(api: Api) -> None:
    assert api.client.get("/api/v1/health").json() == {"status": "ok"}
    ready = api.client.get("/api/v1/ready").json()
    assert ready == {"status": "ready", "store": api.kind}


def test_every_response_carries_a_request_id_and_echoes_a_well_formed_one(
    api_embedded: Api,
) -> None:
    r = api_embedded.client.get("/api/v1/health", headers={"X-Request-ID": "trace-42"})
    assert r.headers["x-request-id"] == "trace-42"
    r = api_embedded.client.get("/api/v1/health", headers={"X-Request-ID": "bad id\n"})
    assert r.headers["x-request-id"] != "bad id\n" and len(r.headers["x-request-id"]) == 32


def test_unknown_route_has_the_error_shape(api_embedded: Api) -> None:
    r = api_embedded.client.get("/api/v1/no-such-thing")
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["type"] == "not_found" and err["request_id"] == r.headers["x-request-id"]


def test_a_body_over_the_limit_gets_413(api_embedded: Api) -> None:
    limit = api_embedded.settings.max_body_bytes
    r = api_embedded.client.post("/api/v1/health", content=b"x" * (limit + 1))
    assert r.status_code == 413
    assert r.json()["error"]["type"] == "payload_too_large"
