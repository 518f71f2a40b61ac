"""Error masking: what reaches a GraphQL client.

Kept as they are: errors about the request itself (syntax, validation, the limits,
variables), which carry no ``path``. The project's errors (``CmdbError``) keep their
message and gain ``extensions`` with a stable ``code`` (the REST error ``type`` in upper
case: NOT_FOUND, FORBIDDEN, INVALID_INPUT, ...), ``where`` and the request id. Anything
else raised by a resolver is logged with its traceback and the request id, and reaches
the client as a generic message plus that request id (reliability 19).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from strawberry.extensions import SchemaExtension

from cmdb.domain.errors import AmbiguousReference, CmdbError
from cmdb.web.errors import status_of
from graphql import GraphQLError

log = logging.getLogger("cmdb.api")

INTERNAL_MESSAGE = "internal error; quote the request id to the operator"
_TOKENS = re.compile(r"Document contains more than (\d+) tokens")


class MaskErrors(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [self._shape(e) for e in errors]

    def _request_id(self) -> str | None:
        rid = getattr(self.execution_context.context, "request_id", None)
        return str(rid) if rid else None

    def _shape(self, err: GraphQLError) -> GraphQLError:
        orig = err.original_error
        if isinstance(orig, CmdbError):
            _, kind = status_of(orig)
            ext: dict[str, Any] = {"code": kind.upper(), "requestId": self._request_id()}
            if orig.where:
                ext["where"] = orig.where
            if isinstance(orig, AmbiguousReference) and orig.candidates:
                ext["candidates"] = orig.candidates
            return _copy(err, orig.message, ext)
        if err.path is None or orig is None or isinstance(orig, GraphQLError):
            match = _TOKENS.search(err.message)
            if match and err.path is None:
                msg = (
                    f"the document has more than {match.group(1)} tokens, the limit "
                    "(setting graphql_max_tokens); parsing stopped there"
                )
                return _copy(err, msg, {"code": "TOO_MANY_TOKENS", "limit": int(match[1])})
            return err
        log.error(
            "graphql request %s: %s failed",
            self._request_id(),
            ".".join(str(p) for p in err.path),
            exc_info=(type(orig), orig, orig.__traceback__),
        )
        return _copy(err, INTERNAL_MESSAGE, {"code": "INTERNAL", "requestId": self._request_id()})


def _copy(err: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=err.nodes,
        source=err.source,
        positions=err.positions,
        path=err.path,
        original_error=None,
        extensions={**(err.extensions or {}), **extensions},
    )
