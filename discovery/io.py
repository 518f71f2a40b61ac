"""Safe reading of inventory files: YAML, JSON and XML, with the file and place in errors.

Every adapter reads through here, so the defences are in one place: a size cap, YAML safe
loading (through libyaml where PyYAML has it) with caps on aliases (a "billion laughs"
document expands aliases exponentially in whoever walks it) and on nesting, XML through
defusedxml (no entity expansion, no external entities), and errors that name the file,
line and column.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import orjson
import yaml
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cmdb.domain.errors import InvalidInput
from cmdb.store.gcpause import gc_paused

MAX_BYTES = 256 * 1024 * 1024
MAX_ALIASES = 1_000
# The pure-Python loader composes nodes recursively (three Python frames a level): a document
# nested deeper than this would end in RecursionError. No real inventory comes near it.
MAX_DEPTH = 100


def _check_size(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInput(f"cannot read: {exc.strerror}", where=str(path)) from exc
    if size > MAX_BYTES:
        raise InvalidInput(f"file is {size} bytes; the limit is {MAX_BYTES}", where=str(path))


def read_text(path: Path) -> str:
    _check_size(path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"not UTF-8 text (byte {exc.start}: {exc.reason})", where=str(path)
        ) from exc
    except OSError as exc:
        raise InvalidInput(f"cannot read: {exc.strerror}", where=str(path)) from exc


# --- YAML ---------------------------------------------------------------------------------
#
# Two loaders, one behaviour. libyaml (PyYAML's C extension) parses and composes the nodes;
# Python values are built from them by ``_Build`` (the safe types, as SafeConstructor builds
# them) or, for a document using anything else, by SafeConstructor itself: a large manifest
# reads some fifteen times faster than through the pure-Python loader, which reads where
# libyaml is missing (and is bench/readers.py's baseline).

# False: read with the pure-Python loader (bench/readers.py sets it for the baseline).
LIBYAML: bool = yaml.__with_libyaml__
# libyaml composes in C, one C call per nesting level. From 0.2.6 it refuses input nested
# deeper than its nest level (1000 unless changed): ~0.5 MB of stack, where "[" * 200000 would
# overflow the stack and kill the process. Without that cap, the pure-Python loader reads.
_LIBYAML_NEST_MAX = 1_000

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
# Scalar tags whose SafeConstructor function ``_Build`` calls; any other tag (merge keys,
# binary, sets, custom tags...) sends the document to SafeConstructor.
_SCALARS = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("null", "bool", "int", "float", "timestamp")
)
# Plain scalars of a file, resolved once: keys and common values repeat on every object.
_PLAIN_CACHE = 100_000
_MISSING = object()


def _checked(construct: Any, what: str) -> Any:
    """A SafeConstructor scalar function whose Python errors become YAML errors with the place:
    ``2001-02-30``, ``0x_`` or ``!!int abc`` make ValueError, KeyError, IndexError..."""

    def construct_checked(loader: Any, node: ScalarNode) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, KeyError, IndexError, AttributeError, TypeError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a valid {what} ({exc})", node.start_mark
            ) from exc

    return construct_checked


def _check_scalars(loader: Any) -> None:
    for what in ("bool", "int", "float", "timestamp"):
        tag = f"tag:yaml.org,2002:{what}"
        loader.add_constructor(tag, _checked(yaml.SafeLoader.yaml_constructors[tag], what))


def _resolved(loader: Any, kind: type[Node], value: str | None, implicit: Any) -> str:
    """The tag SafeLoader's composer gives a node (``_CLoader.resolve`` defers it)."""
    tag: str = yaml.resolver.BaseResolver.resolve(loader, kind, value, implicit)  # type: ignore[no-untyped-call]
    return tag


def _too_many_aliases(mark: Any) -> yaml.YAMLError:
    return yaml.YAMLError(f"more than {MAX_ALIASES} YAML aliases at line {mark.line + 1}: refused")


def _too_deep(mark: Any) -> yaml.YAMLError:
    return yaml.YAMLError(
        f"nested more than {MAX_DEPTH} levels deep at line {mark.line + 1}: refused"
    )


class _CappedLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents with more aliases, or nested deeper, than any real
    inventory has."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _too_many_aliases(self.peek_event().start_mark)  # type: ignore[no-untyped-call]
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _too_deep(self.peek_event().start_mark)  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_check_scalars(_CappedLoader)


def _py_documents(text: str) -> Iterator[tuple[int, Any]]:
    loader = _CappedLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                yield node.start_mark.line + 1, loader.construct_document(node)
    finally:
        loader.dispose()


class _Tag(str):
    """A tag ``_CLoader.resolve`` gives: equal to the tag's name, so SafeConstructor reads it
    as that tag, and told apart from any tag a document writes by identity (``is``)."""

    __slots__ = ()


# What the composer's ``resolve`` settles at once: every collection, and every scalar that
# only a string can be (quoted, or plain but starting with none of the characters an implicit
# resolver is registered for: "name", "Deployment", "/healthz"; not "true", "8080", "~").
_STR_T, _MAP_T, _SEQ_T = _Tag(_STR), _Tag(_MAP), _Tag(_SEQ)


if yaml.__with_libyaml__:

    class _CLoader(yaml.CSafeLoader):
        """libyaml's composer with a cheaper tag resolution. The composer calls ``resolve``
        and the path-resolver hooks (no-ops without path resolvers) for every node, in
        Python; SafeLoader's ``resolve`` tries regular expressions on most plain scalars.
        This one returns the ``_Tag`` where the first character settles it, and else the
        scalar's ``implicit`` flags: ``_Build`` resolves those (once per distinct value)."""

        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.first = frozenset(self.yaml_implicit_resolvers)

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            if kind is ScalarNode:
                if implicit[0] and value[:1] in self.first:
                    return implicit
                return _STR_T
            return _MAP_T if kind is MappingNode else _SEQ_T

        def descend_resolver(self, current_node: Any, current_index: Any) -> None:
            pass

        def ascend_resolver(self) -> None:
            pass

    _check_scalars(_CLoader)


def _use_libyaml() -> bool:
    if not (LIBYAML and yaml.__with_libyaml__):
        return False
    nest_level = getattr(yaml._yaml, "_get_max_nest_level", None)  # libyaml 0.2.6 and later
    # ``_CLoader.resolve`` goes by a plain scalar's first character, as SafeLoader's implicit
    # resolvers do; resolvers for any first character (None) or by path are not its to mimic.
    return (
        nest_level is not None
        and nest_level() <= _LIBYAML_NEST_MAX
        and not _CLoader.yaml_path_resolvers
        and None not in _CLoader.yaml_implicit_resolvers
    )


class _Unusual(Exception):
    """A document ``_Build`` leaves to SafeConstructor."""


class _Build:
    """Python values of ``_CLoader``'s nodes, equal to what SafeConstructor makes of them, for
    the YAML inventories are written in: mappings, sequences, and str, int, float, bool, null
    and timestamp scalars (the last four by SafeConstructor's own functions, once per distinct
    plain scalar). Anything else raises ``_Unusual``: explicit tags beyond these, merge keys,
    collections as keys. Collections nested deeper than MAX_DEPTH are refused.

    ``shared``: the file may have anchors, so a node may be reached twice; each collection is
    then built once and shared, as SafeConstructor does (aliases are counted beforehand)."""

    def __init__(self, loader: Any, *, shared: bool) -> None:
        self.loader = loader
        self.constructors = loader.yaml_constructors
        self.plain: dict[str, Any] = {}
        self.shared = shared
        self.memo: dict[int, Any] | None = None

    def document(self, root: Node) -> Any:
        # Keyed by id(): a node's id may be reused once its document is gone.
        self.memo = {} if self.shared else None
        try:
            return self.value(root, 1)
        finally:
            self.memo = None

    def value(self, node: Node, depth: int) -> Any:
        tag = node.tag
        if tag is _STR_T:
            return node.value
        if node.__class__ is ScalarNode:
            return self.scalar(node)
        if self.memo is not None:
            done = self.memo.get(id(node), _MISSING)
            if done is not _MISSING:
                return done
        if node.__class__ is MappingNode and tag == _MAP:
            return self.mapping(node, depth)
        if node.__class__ is SequenceNode and tag == _SEQ:
            return self.sequence(node, depth)
        raise _Unusual(tag)

    def scalar(self, node: Node) -> Any:
        tag: Any = node.tag
        if tag.__class__ is tuple:
            return self.resolved(node)
        if tag == _STR:
            return node.value
        if tag in _SCALARS:
            return self.constructors[tag](self.loader, node)
        raise _Unusual(tag)

    def resolved(self, node: Node) -> Any:
        value: str = node.value
        found = self.plain.get(value, _MISSING)
        if found is _MISSING:
            tag = _resolved(self.loader, ScalarNode, value, (True, False))
            node.tag = tag
            found = self.scalar(node)
            if len(self.plain) < _PLAIN_CACHE:
                self.plain[value] = found
        return found

    # ``mapping`` and ``sequence`` run for every node of a file: the common cases of ``value``
    # (a string, a collection without an explicit tag) are inlined.

    def mapping(self, node: Node, depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        memo = self.memo
        if memo is not None:
            memo[id(node)] = out  # before the items: an item may be this mapping
        pairs: list[tuple[Node, Node]] = node.value
        if pairs and depth >= MAX_DEPTH:
            raise _too_deep(pairs[0][0].start_mark)
        depth += 1
        for key_node, value_node in pairs:
            tag = key_node.tag
            if tag is _STR_T:
                key = key_node.value
            elif key_node.__class__ is ScalarNode:
                key = self.scalar(key_node)
            else:
                raise _Unusual("a collection as a key")  # SafeConstructor refuses it
            tag = value_node.tag
            if tag is _STR_T:
                out[key] = value_node.value
            elif memo is not None:
                out[key] = self.value(value_node, depth)
            elif tag is _MAP_T:
                out[key] = self.mapping(value_node, depth)
            elif tag is _SEQ_T:
                out[key] = self.sequence(value_node, depth)
            else:
                out[key] = self.value(value_node, depth)
        return out

    def sequence(self, node: Node, depth: int) -> list[Any]:
        out: list[Any] = []
        memo = self.memo
        if memo is not None:
            memo[id(node)] = out
        items: list[Node] = node.value
        if items and depth >= MAX_DEPTH:
            raise _too_deep(items[0].start_mark)
        depth += 1
        append = out.append
        for item in items:
            tag = item.tag
            if tag is _STR_T:
                append(item.value)
            elif memo is not None:
                append(self.value(item, depth))
            elif tag is _MAP_T:
                append(self.mapping(item, depth))
            elif tag is _SEQ_T:
                append(self.sequence(item, depth))
            else:
                append(self.value(item, depth))
        return out


def _children(node: Node) -> list[Node]:
    if node.__class__ is MappingNode:
        return [n for pair in node.value for n in pair]
    return node.value if node.__class__ is SequenceNode else []


class _CDocuments:
    """The documents of one text through libyaml, with the pure-Python loader's refusals."""

    def __init__(self, text: str) -> None:
        self.text = text
        # An alias needs an anchor, and every anchor starts with "&": without one, no node
        # is reached twice and nothing needs counting.
        self.shared = "&" in text
        self.aliases = 0  # over the whole file, as the pure-Python loader counts them

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        loader = _CLoader(self.text)
        build = _Build(loader, shared=self.shared)
        try:
            while loader.check_node():
                # A document's nodes make no cycles, but hundreds of objects each (nodes,
                # marks): the collector would run every 700, promote the live ones and,
                # as they pile up, go through every object of the process again and again
                # (a third of the time of a large file).
                with gc_paused():
                    node = loader.get_node()
                    if node is None:
                        continue
                    line, data = node.start_mark.line + 1, self.build(loader, build, node)
                    del node  # freed while paused, not gone through when the collector resumes
                yield line, data
        finally:
            loader.dispose()

    def build(self, loader: Any, build: _Build, node: Node) -> Any:
        if self.shared:
            self.check(node)
        try:
            return build.document(node)
        except _Unusual:
            if not self.shared:
                self.check(node)  # the depth, before SafeConstructor walks it
            _resolve_tags(loader, node)
            return loader.construct_document(node)

    def check(self, root: Node) -> None:
        """Aliases and depth, counted as the pure-Python loader counts them while composing:
        the walk visits nodes in document order, and a node met again is an alias."""
        seen = {id(root)}

        def visit(node: Node, depth: int) -> None:
            for child in _children(node):
                if id(child) in seen:
                    self.aliases += 1
                    if self.aliases > MAX_ALIASES or depth >= MAX_DEPTH:
                        # A node does not say where its aliases stood; the events do.
                        raise _refusal(self.text) or _too_many_aliases(child.start_mark)
                    continue
                seen.add(id(child))
                if depth >= MAX_DEPTH:
                    raise _too_deep(child.start_mark)
                visit(child, depth + 1)

        visit(root, 1)


def _resolve_tags(loader: Any, root: Node) -> None:
    """Give the nodes ``_CLoader`` left unresolved the tags SafeLoader's composer gives."""
    stack, seen = [root], {id(root)}
    while stack:
        node = stack.pop()
        tag: Any = node.tag
        if tag.__class__ is tuple:
            node.tag = _resolved(loader, ScalarNode, node.value, tag)
        for child in _children(node):
            if id(child) not in seen:
                seen.add(id(child))
                stack.append(child)


def _refusal(text: str) -> yaml.YAMLError | None:
    """The pure-Python loader's refusal, found by replaying libyaml's events in its order."""
    aliases = open_collections = 0
    events = yaml._yaml.CParser(text)
    try:
        while (event := events.get_event()) is not None:
            if isinstance(event, yaml.CollectionEndEvent):
                open_collections -= 1
            elif isinstance(event, yaml.NodeEvent):
                if isinstance(event, yaml.AliasEvent):
                    aliases += 1
                    if aliases > MAX_ALIASES:
                        return _too_many_aliases(event.start_mark)
                if open_collections >= MAX_DEPTH:
                    return _too_deep(event.start_mark)
                if isinstance(event, yaml.CollectionStartEvent):
                    open_collections += 1
    except yaml.YAMLError:
        return None
    finally:
        events.dispose()
    return None


def yaml_documents(path: Path) -> Iterator[tuple[int, Any]]:
    """Each YAML document of a file with the line it starts on (1-based); empty ones skipped."""
    text = read_text(path)
    # The pure-Python reader checks every character before reading any; so does this, for
    # both loaders, so the error is the same (libyaml would say so only on reaching it).
    bad = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if bad:
        at = bad.start()
        line = text.count("\n", 0, at) + 1
        col = at - (text.rfind("\n", 0, at) + 1) + 1
        raise InvalidInput(
            f"invalid YAML: character U+{ord(bad.group()):04X} is not allowed",
            where=f"{path}:{line}:{col}",
        )
    documents = _CDocuments(text) if _use_libyaml() else _py_documents(text)
    try:
        for line, data in documents:
            if data is not None:
                yield line, data
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{_place(text, mark)}" if mark else str(path)
        raise InvalidInput(f"invalid YAML: {exc.problem or exc}", where=where) from exc
    except yaml.YAMLError as exc:
        raise InvalidInput(f"invalid YAML: {exc}", where=str(path)) from exc


_LINE_BREAKS = "\n\r\x85\u2028\u2029"


def _place(text: str, mark: Any) -> str:
    """``line:column`` (1-based) of a mark. Where a file's last line has no line break,
    libyaml ends it with one of its own and places the end of the input on the line after;
    the pure-Python loader placed it after the last character, and so does this."""
    if mark.index == len(text) and mark.column == 0 and text and text[-1] not in _LINE_BREAKS:
        start = max(text.rfind(c) for c in _LINE_BREAKS) + 1
        return f"{mark.line}:{len(text) - start + 1}"
    return f"{mark.line + 1}:{mark.column + 1}"


def json_document(path: Path) -> Any:
    _check_size(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read: {exc.strerror}", where=str(path)) from exc
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            # orjson says "surrogates not allowed" at 1:1 for UTF-16 and Latin-1 alike.
            raise InvalidInput(
                f"not UTF-8 text (byte {bad.start}: {bad.reason})", where=str(path)
            ) from exc
        raise InvalidInput(
            f"invalid JSON: {exc.msg}", where=f"{path}:{exc.lineno}:{exc.colno}"
        ) from exc


def xml_elements(path: Path, tag: str) -> Iterator[Element]:
    """Stream the elements named ``tag`` (cleared after use, so big files stay small)."""
    _check_size(path)
    try:
        for _event, elem in iterparse(str(path), events=("end",)):
            if elem.tag == tag:
                yield elem
                elem.clear()
    except DefusedXmlException as exc:
        raise InvalidInput(f"refused XML construct: {exc}", where=str(path)) from exc
    except SyntaxError as exc:  # xml.etree.ElementTree.ParseError
        line, col = getattr(exc, "position", (0, 0))
        raise InvalidInput(f"invalid XML: {exc.msg}", where=f"{path}:{line}:{col}") from exc
    except (LookupError, ValueError) as exc:
        # expat hands the declared encoding to Python's codecs: encoding="UTF-9" is a
        # LookupError, a multi-byte or mis-declared one a ValueError.
        raise InvalidInput(f"invalid XML encoding: {exc}", where=str(path)) from exc
