"""Parse and validate a query text once per process, not once per request.

graphql-core's validation (its rules plus the depth, alias and cost limits of
:mod:`cmdb.gql.limits`) walks the whole document with a visitor per rule; for the small
queries a page sends over and over, parsing and validating cost more than running them.
Every rule looks at the document alone (a variable counts as the largest value allowed),
and the schema, the token limit and the rules are fixed for the process, so a text found
valid stays valid: its parsed document is kept, and when the text comes again the parse
and the validation are skipped. Texts that failed are parsed and validated again each
time (their errors are built afresh per request, never shared).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from graphql import DocumentNode

KNOWN_VALID = 512


class KnownValid:
    """The parsed documents of the query texts last found valid, at most ``size`` (the
    least recently used go first)."""

    def __init__(self, size: int = KNOWN_VALID) -> None:
        self.size = size
        self._docs: OrderedDict[str, DocumentNode] = OrderedDict()

    def get(self, text: str) -> DocumentNode | None:
        doc = self._docs.get(text)
        if doc is not None:
            self._docs.move_to_end(text)
        return doc

    def add(self, text: str, doc: DocumentNode) -> None:
        self._docs[text] = doc
        self._docs.move_to_end(text)
        while len(self._docs) > self.size:
            self._docs.popitem(last=False)

    def __len__(self) -> int:
        return len(self._docs)


class SkipKnownValid(SchemaExtension):
    """A text already found valid is neither parsed nor validated again."""

    def __init__(self, known: KnownValid) -> None:
        super().__init__()
        self.known = known
        self._hit = False

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        doc = self.known.get(ctx.query) if ctx.query else None
        if doc is not None:
            # Strawberry parses only when no document is set yet.
            ctx.graphql_document = doc
            self._hit = True
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if self._hit:
            # ... and validates only while no errors are set: an empty list skips it.
            ctx.pre_execution_errors = []
        yield
        doc = ctx.graphql_document
        if ctx.pre_execution_errors == [] and doc is not None and not self._hit and ctx.query:
            self.known.add(ctx.query, doc)
