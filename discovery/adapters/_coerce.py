"""Reading untrusted documents defensively: a value of the wrong type reads as absent.

Manifests, Compose files, fact dumps and SBOMs leave sections null (``selector:``) or give
them the wrong type (``replicas: true``, ``labels: [a]``). The adapters read such values
through these helpers instead of trusting the shape, so a mistyped section is missing data
rather than a crash, and only scalars are copied out: nothing nested is walked (a document
built from nested YAML aliases expands exponentially when walked).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from cmdb.domain.built import built
from cmdb.domain.errors import InvalidInput
from cmdb.domain.identifiers import MAX_VALUE_CHARS, Identifier, IdentifierKind, normalise


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def as_text(value: object) -> str | None:
    """A non-empty string as given (not stripped), else None."""
    return value if isinstance(value, str) and value else None


def stripped_text(value: object) -> str | None:
    """A string with something besides white space, stripped, else None."""
    if isinstance(value, str):
        return value.strip() or None  # stripped once: it is read for most fields of a record
    return None


def scalar_text(value: object) -> str | None:
    """A scalar as text (``true``/``false`` for booleans, as YAML spells them), else None."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def as_int(value: object) -> int | None:
    # bool is an int in Python; ``replicas: true`` is not a count.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def str_map(value: object) -> dict[str, str]:
    """Labels and selectors: scalar keys and values only, anything nested left out."""
    out: dict[str, str] = {}
    for k, v in as_dict(value).items():
        key, val = scalar_text(k), scalar_text(v)
        if key is not None and val is not None:
            out[key] = val
    return out


def texts(values: object) -> list[str]:
    """The non-empty strings of a list; anything else in it is left out."""
    return [v for v in as_list(values) if isinstance(v, str) and v]


def scalar_texts(values: object) -> list[str]:
    """The non-empty scalars of a list as text (``expose: [80, "443"]``)."""
    return [t for t in (scalar_text(v) for v in as_list(values)) if t]


def compact(attrs: dict[str, Any]) -> dict[str, Any]:
    """Drop what the input did not say, so absent and empty read the same."""
    # ``v != {} and v != []`` made two containers per value compared; an empty dict or list
    # is the only falsy dict or list.
    return {
        k: v for k, v in attrs.items() if v is not None and (v or not isinstance(v, dict | list))
    }


def as_identifier(kind: IdentifierKind, value: object) -> Identifier | None:
    """The identifier, or None where the value is not one of that kind (a bad MAC, say)."""
    if type(value) is str:
        # What validating ``Identifier`` does, in its order (the length of the value as
        # given, then ``normalise``), without pydantic: several identifiers per resource
        # were a large part of the importers' time.
        if len(value) > MAX_VALUE_CHARS:
            return None
        try:
            return built(Identifier, kind=kind, value=normalise(kind, value))
        except InvalidInput:
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return Identifier(kind=kind, value=value)
    except ValidationError:
        return None
