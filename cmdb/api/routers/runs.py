"""``/discovery/runs``: push an inventory (a file upload or the raw body) for one discovery
run, and read run records.

The run is the same as ``cmdb discover`` (``cmdb.app.discovery``): the format's adapter
parses, the reconciler identifies and writes. Bad input is a 422 naming the file and
line, with nothing written; a dry run answers the plan and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.datastructures import UploadFile

from cmdb.api.models import RunListOut, RunOut, RunReportOut
from cmdb.api.pagination import page_limit
from cmdb.api.routers._shared import caller
from cmdb.app import discovery
from cmdb.domain.errors import InvalidInput
from cmdb.domain.records import DiscoveryRun
from cmdb.web.deps import Discoverer, Reader, SettingsDep, Store

router = APIRouter(tags=["discovery"])

_FIELDS = {
    "format": {"type": "string", "enum": list(discovery.FORMATS)},
    "source": {"type": "string", "description": "who vouches for the data (default: format)"},
    "scope": {"type": "string", "description": "what the source looked at"},
    "dry_run": {"type": "boolean"},
    "override": {"type": "boolean"},
}
_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the inventory: a multipart upload (one file, plus the fields), or "
        "the raw file as the body (fields in the query)",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}, **_FIELDS},
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@dataclass
class Upload:
    payload: bytes
    filename: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


async def read_upload(request: Request) -> Upload:
    """The inventory, read without blocking: a multipart file with its form fields, or
    the raw body."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return Upload(await request.body())
    form = await request.form()
    try:
        files = [(k, v) for k, v in form.multi_items() if isinstance(v, UploadFile)]
        if len(files) != 1:
            raise InvalidInput(f"send exactly one file, not {len(files)}", where="file")
        upload = files[0][1]
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        return Upload(await upload.read(), upload.filename, fields)
    finally:
        await form.close()


def _flag(fields: dict[str, str], name: str, default: bool) -> bool:
    text = fields.get(name)
    if text is None:
        return default
    value = text.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off", ""):
        return False
    raise InvalidInput(f"expected true or false, got {text!r}", where=name)


@router.post(
    "/discovery/runs",
    operation_id="createDiscoveryRun",
    response_model=RunReportOut,
    status_code=201,
    responses={200: {"model": RunReportOut, "description": "a dry run: the plan"}},
    openapi_extra=_BODY,
)
def create_run(
    principal: Discoverer,
    store: Store,
    settings: SettingsDep,
    request: Request,
    response: Response,
    upload: Annotated[Upload, Depends(read_upload)],
    fmt: Annotated[str | None, Query(alias="format", description="the inventory format")] = None,
    source: Annotated[str | None, Query(description="default: the format")] = None,
    scope: str | None = None,
    dry_run: bool = False,
    override: Annotated[bool, Query(description="sweep for staleness even if suspicious")] = False,
    filename: Annotated[str | None, Query(description="names the raw body in errors")] = None,
) -> RunReportOut:
    """One discovery run over the pushed inventory (201), or its plan (dry run, 200).

    ``discrepancies`` lists the values it changed on existing CIs that no approved change
    in the store covers (the service checks them, as ``cmdb discover`` does), each with
    why. A run that fails part way is recorded as failed and answered with its report."""
    form = upload.fields
    dry = _flag(form, "dry_run", dry_run)
    report = discovery.push(
        store,
        caller(principal, request),
        settings,
        upload.payload,
        fmt=form.get("format", fmt),
        source=form.get("source", source),
        scope=form.get("scope", scope),
        dry_run=dry,
        override=_flag(form, "override", override),
        filename=upload.filename or filename,
    )
    if dry:
        response.status_code = 200
    return RunReportOut.model_validate({**report.model_dump(), "totals": report.summary()})


@router.get("/discovery/runs", operation_id="listDiscoveryRuns", response_model=RunListOut)
def list_runs(
    principal: Reader,
    store: Store,
    limit: Annotated[int, Depends(page_limit)],
    source: str | None = None,
    scope: str | None = None,
) -> RunListOut:
    """Discovery runs, newest first (a token scoped to services sees none: a run is about
    a whole source, not a service)."""
    runs = discovery.list_runs(store, principal, source=source, scope=scope, limit=limit)
    return RunListOut.model_validate({"items": runs})


@router.get("/discovery/runs/{run_id}", operation_id="getDiscoveryRun", response_model=RunOut)
def get_run(run_id: str, principal: Reader, store: Store) -> DiscoveryRun:
    """One run's record: status, counts, and the first problems it met."""
    return discovery.get_run(store, principal, run_id)
