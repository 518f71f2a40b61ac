"""Secrets never reach a log (reliability 19).

``RedactingFilter`` rewrites a record's message, and the traceback of an exception logged
with it, so that Bolt (or any) URIs lose their password, API tokens (``cmdb_<key>_<secret>``)
lose their secret, Authorization headers and password settings lose their value, and every
secret the process knows by value (the Neo4j password) disappears wherever it appears.

``install`` puts the filter where every record passes: the log record factory. A filter on
a logger sees only records logged on that very logger (not its children), and handlers
come and go (uvicorn's, pytest's), so the factory is the one place that covers them all,
whatever library logs. The filter class can still be put on a handler by a log config.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "[REDACTED]"

_VALUE = r"""(?:"[^"]*"|'[^']*'|[^\s'",;()}\]]+)"""
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:password@host -> scheme://user:[REDACTED]@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@'\"]*):[^\s@/'\"]*@"), rf"\1:{MASK}@"),
    # Authorization: <scheme> <value>, as text, a dict or a header tuple
    (
        re.compile(
            r"(?i)((?:proxy-)?authorization['\"]?\s*[:=,]\s*(?-i:b)?['\"]?)"
            r"(?:(bearer|basic|digest|token)\s+)?[^\s'\",;)}\]]+"
        ),
        rf"\1\2 {MASK}",
    ),
    # cmdb_<key>_<secret>: the key names the token (useful), the secret is the credential
    (re.compile(r"\b(cmdb_[A-Za-z0-9]{1,64})_[A-Za-z0-9_\-]{8,}"), rf"\1_{MASK}"),
    (re.compile(r"(?i)\b(bearer|basic)\s+(?!\[REDACTED)[A-Za-z0-9._~+/=\-]{8,}"), rf"\1 {MASK}"),
    # NAME=value / "password": "value" for anything that says it is a password or secret
    (
        re.compile(
            r"(?i)([a-z0-9_]*(?:password|passwd|secret)[a-z0-9_]*['\"]?\s*[:=]\s*)"
            rf"(?!\*|\[REDACTED){_VALUE}"
        ),
        rf"\1{MASK}",
    ),
)


class Redactor:
    """The patterns above plus secrets known by value (added at start-up)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._known: tuple[str, ...] = ()
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        with self._lock:
            known = set(self._known) | {s for s in secrets if s and len(s) >= 4}
            # Longest first, so a secret containing another is masked whole.
            self._known = tuple(sorted(known, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for secret in self._known:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern, repl in _PATTERNS:
            text = pattern.sub(repl, text)
        return text


REDACTOR = Redactor()


class RedactingFilter(logging.Filter):
    """Rewrites the record in place and always lets it through."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_cmdb_redacted", False):
            return True
        self._message(record)
        if record.exc_info and record.exc_info[0] is not None:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.redactor(text)
            # The exception object itself still holds the secret; a handler that renders
            # exc_info on its own must not get it.
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor(record.stack_info)
        setattr(record, "_cmdb_redacted", True)  # noqa: B010 - LogRecord takes any attribute
        return True

    def _message(self, record: logging.LogRecord) -> None:
        """Redact the message, keeping ``msg`` and ``args`` apart where that suffices
        (formatters such as uvicorn's access log unpack ``args``)."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: still redact what there is
            message = f"{record.msg} {record.args}"
        clean = self.redactor(message)
        if clean == message:
            return
        if isinstance(record.msg, str) and record.args:
            msg, args = self.redactor(record.msg), self._args(record.args)
            try:
                if msg % args == clean:
                    record.msg, record.args = msg, args
                    return
            except Exception:
                pass
        record.msg, record.args = clean, None

    def _args(self, args: Any) -> Any:
        if isinstance(args, dict):
            return {k: self._arg(v) for k, v in args.items()}
        return tuple(self._arg(a) for a in args)

    def _arg(self, value: object) -> object:
        if isinstance(value, int | float) or value is None:
            return value
        text = str(value)
        clean = self.redactor(text)
        return value if clean == text else clean


_installed = False
_install_lock = threading.Lock()


def install(*secrets: str) -> Redactor:
    """Redact every log record of the process from now on (once; later calls only add
    secrets), and return the redactor."""
    global _installed
    REDACTOR.add(*secrets)
    with _install_lock:
        if _installed:
            return REDACTOR
        previous = logging.getLogRecordFactory()
        redact = RedactingFilter(REDACTOR)

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            redact.filter(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
    return REDACTOR
