"""The reference pages of the docs site, generated from the code so they cannot drift.

    python docs/gen_reference.py OUTDIR

writes, under OUTDIR/reference/:

* ``cli.md``: the ``--help`` of every ``cmdb`` command, walked from the Typer app;
* ``model.md``: the CI classes, relationship types and identifier kinds;
* ``settings.md``: the fields of :class:`cmdb.config.Settings` with their environment
  names, types, defaults, limits and descriptions;
* ``rest.md``, ``rest-models.md`` and ``openapi.json``: the REST API from the app's
  OpenAPI document;
* ``graphql.md`` and ``schema.graphql``: the GraphQL API from :func:`cmdb.gql.schema.sdl`.

``docs/hooks.py`` runs it at every ``mkdocs build`` (in a fresh interpreter, without the
caller's ``CMDB_*`` variables, so the pages show the code's defaults).
"""

from __future__ import annotations

import json
import sys
import tempfile
import typing
from collections.abc import Callable, Iterator, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

# What `cmdb ... --help` prints on any terminal at least 80 columns wide (click wraps to
# the terminal's width less 2, at most 78); fixed so a build on a narrow terminal agrees.
HELP_WIDTH = 78


def _cell(text: object) -> str:
    """A value fit for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


# -- CLI ------------------------------------------------------------------------------------


def _commands() -> Iterator[tuple[str, str]]:
    """(``cmdb ci add``, its help text) for the root and every group and command, in the
    order ``--help`` lists them."""
    import typer.main

    from cmdb.cli import app

    root = typer.main.get_command(app)

    def walk(cmd: Any, path: list[str], parent: Any) -> Iterator[tuple[str, str]]:
        context = cmd.context_class(
            cmd, info_name=path[-1], parent=parent, terminal_width=HELP_WIDTH
        )
        # Plain text, as `cmdb ... --help` prints without rich (no boxes): Typer formats
        # a command's help the click way when it has no rich markup mode.
        cmd.rich_markup_mode = None
        yield " ".join(path), cmd.get_help(context)
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(context):
                yield from walk(cmd.get_command(context, name), [*path, name], context)

    yield from walk(root, ["cmdb"], None)


def cli_page() -> str:
    out = [
        "# CLI reference",
        "",
        "Generated from the Typer app (`cmdb.cli:app`) at every docs build: the `--help` of",
        "every command, as `cmdb ... --help` prints it. Wherever a command takes a CI it",
        "accepts its id, a unique identifier written `kind=value` (`serial=IBX7-40117`), a",
        "unique name, or `Class:name` (`KubernetesWorkload:booking-web`; a class takes its",
        "subclasses); an ambiguous name is refused with each candidate written `Class:name`.",
        "`ci list --name-contains` lists the best matches first. Errors in your input are one",
        "line on stderr and exit code 2.",
        "",
    ]
    for name, text in _commands():
        out += [f"## `{name}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(out)


# -- settings ---------------------------------------------------------------------------------


_PLAIN_TYPES = {"SecretStr": "secret", "Path": "path", "str": "text", "int": "integer"}


def _type_name(annotation: Any) -> str:
    args = typing.get_args(annotation)
    if args:  # a union such as `Path | None`
        names = [_type_name(a) for a in args if a is not type(None)]
        optional = " (optional)" if type(None) in args else ""
        return " or ".join(names) + optional
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " or ".join(f"`{m.value}`" for m in annotation)
    name = str(getattr(annotation, "__name__", annotation))
    return _PLAIN_TYPES.get(name, name)


def _default(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Enum):
        return f"`{value.value}`"
    return f"`{value}`"


def _limits(metadata: list[Any]) -> str:
    signs = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    found = []
    for item in metadata:
        for attr, sign in signs.items():
            bound = getattr(item, attr, None)
            if bound is not None:
                found.append(f"{sign} {bound}")
    return ", ".join(found)


def settings_page() -> str:
    from cmdb.config import Settings

    prefix = str(Settings.model_config.get("env_prefix", ""))
    out = [
        "# Settings",
        "",
        "Generated from `cmdb.config.Settings` at every docs build. Settings come only from",
        f"environment variables with the prefix `{prefix}` (read in one place,",
        "`cmdb/config.py`); `cmdb --db PATH` overrides the embedded store's file for one",
        "command. A setting that fails its check stops the command with one line naming the",
        "variable.",
        "",
        "| variable | type | default | limits | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        env = f"`{alias}`" if isinstance(alias, str) else f"`{prefix}{name.upper()}`"
        row = [
            env,
            _type_name(field.annotation),
            _default(field.default),
            _limits(field.metadata),
            field.description or "",
        ]
        out.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(out) + "\n"


# -- the model --------------------------------------------------------------------------------


def model_page() -> str:
    from cmdb.domain.classes import ABSTRACT, TECHNICAL, all_classes, lineage
    from cmdb.domain.identifiers import UNIQUE_KINDS, IdentifierKind
    from cmdb.domain.relationships import REGISTRY, ImpactFlow

    out = [
        "# The model",
        "",
        "Generated from `cmdb/domain/` at every docs build: the CI classes, the relationship",
        "types with the way a failure travels along each, and the identifier kinds.",
        "",
        "## CI classes",
        "",
        "A query for a class includes its subclasses (`cmdb ci list --class Compute` lists",
        "servers, VMs, containers and pods). Abstract classes group others; no CI has one.",
        "",
    ]
    for name in all_classes():
        depth = len(lineage(name)) - 1
        label = f"`{name}`" + (" (abstract)" if name in ABSTRACT else "")
        out.append("    " * depth + f"- {label}")
    flows = {
        ImpactFlow.TARGET_TO_SOURCE: "target to source",
        ImpactFlow.SOURCE_TO_TARGET: "source to target",
        ImpactFlow.NONE: "none",
    }
    out += [
        "",
        "## Relationship types",
        "",
        "`source -[TYPE]-> target`. Commands take the type (`DEPENDS_ON`, `depends_on`) or",
        'either phrase: `cmdb rel add A "used by" B` is `B DEPENDS_ON A`. A failure travels',
        "along an edge in the direction given (target to source: when the target fails, the",
        "source is hit); a cluster membership carries redundancy (a cluster needing k of n",
        "members stays up while k are). The technical CIs are "
        + ", ".join(f"`{c}`" for c in TECHNICAL)
        + ".",
        "",
        "| type | forward | reverse | a failure travels | allowed (source -> target) |",
        "| --- | --- | --- | --- | --- |",
    ]

    def classes(names: tuple[str, ...]) -> str:
        return "any technical CI" if names == TECHNICAL else ", ".join(names)

    for rtype in REGISTRY.values():
        flow = flows[rtype.impact] + (", redundancy" if rtype.redundancy_membership else "")
        allowed = "; ".join(f"{classes(s)} -> {classes(t)}" for s, t in rtype.allowed)
        row = [f"`{rtype.name}`", rtype.forward, rtype.reverse, flow, allowed]
        out.append("| " + " | ".join(_cell(c) for c in row) + " |")
    out += [
        "",
        "## Identifier kinds",
        "",
        "Write an identifier `kind=value` (`serial=IBX7-40117`). A unique kind belongs to at",
        "most one CI, so it identifies the CI wherever a command takes one; the others help",
        "discovery match records but never identify a CI on their own.",
        "",
        "| kind | unique |",
        "| --- | --- |",
    ]
    for kind in IdentifierKind:
        out.append(f"| `{kind.value}` | {'yes' if kind in UNIQUE_KINDS else 'no'} |")
    return "\n".join(out) + "\n"


# -- REST -------------------------------------------------------------------------------------


def openapi() -> dict[str, Any]:
    """The app's OpenAPI document. The app factory is imported here and nowhere else in the
    docs tooling: when it moves, this is the one line to change."""
    from cmdb.config import Settings
    from cmdb.server.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        # The factory opens the token file; the store only opens when the app starts.
        settings = Settings(db_path=Path(tmp) / "cmdb.db", tokens_path=Path(tmp) / "tokens.db")
        return create_app(settings).openapi()


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _schema_type(schema: Mapping[str, Any], *, link: bool = True) -> str:
    """A short human name for a JSON schema: a model name, `list[...]`, a union, enums."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f"[{name}](rest-models.md#{name})" if link else name
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            parts = [_schema_type(s, link=link) for s in schema[key] if s.get("type") != "null"]
            return " or ".join(dict.fromkeys(parts))
    if "enum" in schema:
        return " or ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type")
    if kind == "array":
        return f"list[{_schema_type(schema.get('items', {}), link=link)}]"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map[{_schema_type(schema['additionalProperties'], link=link)}]"
    if isinstance(kind, str):
        fmt = schema.get("format")
        return f"{kind} ({fmt})" if fmt else kind
    return "any"


def _body(op: Mapping[str, Any]) -> list[str]:
    body = op.get("requestBody")
    if not body:
        return []
    lines = ["", "Body" + (" (required)" if body.get("required") else "") + ":", ""]
    if body.get("description"):
        lines[1] += " " + " ".join(body["description"].split())
    for media, content in body.get("content", {}).items():
        lines.append(f"- `{media}`: {_schema_type(content.get('schema', {}))}")
    return lines


def _responses(op: Mapping[str, Any]) -> list[str]:
    lines = ["", "Responses:", ""]
    for code, resp in op.get("responses", {}).items():
        kinds = [
            f"`{media}` {_schema_type(c.get('schema', {}))}"
            for media, c in resp.get("content", {}).items()
        ]
        what = ", ".join(kinds)
        desc = " ".join(str(resp.get("description", "")).split())
        lines.append(f"- `{code}` {desc}" + (f": {what}" if what else ""))
    return lines


def _parameters(op: Mapping[str, Any]) -> list[str]:
    params = op.get("parameters", [])
    if not params:
        return []
    lines = [
        "",
        "| parameter | in | type | required | default | description |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for p in params:
        schema = p.get("schema", {})
        default = schema.get("default")
        row = [
            f"`{p['name']}`",
            p.get("in", ""),
            _schema_type(schema),
            "yes" if p.get("required") else "",
            "" if default is None else f"`{json.dumps(default)}`",
            p.get("description") or schema.get("description") or "",
        ]
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return lines


def rest_page(doc: Mapping[str, Any]) -> str:
    info = doc.get("info", {})
    by_tag: dict[str, list[tuple[str, str, Mapping[str, Any]]]] = {}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            tag = (op.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append((method.upper(), path, op))
    out = [
        "# REST API",
        "",
        f"Generated from the app's OpenAPI document ({info.get('title', '')}"
        f" {info.get('version', '')}) at every docs build; the same document is served at",
        "`/api/v1/openapi.json` and browsable at `/docs` on a running server"
        " ([download it](openapi.json)). Request and response models are on",
        "[REST models](rest-models.md).",
        "",
        "Every request but `health` and `ready` needs `Authorization: Bearer <token>`"
        " (`cmdb token create`), unless the server runs with `CMDB_AUTH_DISABLED=true`"
        ' (local development only). Errors are `{"error": {"type", "message",'
        ' "where", "request_id"}}`.',
        "",
    ]
    for tag, ops in by_tag.items():
        out += [f"## {tag}", ""]
        for method, path, op in ops:
            op_id = op.get("operationId", "")
            out += [f"### `{method} {path}` {{#{op_id}}}", ""]
            out.append(f"Operation `{op_id}`.")
            if op.get("description"):
                out += ["", op["description"].strip()]
            out += _parameters(op) + _body(op) + _responses(op) + [""]
    return "\n".join(out)


def rest_models_page(doc: Mapping[str, Any]) -> str:
    schemas = doc.get("components", {}).get("schemas", {})
    out = [
        "# REST models",
        "",
        "Generated from the app's OpenAPI document: every request and response model the",
        "[REST API](rest.md) names. `In` models are what you send, `Out` models what you get.",
        "",
    ]
    for name in sorted(schemas, key=str.lower):
        schema = schemas[name]
        out += [f"## {name} {{#{name}}}", ""]
        if schema.get("description"):
            out += [" ".join(schema["description"].split()), ""]
        props = schema.get("properties")
        if not props:
            out += [f"Type: {_schema_type(schema)}.", ""]
            continue
        required = set(schema.get("required", []))
        out += ["| field | type | required | description |", "| --- | --- | --- | --- |"]
        for prop, sub in props.items():
            row = [
                f"`{prop}`",
                _schema_type(sub),
                "yes" if prop in required else "",
                sub.get("description", ""),
            ]
            out.append("| " + " | ".join(_cell(c) for c in row) + " |")
        out.append("")
    return "\n".join(out)


# -- GraphQL ----------------------------------------------------------------------------------


def graphql_sdl() -> str:
    from cmdb.gql.schema import sdl

    return sdl()


def graphql_page(sdl: str) -> str:
    from graphql import GraphQLObjectType, build_schema

    schema = build_schema(sdl)
    out = [
        "# GraphQL API",
        "",
        "Generated from `cmdb.gql.schema.sdl()` at every docs build (the schema is also",
        "exported to `graphql/schema.graphql`, which a test checks for drift;"
        " [download it](schema.graphql)).",
        "It is served at `/graphql` (POST `application/json`; GraphiQL in a browser when",
        "`CMDB_GRAPHIQL` is on), with the same tokens and service scopes as REST. Worked",
        "examples the tests execute are in `graphql/operations/`.",
        "",
    ]
    roots: list[tuple[str, GraphQLObjectType | None]] = [
        ("Queries", schema.query_type),
        ("Mutations", schema.mutation_type),
    ]
    for title, root in roots:
        if root is None:
            continue
        out += [
            f"## {title}",
            "",
            "| field | arguments | returns | description |",
            "| --- | --- | --- | --- |",
        ]
        for name, field in root.fields.items():
            args = ", ".join(f"{a}: {v.type}" for a, v in field.args.items())
            row = [f"`{name}`", f"`{args}`" if args else "", f"`{field.type}`"]
            row.append(field.description or "")
            out.append("| " + " | ".join(_cell(c) for c in row) + " |")
        out.append("")
    out += ["## Schema", "", "```graphql", sdl.rstrip(), "```", ""]
    return "\n".join(out)


# -- all pages --------------------------------------------------------------------------------


def generate() -> dict[str, str]:
    """Every generated file, by its path under the docs directory."""
    doc = openapi()
    sdl = graphql_sdl()
    pages: dict[str, Callable[[], str]] = {
        "reference/cli.md": cli_page,
        "reference/settings.md": settings_page,
        "reference/model.md": model_page,
        "reference/rest.md": lambda: rest_page(doc),
        "reference/rest-models.md": lambda: rest_models_page(doc),
        "reference/openapi.json": lambda: json.dumps(doc, indent=2) + "\n",
        "reference/graphql.md": lambda: graphql_page(sdl),
        "reference/schema.graphql": lambda: sdl,
    }
    return {path: make() for path, make in pages.items()}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python docs/gen_reference.py OUTDIR", file=sys.stderr)
        return 2
    out = Path(argv[0])
    for rel, text in generate().items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
