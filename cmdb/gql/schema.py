"""The schema: its shape is fixed (one exported SDL); limits and switches come from settings."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import NamedTuple

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


class _Limits(NamedTuple):
    """The settings a schema is built from: one schema per distinct set of them."""

    max_tokens: int
    max_depth: int
    max_aliases: int
    max_cost: int
    page_limit_max: int
    max_operations: int
    introspection: bool


def build_schema(settings: Settings) -> strawberry.Schema:
    """The schema for these settings' limits, built once per process and set of limits.

    Building one walks every type (~0.3 s); every app (each API worker, each test's app)
    would otherwise pay it again for an identical schema."""
    return _schema(
        _Limits(
            max_tokens=settings.graphql_max_tokens,
            max_depth=settings.graphql_max_depth,
            max_aliases=settings.graphql_max_aliases,
            max_cost=settings.graphql_max_cost,
            page_limit_max=settings.page_limit_max,
            max_operations=settings.graphql_max_operations,
            introspection=settings.graphql_introspection,
        )
    )


@lru_cache(maxsize=8)
def _schema(limits: _Limits) -> strawberry.Schema:
    validation = rules(limits.max_depth, limits.max_aliases, limits.max_cost, limits.page_limit_max)
    known = KnownValid()
    extensions: list[type[SchemaExtension] | object] = [
        lambda: MaxTokens(limits.max_tokens),
        lambda: AddValidationRules(validation),
        lambda: SkipKnownValid(known),
        MaskErrors,
    ]
    if not limits.introspection:
        extensions.append(DisableIntrospection)
    return CmdbSchema(
        query=Query,
        mutation=Mutation,
        types=all_ci_types(),
        extensions=extensions,  # type: ignore[arg-type]
        config=StrawberryConfig(
            batching_config={"max_operations": limits.max_operations},
            # "Did you mean ...?" would describe a schema that introspection hides.
            disable_field_suggestions=not limits.introspection,
        ),
    )


def sdl(settings: Settings | None = None) -> str:
    """The schema in SDL, as exported to graphql/schema.graphql."""
    return str(build_schema(settings or Settings())).rstrip("\n") + "\n"
