"""discovery.io.yaml_documents through libyaml: the same values, lines and refusals as the
pure-Python loader it replaced (kept as the fallback), and as PyYAML's own SafeLoader.

The property tests compare, on generated documents, the libyaml reader with PyYAML's
``CSafeLoader`` (the same parser: any difference is the construction's) and with the
pure-Python ``SafeLoader``; the real inventories must read identically through both loaders.
"""

from __future__ import annotations

import datetime
import gc
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from cmdb.domain.errors import InvalidInput
from discovery import io
from discovery.io import MAX_ALIASES, MAX_DEPTH, yaml_documents

ROOT = Path(__file__).resolve().parents[3]
INVENTORIES = ROOT.parent / "shared" / "data" / "inventories"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

pytestmark = pytest.mark.skipif(
    not io._use_libyaml(), reason="PyYAML without libyaml 0.2.6+: only the pure-Python loader"
)


# -- helpers -----------------------------------------------------------------------------


def same(a: Any, b: Any, _pairs: set[tuple[int, int]] | None = None) -> bool:
    """Equal, with the same types all the way down (True is not 1), NaN equal to NaN,
    mappings in the same order; a collection that contains itself is compared once."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if not isinstance(a, dict | list | tuple):
        return bool(a == b)
    pairs = set() if _pairs is None else _pairs
    if (id(a), id(b)) in pairs:
        return True
    pairs.add((id(a), id(b)))
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            same(ka, kb, pairs) and same(va, vb, pairs)
            for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True)
        )
    return len(a) == len(b) and all(same(x, y, pairs) for x, y in zip(a, b, strict=True))


def read(path: Path, *, libyaml: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The documents, or ("refused", message) for InvalidInput."""
    with monkeypatch.context() as m:
        m.setattr(io, "LIBYAML", libyaml)
        try:
            return list(yaml_documents(path))
        except InvalidInput as exc:
            return ("refused", str(exc))


def both(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    return (
        read(path, libyaml=True, monkeypatch=monkeypatch),
        read(path, libyaml=False, monkeypatch=monkeypatch),
    )


def text_documents(text: str) -> Any:
    """The libyaml reader on a text: [(line, value)] with empty documents kept as None, or
    the exception it raised."""
    try:
        return list(io._CDocuments(text))
    except yaml.YAMLError as exc:
        return exc


def pyyaml(text: str, loader: Any) -> Any:
    """PyYAML's own loader on a text: [(line, value)], or the exception it raised."""
    ld = loader(text)
    out = []
    try:
        while ld.check_node():
            node = ld.get_node()
            out.append((node.start_mark.line + 1, ld.construct_document(node)))
        return out
    except Exception as exc:  # SafeConstructor lets ValueError & co. out: see test below
        return exc
    finally:
        ld.dispose()


def agree(ours: Any, theirs: Any) -> bool:
    """Both refused (ours with a YAML error, never anything else), or both read the same."""
    if isinstance(theirs, Exception) or isinstance(ours, Exception):
        return isinstance(ours, yaml.YAMLError) and isinstance(theirs, Exception)
    return same(ours, theirs)


# -- generated documents ------------------------------------------------------------------

# Plain scalars that resolve to every type SafeLoader knows, and near misses.
TRICKY = [
    "yes", "No", "ON", "off", "y", "n", "true", "False", "TRUE", "tRue", "null", "Null", "~",
    "NULL", "nULL", "0", "-0", "+0", "007", "08", "0o17", "0b1011", "0b", "0x1F", "0x_1f",
    "-0x1F", "+12", "1_000", "1__0", "190:20:30", "-1:30", "1:70", "12e3", "1.5", "-1.5e+3",
    "6.8523015e+5", "685.230_15e+03", "190:20:30.15", ".inf", "-.Inf", "+.INF", ".nan",
    ".NaN", ".", "._", "1.", "-.5", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5", "2001-12-15T02:59:43.1Z", "2002-12-14", "2001-1-1",
    "2001-02-30", "20011-12-14", "<<", "=", "-", "name", "namespace", "TCP", "8080",
    "10.0.0.1", "1.2.3", "v1", "apps/v1", "http://a.b:80/x", "a b", "é", "日本",
    "0b_", "0x_", "1" * 4400,  # these three make SafeConstructor raise ValueError
]  # fmt: skip
WORD = st.from_regex(r"[-+.~<=]?[0-9a-fA-FnNoOtTyYxXbe_:.]{0,10}", fullmatch=True)
PLAIN = st.sampled_from(TRICKY) | WORD
TAGS = ["!!str", "!!int", "!!float", "!!bool", "!!null", "!!timestamp", "!!binary", "!", "!x"]


def _quote(s: str, style: str) -> str:
    if style == "'":
        return "'" + s.replace("'", "''") + "'"
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def scalar_text(draw: st.DrawFn) -> str:
    value = draw(PLAIN)
    style = draw(st.sampled_from(["", "", "", "'", '"']))
    text = value if style == "" else _quote(value, style)
    if draw(st.integers(0, 9)) == 0:
        text = f"{draw(st.sampled_from(TAGS))} {text}"
    return text


class _Doc:
    """Renders a random tree as flow or block YAML, with anchors, aliases and merge keys."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.anchors: list[str] = []

    def anchor(self) -> str:
        if self.draw(st.integers(0, 7)) == 0:
            name = f"a{len(self.anchors)}"
            self.anchors.append(name)
            return f"&{name} "
        return ""

    def leaf(self) -> str:
        if self.anchors and self.draw(st.integers(0, 6)) == 0:
            return "*" + self.draw(st.sampled_from(self.anchors))
        return self.anchor() + self.draw(scalar_text())

    def flow(self, depth: int) -> str:
        kind = self.draw(st.sampled_from(["leaf", "leaf", "map", "seq"])) if depth else "leaf"
        if kind == "leaf":
            return self.leaf()
        head = self.anchor()
        n = self.draw(st.integers(0, 3))
        if kind == "seq":
            return head + "[" + ", ".join(self.flow(depth - 1) for _ in range(n)) + "]"
        pairs = [f"{self.key()}: {self.flow(depth - 1)}" for _ in range(n)]
        return head + "{" + ", ".join(pairs) + "}"

    def key(self) -> str:
        if self.anchors and self.draw(st.integers(0, 9)) == 0:
            return "<<"  # a merge key: its value must be a mapping (or SafeLoader says no)
        return self.draw(scalar_text())

    def block(self, depth: int, indent: str) -> str:
        kind = self.draw(st.sampled_from(["map", "map", "seq"]))
        n = self.draw(st.integers(1, 3))
        lines = []
        for _ in range(n):
            lead = f"{indent}- " if kind == "seq" else f"{indent}{self.key()}: "
            if depth and self.draw(st.booleans()):
                head = self.anchor()
                lines.append(f"{lead}{head}".rstrip())
                lines.append(self.block(depth - 1, indent + "  "))
            else:
                lines.append(lead + self.flow(depth - 1 if depth else 0))
        return "\n".join(lines)


@st.composite
def yaml_text(draw: st.DrawFn) -> str:
    docs = []
    for _ in range(draw(st.integers(1, 3))):
        doc = _Doc(draw)
        if draw(st.booleans()):
            docs.append(doc.block(draw(st.integers(0, 3)), ""))
        else:
            docs.append(doc.flow(draw(st.integers(0, 4))))
    return "\n---\n".join(docs) + "\n"


# Python data through yaml.dump: quoting and escapes of every sort, anchors for shared parts.
_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.sampled_from(TRICKY)
    | st.dates()
    | st.datetimes(timezones=st.none() | st.just(datetime.UTC))
    | st.binary(max_size=8)
)
DATA = st.recursive(
    _LEAF,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers() | st.booleans(), kids, max_size=4)
    ),
    max_leaves=25,
)


@st.composite
def dumped(draw: st.DrawFn) -> str:
    data = draw(st.lists(DATA, min_size=1, max_size=3))
    if draw(st.booleans()) and isinstance(data[0], list | dict):
        data = [{"one": data[0], "two": data[0], "three": [data[0]]}]  # aliases
    style = draw(st.sampled_from([None, True, False]))
    return yaml.safe_dump_all(
        data,
        default_flow_style=style,
        allow_unicode=draw(st.booleans()),
        canonical=draw(st.integers(0, 5)) == 0,
        width=draw(st.sampled_from([20, 80, 1000])),
        explicit_start=draw(st.booleans()),
    )


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(yaml_text() | dumped())
@example("a: 1\nb: [x, y]\n---\n- &r {k: v}\n- *r\n")
@example("x: &a {a: 1, b: 2}\ny:\n  <<: *a\n  c: 3\n")
@example("&a [*a, 1]\n")  # a sequence that contains itself
@example("!!set {a, b}\n---\n!!omap [a: 1, b: 2]\n---\n!!binary aGVsbG8=\n")
@example("? [a, b]\n: 1\n")  # a collection as a key: SafeConstructor refuses it
@example("a: !custom x\n")
def test_same_values_as_pyyaml_c_safe_loader(text: str) -> None:
    # One parser (libyaml), two constructions: any difference is ours.
    assert agree(text_documents(text), pyyaml(text, yaml.CSafeLoader))


# Where libyaml's parser and PyYAML's read the same text differently (see the test below):
# an empty scalar with the non-specific tag "!", and in a flow collection a plain scalar
# ending in ":" (``[a:, b]``), which libyaml refuses.
_EMPTY_BANG = re.compile(r"!(?= *(?:$|[,\]}\n]|: ))", re.M)
_COLON_END = re.compile(r"[^\s,\[{]:(?=[,\]}])")


@SETTINGS
@given(yaml_text() | dumped())
@example("key: 2001-12-14 21:59:43.10 -5\nn: 0x_1F\nt: ~\n")
def test_same_values_as_the_pure_python_safe_loader(text: str) -> None:
    assume(not _EMPTY_BANG.search(text) and not _COLON_END.search(text))
    ours, theirs = text_documents(text), pyyaml(text, yaml.SafeLoader)
    assert agree(ours, theirs), (ours, theirs)


def test_where_the_parsers_differ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pinned, so a change of either shows. Neither is written by a tool that makes inventories.
    path = _write(tmp_path, "a: !\nb: [x:, y]\n")
    ours, theirs = both(path, monkeypatch)
    assert ours == ("refused", f"{path}:2:6: invalid YAML: found unexpected ':'")
    assert theirs == [(1, {"a": None, "b": [{"x": None}, "y"]})]
    ours, theirs = both(_write(tmp_path, "a: !\n"), monkeypatch)
    assert (ours, theirs) == ([(1, {"a": ""})], [(1, {"a": None})])


def test_aliases_stay_shared_like_safe_constructor() -> None:
    [(_, data)] = text_documents("a: &x [1, {b: 2}]\nb: *x\nc: &s {k: v}\nd: *s\n")
    assert data["a"] is data["b"] and data["c"] is data["d"]
    [(_, loop)] = text_documents("&l [*l]\n")
    assert loop[0] is loop


# -- the real inventories ----------------------------------------------------------------


def _yaml_files() -> list[Path]:
    real = sorted(p for p in INVENTORIES.rglob("*") if p.suffix in (".yaml", ".yml"))
    return real + sorted(p for p in FIXTURES.iterdir() if p.suffix in (".yaml", ".yml"))


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: p.name)
def test_real_inventories_read_the_same_through_both_loaders(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, theirs = both(path, monkeypatch)
    if isinstance(theirs, tuple):  # a fixture the loaders refuse: the same place
        assert isinstance(ours, tuple)
        assert ours[1].split(": invalid YAML")[0] == theirs[1].split(": invalid YAML")[0]
        if "refused" in theirs[1]:  # this module's own words, not the parser's
            assert ours == theirs
    else:
        assert same(ours, theirs)


def test_the_real_inventories_are_there() -> None:
    if not INVENTORIES.is_dir():
        pytest.skip(f"the shared real inventories are not checked out at {INVENTORIES}")
    assert len([p for p in _yaml_files() if INVENTORIES in p.parents]) >= 15


# -- refusals: the same as the pure-Python loader's --------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _nested(levels: int, style: str) -> str:
    """A document whose deepest node is ``levels`` deep (the top one is 1)."""
    n = levels - 1  # collections around the innermost scalar
    if style == "flow":
        return "[" * n + "x" + "]" * n + "\n"
    if style == "flow-map":
        return "{a: " * n + "x" + "}" * n + "\n"
    return "".join(f"{'  ' * i}k{i}:\n" for i in range(n)) + f"{'  ' * n}x\n"


@pytest.mark.parametrize("style", ["flow", "flow-map", "block"])
def test_depth_limit_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, style: str
) -> None:
    ok = _write(tmp_path, _nested(MAX_DEPTH, style))  # MAX_DEPTH nodes deep, scalar included
    ours, theirs = both(ok, monkeypatch)
    assert not isinstance(ours, tuple) and same(ours, theirs)
    deep = _write(tmp_path, "a: 1\n---\n" + _nested(MAX_DEPTH + 1, style))
    ours, theirs = both(deep, monkeypatch)
    assert ours == theirs
    assert re.search(rf"nested more than {MAX_DEPTH} levels deep at line \d+: refused", ours[1])


@pytest.mark.parametrize(
    "text",
    ["[" * 200_000, "{a: " * 200_000, "- " * 200_000 + "x\n"],
    ids=["flow-seq", "flow-map", "block-seq"],
)
def test_very_deep_nesting_is_invalid_input_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    # libyaml stops at its nest level (1000) with a ScannerError; the C composer never
    # recurses deeper than that, and nothing in Python recurses past MAX_DEPTH.
    path = _write(tmp_path, text)
    ours = read(path, libyaml=True, monkeypatch=monkeypatch)
    assert isinstance(ours, tuple), ours
    assert ours[1].startswith(f"{path}:1:"), ours[1]
    assert "nest" in ours[1]


def _aliases(n: int, per_document: int) -> str:
    docs, left = [], n
    while left > 0:
        k = min(left, per_document)
        docs.append("a: &x [1]\nb:\n" + "".join("  - *x\n" for _ in range(k)))
        left -= k
    return "---\n".join(docs)


@pytest.mark.parametrize("per_document", [MAX_ALIASES + 5, 300])
def test_alias_cap_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, per_document: int
) -> None:
    # The count is over the file, as the pure-Python loader counted.
    ours, theirs = both(_write(tmp_path, _aliases(MAX_ALIASES, per_document)), monkeypatch)
    assert not isinstance(ours, tuple) and same(ours, theirs)
    ours, theirs = both(_write(tmp_path, _aliases(MAX_ALIASES + 1, per_document)), monkeypatch)
    assert ours == theirs
    assert re.search(rf"more than {MAX_ALIASES} YAML aliases at line \d+: refused", ours[1])


def test_billion_laughs_is_refused_quickly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = ["l0: &l0 [lol, lol]"] + [
        f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 120)
    ]
    ours, theirs = both(_write(tmp_path, "\n".join(lines) + "\n"), monkeypatch)
    assert ours == theirs
    assert "aliases at line 102: refused" in ours[1]  # l1..l100 (lines 2..101) hold 1000


def test_an_alias_too_deep_is_placed_where_the_alias_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "x: &a v\ny: " + "[" * (MAX_DEPTH - 1) + "\n *a" + "]" * (MAX_DEPTH - 1) + "\n"
    ours, theirs = both(_write(tmp_path, text), monkeypatch)
    assert ours == theirs
    assert f"nested more than {MAX_DEPTH} levels deep at line 3: refused" in ours[1]


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("a: 1\nwhen: 2001-02-30\n", ":2:7"),  # matches the timestamp pattern, no such day
        ("a: 0x_\n", ":1:4"),
        ("a: !!int abc\n", ":1:4"),
        ("a: !!bool maybe\n", ":1:4"),
        ("a: !!timestamp soon\n", ":1:4"),
        ("- " + "1" * 5000 + "\n", ":1:3"),  # more digits than int() converts
    ],
)
def test_a_scalar_its_type_cannot_hold_is_invalid_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, place: str
) -> None:
    # SafeConstructor lets ValueError (and KeyError, AttributeError) out of these: before,
    # a crash of `cmdb discover` with a stack trace.
    path = _write(tmp_path, text)
    ours, theirs = both(path, monkeypatch)
    assert ours == theirs
    assert ours[1].startswith(f"{path}{place}: invalid YAML: "), ours[1]


def test_a_character_yaml_forbids_is_placed_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, "a: 1\n---\nb: x\x07y\n")
    ours, theirs = both(path, monkeypatch)
    assert (
        ours == theirs == ("refused", f"{path}:3:5: invalid YAML: character U+0007 is not allowed")
    )


def test_syntax_errors_are_placed_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # libyaml words its messages its own way; the place is what a user acts on.
    broken = [
        "a: [1, 2",
        "a: b: c",
        "- a\nb: 1",
        "a: 'x",
        "a: *nowhere",
        "é: {b: pröd",
        "a: {b\r\nc",
    ]
    # with and without a line break at the end: libyaml places the end differently
    for text in broken + [t + "\n" for t in broken]:
        path = _write(tmp_path, "ok: 1\n---\n" + text)
        ours, theirs = both(path, monkeypatch)
        assert isinstance(ours, tuple) and isinstance(theirs, tuple), (text, ours, theirs)
        assert ours[1].split(": invalid YAML")[0] == theirs[1].split(": invalid YAML")[0], text


def test_documents_stream_before_a_broken_one(tmp_path: Path) -> None:
    stream: Iterator[tuple[int, Any]] = yaml_documents(
        _write(tmp_path, "# c\n\na: 1\n---\n---\nb: 2\n---\nc: [\n")
    )
    assert next(stream) == (3, {"a": 1})
    assert next(stream) == (6, {"b": 2})  # the empty document is skipped
    with pytest.raises(InvalidInput):
        next(stream)


@pytest.mark.parametrize("without", ["libyaml", "its nest level cap", "LIBYAML"])
def test_without_a_capped_libyaml_the_pure_python_loader_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, without: str
) -> None:
    if without == "libyaml":
        monkeypatch.setattr(yaml, "__with_libyaml__", False)
    elif without == "its nest level cap":  # "[" * 200000 would overflow the C stack
        monkeypatch.setattr(yaml._yaml, "_get_max_nest_level", lambda: 1_000_000)
    else:
        monkeypatch.setattr(io, "LIBYAML", False)
    assert not io._use_libyaml()
    path = _write(tmp_path, "a: [1, yes]\n---\n" + "[" * 200_000)
    stream = yaml_documents(path)
    assert next(stream) == (1, {"a": [1, True]})
    with pytest.raises(InvalidInput, match=f"nested more than {MAX_DEPTH} levels deep at line 3"):
        next(stream)


def test_the_collector_is_left_as_it_was(tmp_path: Path) -> None:
    path = _write(tmp_path, "a: 1\n---\nb: [2]\n")
    assert gc.isenabled()
    list(yaml_documents(path))
    assert gc.isenabled()
    gc.disable()
    try:
        list(yaml_documents(path))
        assert not gc.isenabled()
    finally:
        gc.enable()
