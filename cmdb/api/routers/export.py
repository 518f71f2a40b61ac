"""``/export``: the whole CMDB as a JSON Lines snapshot, the same as ``cmdb export``."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from cmdb.api.routers._shared import unscoped_only
from cmdb.store import snapshot
from cmdb.web.deps import Admin, Store

router = APIRouter(tags=["export"])

MEDIA_TYPE = "application/x-ndjson"
_CHUNK = 64 * 1024
_SPOOL_BYTES = 16 * 1024 * 1024


def _chunks(fh: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := fh.read(_CHUNK):
            yield chunk
    finally:
        fh.close()


@router.get(
    "/export",
    operation_id="exportSnapshot",
    response_model=None,
    response_class=StreamingResponse,
    responses={200: {"description": "a JSON Lines snapshot", "content": {MEDIA_TYPE: {}}}},
)
def export(principal: Admin, store: Store) -> StreamingResponse:
    """Every CI, relationship (retired too), change, incident and history row: a header
    line with the counts, then one JSON document per line (``cmdb import`` reads it)."""
    unscoped_only(principal, "export the whole CMDB")
    # The header carries the counts, so it is known only once everything is read: the
    # snapshot is written to a spool first, then streamed.
    # Not a with-block: the response's iterator closes the spool once it has been sent.
    fh = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
    try:
        snapshot.export(store, fh)
    except BaseException:
        fh.close()
        raise
    fh.seek(0)
    return StreamingResponse(
        _chunks(fh),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="cmdb.jsonl"'},
    )
