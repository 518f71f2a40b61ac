"""The schema: its shape is fixed (one exported SDL); limits and switches come from settings."""

from __future__ import annotations

import logging

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from cmdb.config import Settings
from cmdb.gql.errors import MaskErrors
from cmdb.gql.limits import MaxTokens, rules
from cmdb.gql.mutation import Mutation
from cmdb.gql.query import Query
from cmdb.gql.types import all_ci_types
from cmdb.gql.validated import KnownValid, SkipKnownValid
from graphql import GraphQLError

log = logging.getLogger("cmdb.api")


class CmdbSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Strawberry logs every error with its traceback; a user's mistake is not worth
        one, and MaskErrors logs the internal ones (with the request id)."""
        for err in errors:
            log.debug("graphql error: %s", err.message)


def build_schema(settings: Settings) -> strawberry.Schema:
    limits = rules(settings)
    known = KnownValid()
    extensions: list[type[SchemaExtension] | object] = [
        lambda: MaxTokens(settings.graphql_max_tokens),
        lambda: AddValidationRules(limits),
        lambda: SkipKnownValid(known),
        MaskErrors,
    ]
    if not settings.graphql_introspection:
        extensions.append(DisableIntrospection)
    return CmdbSchema(
        query=Query,
        mutation=Mutation,
        types=all_ci_types(),
        extensions=extensions,  # type: ignore[arg-type]
        config=StrawberryConfig(
            batching_config={"max_operations": settings.graphql_max_operations},
            # "Did you mean ...?" would describe a schema that introspection hides.
            disable_field_suggestions=not settings.graphql_introspection,
        ),
    )


def sdl(settings: Settings | None = None) -> str:
    """The schema in SDL, as exported to graphql/schema.graphql."""
    return str(build_schema(settings or Settings())).rstrip("\n") + "\n"
