"""The server's logs: plain text (uvicorn's own format) or one JSON object per line.

A JSON line holds ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, and the
``request_id`` of the request it was logged in (every record, the app's and the
libraries', through a context variable the request id middleware sets); the access line
of each request (logger ``cmdb.access``) adds ``method``, ``path``, ``route`` (the
template, e.g. ``/api/v1/cis/{ref}``), ``status``, ``duration_ms`` and ``client``. An
exception adds ``exception`` (its traceback).

Secrets are gone before a formatter sees a record: ``cmdb.web.logredact`` rewrites every
record where it is made (message and traceback); the fields added here are the request's
template, status, times and its id, none of which can hold a credential.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

# The request being served in this task or thread (set by RequestIdMiddleware; sync
# routes run in threads that copy the context, so their records carry it too).
REQUEST_ID: ContextVar[str | None] = ContextVar("cmdb_request_id", default=None)

ACCESS_LOGGER = "cmdb.access"
# What an access record may carry beyond the standard fields, in this order.
ACCESS_FIELDS = ("method", "path", "route", "status", "duration_ms", "client")


class JsonFormatter(logging.Formatter):
    """One JSON object per line (no newline inside: a traceback is one string)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or REQUEST_ID.get()
        if rid:
            out["request_id"] = rid
        for name in ACCESS_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        # logredact moved the traceback to exc_text (and dropped exc_info); a record made
        # before it was installed still has exc_info.
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return orjson.dumps(out, default=str).decode()


def uvicorn_log_config(log_format: str, level: str) -> dict[str, Any] | None:
    """What ``uvicorn.run(log_config=...)`` gets: ``None`` keeps uvicorn's own text
    logging; for JSON, every logger (uvicorn's, the app's, the libraries') writes JSON
    lines to stderr, and uvicorn's access log is replaced by ``cmdb.access``."""
    if log_format != "json":
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "cmdb.web.logs.JsonFormatter"}},
        "handlers": {"json": handler},
        "root": {"handlers": ["json"], "level": upper},
        "loggers": {
            # uvicorn's loggers keep their records to the root's handler: one line each.
            "uvicorn": {"handlers": [], "level": upper, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": upper, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": True},
        },
    }
