"""JSON responses rendered with orjson (datetimes, UUIDs and dataclasses natively), and
answers of domain objects serialised once.

A route that returns a domain object lets FastAPI validate it again against the response
model (every CI's validators run a second time) and then dump it to Python before orjson
writes it: on a page of CIs that is most of the request. The objects a store returns are
already valid, so the hot routes hand :func:`json_answer` the objects and the type they
are documented as, and pydantic writes the JSON bytes directly (the route keeps its
``response_model`` for the OpenAPI schema).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from pydantic import BaseModel, TypeAdapter
from starlette.responses import JSONResponse, Response


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


class OrjsonResponse(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(
            content, default=_default, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z
        )


@cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def json_bytes(kind: Any, value: Any) -> bytes:
    """``value`` (already of type ``kind``) as JSON, by field aliases as FastAPI writes."""
    return _adapter(kind).dump_json(value, by_alias=True)


def json_answer(kind: Any, value: Any, *, status_code: int = 200) -> Response:
    return Response(json_bytes(kind, value), status_code, media_type="application/json")


def page_answer(kind: Any, items: list[Any], next_cursor: str | None) -> Response:
    """``{"items": [...], "next_cursor": ...}`` with the items written by pydantic."""
    body = orjson.dumps(
        {"items": orjson.Fragment(json_bytes(list[kind], items)), "next_cursor": next_cursor}
    )
    return Response(body, media_type="application/json")
