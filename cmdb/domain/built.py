"""Pydantic models built from values already known valid, without validating them again.

``Model.model_construct`` does this in Python at about the cost of validation itself;
:func:`built` does the same at about half of it, for the models made by the thousand on hot
paths (an adapter's records, an impact report's CIs and paths). Only for values the caller
has made valid itself; tests hold what each caller builds equal to the validated model.
"""

from __future__ import annotations

import functools
import keyword
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
# The four slots every model has, set through BaseModel's own descriptors: about a third of
# the cost of object.__setattr__, which first looks each name up along the class's MRO.
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


_REQUIRED = object()


@functools.cache
def _spec(cls: type[BaseModel]) -> tuple[tuple[str, Any, Any], ...]:
    """(name, default, default factory) per field, in the model's order (which a dump
    follows)."""
    return tuple(
        (
            name,
            _REQUIRED if info.is_required() else info.default,
            info.default_factory,
        )
        for name, info in cls.model_fields.items()
    )


# Each model's field names in order, by class (a dict read: every record made asks).
_NAMES: dict[type[BaseModel], tuple[str, ...]] = {}
# One fields set per frozen model and set of fields given, shared by all its instances
# made with every field. Sets are always tracked by the cyclic collector: one per record
# was a quarter of an AWS import's tracked objects, and the collector's pass over them once
# it runs again a sixth of the import. Sharing is safe where the model is frozen: pydantic
# adds to a model's own set only on assignment, which a frozen model refuses, and copies
# it before changing it (``model_copy``), so no record's set changes under another's.
_SHARED: dict[tuple[type[BaseModel], frozenset[str] | None], set[str]] = {}
# The same for a model that is not frozen, as a template each instance gets a copy of (a
# copy of a set is cheaper than a set of the keywords).
_TEMPLATES: dict[tuple[type[BaseModel], frozenset[str] | None], set[str]] = {}


def _fields_set(
    cls: type[BaseModel], given: frozenset[str] | None, values: dict[str, Any]
) -> set[str]:
    made = set(values if given is None else given)
    if cls.model_config.get("frozen"):
        _SHARED[(cls, given)] = made
    else:
        _TEMPLATES[(cls, given)] = set(made)
    return made


def built(cls: type[M], given: frozenset[str] | None = None, /, **values: Any) -> M:
    """``cls.model_construct(**values)`` at about half the cost, for models made by the
    thousand: no validation, defaults filled in, the fields
    given marked set. Only for values the caller has already made valid, as for
    ``model_construct``; a test re-validates what each caller makes.

    Fastest with every field given in the model's order; ``given`` then names the fields
    to mark set (as if only those had been given), where a caller spells out defaults."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(cls.model_fields)
    if tuple(values) == names:
        # Every field, in the model's order (which a dump follows): the keywords, a fresh
        # dict per call, are the fields as they stand; no loop over the spec, no call more.
        model = cls.__new__(cls)
        _set_dict(model, values)
        fields_set = _SHARED.get((cls, given))
        if fields_set is None:
            template = _TEMPLATES.get((cls, given))
            if template is None:
                fields_set = _fields_set(cls, given, values)
            else:
                fields_set = template.copy()
        _set_fields_set(model, fields_set)
        _set_extra(model, None)
        _set_private(model, None)
        return model
    fields: dict[str, Any] = {}
    for name, default, factory in _spec(cls):
        if name in values:
            fields[name] = values[name]
        elif factory is not None:
            fields[name] = factory()
        elif default is _REQUIRED:
            raise TypeError(f"{cls.__name__}: {name} is required")
        else:
            fields[name] = default
    if len(values) > len(fields) or not values.keys() <= fields.keys():
        raise TypeError(f"{cls.__name__}: no fields {sorted(set(values) - set(fields))}")
    return _made(cls, fields, set(values if given is None else given))


def _made(cls: type[M], fields: dict[str, Any], fields_set: set[str]) -> M:
    model = cls.__new__(cls)
    _set_dict(model, fields)
    _set_fields_set(model, fields_set)
    _set_extra(model, None)
    _set_private(model, None)
    return model


def builder(cls: type[M]) -> Callable[..., M]:
    """A maker of ``cls`` from every field as a keyword, every field marked set: what
    :func:`built` gives for every field in order, without its checks at each call. Python's
    own binding of the generated keyword-only parameters refuses a missing or unknown field;
    the fields go into the model's ``__dict__`` in the model's order, however they are
    passed. For the models an answer makes by the thousand (an impact report's CIs and
    paths); only for values the caller has made valid itself, as for :func:`built`."""
    names = tuple(cls.model_fields)
    # Field names are identifiers that never start with "_" (pydantic keeps those private),
    # so the generated function's own names below cannot clash with a parameter.
    if not all(n.isidentifier() and not keyword.iskeyword(n) for n in names):
        raise TypeError(f"{cls.__name__}: a field name is no Python identifier")
    frozen = bool(cls.model_config.get("frozen"))
    source = (
        f"def make(*, {', '.join(names)}):\n"
        "    _model = _new(_cls)\n"
        f"    _set_dict(_model, {{{', '.join(f'{n!r}: {n}' for n in names)}}})\n"
        f"    _set_fields_set(_model, {'_fields_set' if frozen else '_fields_set.copy()'})\n"
        "    _set_extra(_model, None)\n"
        "    _set_private(_model, None)\n"
        "    return _model\n"
    )
    scope: dict[str, Any] = {
        "_new": object.__new__ if cls.__new__ is object.__new__ else cls.__new__,
        "_cls": cls,
        "_fields_set": set(names),  # shared only by a frozen model's instances (see _SHARED)
        "_set_dict": _set_dict,
        "_set_fields_set": _set_fields_set,
        "_set_extra": _set_extra,
        "_set_private": _set_private,
    }
    exec(source, scope)  # the dataclass way: a plain function with the model's parameters
    make: Callable[..., M] = scope["make"]
    make.__qualname__ = f"builder({cls.__name__})"
    return make
