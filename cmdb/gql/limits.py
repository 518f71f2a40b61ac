"""Limits on what one GraphQL request may ask, checked before any resolver runs.

- tokens: the parser stops at ``graphql_max_tokens`` (comments count), before validation;
- depth, aliases and estimated cost: validation rules, next to graphql-core's own
  (which already reject fragment cycles and over-deep introspection);
- operations per request (batching): checked by the HTTP view (:mod:`cmdb.gql.router`).

The rules walk the document once each, memoising fragments (a fragment spread a thousand
times is costed once) and ignoring cycles (graphql-core reports those), so a hostile
document costs time linear in its size. Each error names the setting that sets the limit.

Depth counts the fields on the longest path, the leaf included: ``{ ci { name } }`` is 2.
Cost estimates the fields a query may return: every field costs 1, and a list multiplies
what is under it by its size: ``first`` or ``limit`` when given (a variable counts as the
largest page allowed), ``RELATION_FANOUT ** depth`` for relationship fields,
``LIST_DEFAULT`` for other lists. An object with a ``first`` or ``limit`` (a connection, a
report listing at most ``limit`` rows per finding) sizes the lists directly inside it.
Introspection (``__schema``, ``__type``) is left to graphql-core's
MaxIntrospectionDepthRule.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from strawberry.extensions import SchemaExtension

from cmdb.gql.types import MAX_FIELD_DEPTH
from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
)

# Nesting past which the alias and cost walks stop (the depth rule rejects such a query;
# stopping keeps Python's recursion limit out of reach).
WALK_GUARD = 200
LIST_DEFAULT = 10
RELATION_FANOUT = 5
RELATION_CAP = 1000


class MaxTokens(SchemaExtension):
    """The parser aborts past the token limit (comments included)."""

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.max_tokens
        yield


def _fragments(ctx: ValidationContext) -> dict[str, FragmentDefinitionNode]:
    return {
        d.name.value: d for d in ctx.document.definitions if isinstance(d, FragmentDefinitionNode)
    }


def _operations(ctx: ValidationContext) -> list[OperationDefinitionNode]:
    return [d for d in ctx.document.definitions if isinstance(d, OperationDefinitionNode)]


def _op_name(op: OperationDefinitionNode) -> str:
    return f"operation {op.name.value!r}" if op.name else "the operation"


def depth_rule(max_depth: int) -> type[ValidationRule]:
    class DepthLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            fragments = _fragments(context)

            def depth(sel: SelectionSetNode | None, so_far: int, seen: frozenset[str]) -> int:
                # Stops descending past the limit: a 1000-deep query costs 13 levels.
                if sel is None or so_far > max_depth:
                    return so_far
                deepest = so_far
                for s in sel.selections:
                    if isinstance(s, FieldNode):
                        if s.name.value.startswith("__"):
                            continue
                        deepest = max(deepest, depth(s.selection_set, so_far + 1, seen))
                    elif isinstance(s, InlineFragmentNode):
                        deepest = max(deepest, depth(s.selection_set, so_far, seen))
                    elif isinstance(s, FragmentSpreadNode):
                        name = s.name.value
                        frag = fragments.get(name)
                        if frag is not None and name not in seen:
                            deepest = max(deepest, depth(frag.selection_set, so_far, seen | {name}))
                    if deepest > max_depth:
                        break
                return deepest

            for op in _operations(context):
                found = depth(op.selection_set, 0, frozenset())
                if found > max_depth:
                    context.report_error(
                        GraphQLError(
                            f"{_op_name(op)} is nested deeper than the limit of {max_depth} "
                            "levels (setting graphql_max_depth)",
                            [op],
                            extensions={"code": "QUERY_TOO_DEEP", "limit": max_depth},
                        )
                    )

    return DepthLimit


def alias_rule(max_aliases: int) -> type[ValidationRule]:
    class AliasLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            fragments = _fragments(context)
            memo: dict[str, int] = {}

            def count(sel: SelectionSetNode | None, stack: frozenset[str], level: int) -> int:
                if sel is None or level > WALK_GUARD:
                    return 0
                total = 0
                for s in sel.selections:
                    if isinstance(s, FieldNode):
                        total += (1 if s.alias else 0) + count(s.selection_set, stack, level + 1)
                    elif isinstance(s, InlineFragmentNode):
                        total += count(s.selection_set, stack, level + 1)
                    elif isinstance(s, FragmentSpreadNode):
                        total += _spread(s.name.value, stack, level + 1)
                return total

            def _spread(name: str, stack: frozenset[str], level: int) -> int:
                if name in stack or name not in fragments:
                    return 0
                if name not in memo:
                    memo[name] = count(fragments[name].selection_set, stack | {name}, level)
                return memo[name]

            total = sum(count(op.selection_set, frozenset(), 0) for op in _operations(context))
            if total > max_aliases:
                context.report_error(
                    GraphQLError(
                        f"{total} aliases in one request; the limit is {max_aliases} "
                        "(setting graphql_max_aliases)",
                        extensions={"code": "TOO_MANY_ALIASES", "limit": max_aliases},
                    )
                )

    return AliasLimit


def _is_list(t: GraphQLOutputType) -> bool:
    while isinstance(t, GraphQLNonNull):
        t = t.of_type
    return isinstance(t, GraphQLList)


def _int_arg(node: FieldNode, name: str) -> int | str | None:
    """The literal value; "var" for a variable; None when absent."""
    for arg in node.arguments or ():
        if arg.name.value == name:
            return int(arg.value.value) if isinstance(arg.value, IntValueNode) else "var"
    return None


# Arguments that bound how many rows a list (or the lists of an object) holds.
SIZE_ARGS = ("first", "limit")


def _sized(args: dict[str, Any]) -> bool:
    return any(a in args for a in SIZE_ARGS)


def list_size(node: FieldNode, args: dict[str, Any], page_max: int) -> int:
    for name in SIZE_ARGS:
        if name not in args:
            continue
        given = _int_arg(node, name)
        if isinstance(given, int):
            return max(given, 0)
        if given is None and isinstance(args[name].default_value, int):
            return int(args[name].default_value)
        return page_max
    if "depth" in args:
        given = _int_arg(node, "depth")
        depth = given if isinstance(given, int) else 1 if given is None else MAX_FIELD_DEPTH
        depth = min(max(depth, 1), MAX_FIELD_DEPTH)
        return int(min(RELATION_FANOUT**depth, RELATION_CAP))
    return LIST_DEFAULT


def cost_rule(max_cost: int, page_max: int) -> type[ValidationRule]:
    class CostLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            schema = context.schema
            fragments = _fragments(context)
            memo: dict[str, int] = {}

            def cost(
                sel: SelectionSetNode | None,
                parent: Any,
                stack: frozenset[str],
                level: int,
                page: int | None = None,
            ) -> int:
                if sel is None or level > WALK_GUARD:
                    return 0
                total = 0
                for s in sel.selections:
                    if isinstance(s, FieldNode):
                        total += field_cost(s, parent, stack, level + 1, page)
                    elif isinstance(s, InlineFragmentNode):
                        cond = s.type_condition
                        t = schema.get_type(cond.name.value) if cond else parent
                        total += cost(s.selection_set, t or parent, stack, level + 1, page)
                    elif isinstance(s, FragmentSpreadNode):
                        name = s.name.value
                        frag = fragments.get(name)
                        if frag is None or name in stack:
                            continue
                        key = f"{name}/{page}"
                        if key not in memo:
                            t = schema.get_type(frag.type_condition.name.value)
                            memo[key] = cost(frag.selection_set, t, stack | {name}, level, page)
                        total += memo[key]
                return total

            def field_cost(
                node: FieldNode, parent: Any, stack: frozenset[str], level: int, page: int | None
            ) -> int:
                name = node.name.value
                fields = (
                    parent.fields
                    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
                    else {}
                )
                fdef = fields.get(name)
                if fdef is None or name.startswith("__"):
                    return 1
                named = get_named_type(fdef.type)
                if _is_list(fdef.type):
                    own = _sized(fdef.args) or "depth" in fdef.args
                    size = list_size(node, fdef.args, page_max) if own or page is None else page
                    return 1 + size * cost(node.selection_set, named, stack, level)
                # A connection (a page of a list): its `first` sizes the list inside it.
                inner = list_size(node, fdef.args, page_max) if _sized(fdef.args) else None
                return 1 + cost(node.selection_set, named, stack, level, inner)

            for op in _operations(context):
                root = schema.get_root_type(op.operation)
                if root is None:
                    continue
                total = cost(op.selection_set, root, frozenset(), 0)
                if total > max_cost:
                    context.report_error(
                        GraphQLError(
                            f"{_op_name(op)} has an estimated cost of {total}; the limit is "
                            f"{max_cost} (setting graphql_max_cost). Ask for smaller pages "
                            "(first), less depth, or fewer nested lists",
                            [op],
                            extensions={"code": "QUERY_TOO_COSTLY", "limit": max_cost},
                        )
                    )

    return CostLimit


def rules(
    max_depth: int, max_aliases: int, max_cost: int, page_limit_max: int
) -> list[type[ASTValidationRule]]:
    return [depth_rule(max_depth), alias_rule(max_aliases), cost_rule(max_cost, page_limit_max)]
