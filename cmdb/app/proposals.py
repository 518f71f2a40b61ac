"""What-if proposals: stage edits to the graph on an RFC; read, version, withdraw them.

What REST and the CLI call (``cmdb proposal ...``, ``/api/v1/changes/{id}/proposal``). A
proposal belongs to one change and has its id; it never touches the live graph. Every
write is checked as a whole against the live graph and the edits staged before it
(:class:`_Staged`): an edit that names an unknown CI or class, breaks the relationship
rules (cmdb.domain.relationships.check_allowed) or contradicts an earlier edit is refused,
every bad edit named with why, and nothing is saved.

Scope: a caller reads a proposal when it reads its change; it writes one when it may write
the change (everything the change names is in its view) and every live CI an edit names
is in its view (one outside answers as a missing one). The impact diff is in
:mod:`cmdb.app.proposal_diff`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cmdb.app.caller import Caller
from cmdb.app.changes import visible_change
from cmdb.app.inputs import validated
from cmdb.app.proposal_check import EditCheck, check_edits, identities, identity_holders
from cmdb.app.scope import Visibility, check_writable, readable
from cmdb.domain.classes import is_a
from cmdb.domain.errors import CmdbError, InvalidInput, NotFound
from cmdb.domain.identifiers import Identifier
from cmdb.domain.model import (
    CI,
    RETIRED_STATUSES,
    Redundancy,
    Relationship,
    new_ci_id,
    relationship_id,
)
from cmdb.domain.proposals import Edit, EditOp, Proposal, ProposalState
from cmdb.domain.records import ChangeState, ChangeType
from cmdb.domain.relationships import check_allowed, get_type
from cmdb.store.contract import GraphStore, Neighbour
from cmdb.store.refs import resolve_ci

MAX_EDITS = 1000  # edits one proposal holds (and one request adds)
MAX_NOTE = 2000


def now() -> datetime:
    return datetime.now(UTC)


# --- checking edits against the live graph and each other ----------------------------------


@dataclass
class _Staged:
    """The live graph as the edits so far leave it. What the edits name is read up front
    (:meth:`prefetch`: one batch read per kind, whatever the number of edits, as on Neo4j
    each call is a round trip); a reference by name, which no batch read answers, is
    resolved as anywhere else (:func:`resolve_ci`)."""

    store: GraphStore
    vis: Visibility
    added: dict[str, CI] = field(default_factory=dict)
    live: dict[str, CI] = field(default_factory=dict)
    retired: set[str] = field(default_factory=set)
    rels_added: set[str] = field(default_factory=set)
    rels_retired: set[str] = field(default_factory=set)
    # Read up front: the live CIs by id (whatever the caller's view), the relationships
    # between them (None: absent), who holds the new CIs' identities, and what is around
    # each CI to retire.
    known: dict[str, CI] = field(default_factory=dict)
    links: dict[str, Relationship | None] = field(default_factory=dict)
    held: dict[Identifier, list[CI]] | None = None
    around: dict[str, list[Neighbour]] = field(default_factory=dict)
    asked: set[str] = field(default_factory=set)  # the ids ``known`` answers for

    def prefetch(self, edits: Sequence[Edit]) -> None:
        """Read what ``edits`` name in one batch call per kind of read."""
        refs = {r for e in edits for r in (e.ci_id, e.source_id, e.target_id) if r}
        refs |= {e.ci.id for e in edits if e.ci is not None}
        self.known = self.store.get_cis(refs) if refs else {}
        self.asked = refs
        rids: set[str] = set()
        for e in edits:
            if e.op not in (EditOp.ADD_REL, EditOp.RETIRE_REL) or not e.type:
                continue
            src, dst = self.known.get(e.source_id or ""), self.known.get(e.target_id or "")
            if src is None or dst is None:
                continue  # a new end or a name: read when checked, if at all
            try:
                rids.add(relationship_id(get_type(e.type).name, src.id, dst.id))
            except InvalidInput:
                continue  # an unknown type: refused when checked
        got = self.store.get_relationships(rids) if rids else {}
        self.links = {rid: got.get(rid) for rid in rids}
        wanted = {x for e in edits if e.ci is not None for x in identities(e.ci)}
        self.held = self.store.find_by_identifiers(wanted) if wanted else {}
        retiring = {
            ci.id
            for e in edits
            if e.op is EditOp.RETIRE_CI and (ci := self.known.get(e.ci_id or "")) is not None
        }
        self.around = self.store.neighbours_of(retiring) if retiring else {}

    def ci(self, ref: str) -> CI:
        """The CI ``ref`` names as staged: a new CI (by id or unique name among the new
        ones), or a live one the caller sees (by id, Class:name, kind=value, name)."""
        if ref in self.added:
            return self.added[ref]
        named = [c for c in self.added.values() if c.name == ref]
        if len(named) == 1:
            return named[0]
        if ref in self.live:
            return self.live[ref]
        read = self.known.get(ref)
        if read is not None and (self.vis.unrestricted or self.vis.allows(read.id)):
            self.live[read.id] = read
            return read
        visible = None if self.vis.unrestricted else self.vis.allows
        found = resolve_ci(self.store, ref, where="ci", visible=visible)
        self.live[found.id] = found
        return found

    def current(self, ref: str, what: str) -> CI:
        ci = self.ci(ref)
        if ci.id in self.retired or ci.status in RETIRED_STATUSES:
            raise InvalidInput(f"{what} {ci.label()} is retired")
        return ci

    def exists(self, ci_id: str) -> bool:
        """Whether a live CI has the id (any caller's view: ids are the server's)."""
        if ci_id in self.asked:
            return ci_id in self.known
        try:
            self.store.get_ci(ci_id)
        except NotFound:
            return False
        return True

    def rel_active(self, rid: str) -> bool:
        if rid in self.rels_added:
            return True
        if rid in self.rels_retired:
            return False
        if rid in self.links:
            rel = self.links[rid]
            return rel is not None and rel.active
        try:
            return self.store.get_relationship(rid).active
        except NotFound:
            return False

    def neighbours(self, ci_id: str) -> list[Neighbour]:
        if ci_id in self.around:
            return self.around[ci_id]
        return self.store.neighbours(ci_id)


def _base(ci: CI, staged: _Staged, op: EditOp) -> datetime | None:
    if ci.id in staged.added:
        return None
    if op is EditOp.RETIRE_CI:
        return touched_at(ci, staged.neighbours(ci.id))
    return ci.updated_at


def touched_at(ci: CI, around: Iterable[Neighbour]) -> datetime | None:
    """When ``ci`` or an active relationship touching it (``around``: its neighbours)
    last changed: the base of an edit retiring it, so that a relationship added to it
    since (which the retirement would leave on a retired CI, unjudged) moves it too."""
    times = [ci.updated_at]
    for n in around:
        if n.relationship.active:
            times += [n.relationship.created_at, n.relationship.updated_at]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def _identity_free(staged: _Staged, ci: CI) -> None:
    """InvalidInput unless the merge could create ``ci`` (:func:`identity_holders`)."""
    for ident, who in identity_holders(staged.store, ci, staged.held):
        named = who.label() if staged.vis.allows(who.id) else "a CI outside this token's view"
        raise InvalidInput(f"{named} holds {ident} already: name it instead of adding {ci.name}")


def _check(staged: _Staged, edit: Edit) -> Edit:
    """The edit with its references resolved to ids and its base recorded; InvalidInput
    saying why it cannot be staged. Updates ``staged``."""
    if edit.op is EditOp.ADD_CI:
        assert edit.ci is not None
        ci = edit.ci
        if ci.id in staged.added:
            raise InvalidInput(f"the proposal already adds a CI with id {ci.id}")
        if staged.exists(ci.id):
            raise InvalidInput(f"a live CI already has id {ci.id}: update it instead")
        _identity_free(staged, ci)
        staged.added[ci.id] = ci
        return edit
    if edit.op in (EditOp.UPDATE_CI, EditOp.RETIRE_CI, EditOp.SET_REDUNDANCY):
        assert edit.ci_id is not None
        ci = staged.current(edit.ci_id, "CI")
        resolved = edit.model_copy(update={"ci_id": ci.id, "base": _base(ci, staged, edit.op)})
        if edit.op is EditOp.RETIRE_CI:
            staged.retired.add(ci.id)
            return resolved
        if edit.op is EditOp.SET_REDUNDANCY:
            if not is_a(ci.ci_class, "Cluster"):
                raise InvalidInput(
                    f"only a Cluster declares redundancy; {ci.label()} is a {ci.ci_class}"
                )
            changed = ci.model_copy(update={"redundancy": edit.redundancy})
        else:
            try:
                changed = CI.model_validate({**ci.model_dump(by_alias=True), **(edit.fields or {})})
            except ValidationError as exc:
                err = exc.errors()[0]
                loc = ".".join(str(p) for p in err["loc"])
                raise InvalidInput(f"{loc}: {err['msg']}".removeprefix("Value error, ")) from exc
        if ci.id in staged.added:
            staged.added[ci.id] = changed
        else:
            staged.live[ci.id] = changed
        return resolved
    assert edit.type is not None and edit.source_id is not None and edit.target_id is not None
    rtype = get_type(edit.type, where="type")
    src = staged.current(edit.source_id, "source")
    dst = staged.current(edit.target_id, "target")
    rid = relationship_id(rtype.name, src.id, dst.id)
    resolved = edit.model_copy(
        update={"type": rtype.name, "source_id": src.id, "target_id": dst.id}
    )
    if edit.op is EditOp.ADD_REL:
        check_allowed(rtype.name, src.ci_class, dst.ci_class)
        if staged.rel_active(rid):
            raise InvalidInput(f"{src.name} -[{rtype.name}]-> {dst.name} exists already")
        staged.rels_added.add(rid)
        staged.rels_retired.discard(rid)
        return resolved
    if not staged.rel_active(rid):
        raise InvalidInput(f"there is no active {src.name} -[{rtype.name}]-> {dst.name}")
    staged.rels_retired.add(rid)
    staged.rels_added.discard(rid)
    return resolved


class EditRequest(BaseModel):
    """One edit as a shell receives it (REST's body, GraphQL's JSON): a new CI's id is
    chosen here, never by the caller, and ``base`` is recorded from the live CI."""

    model_config = ConfigDict(extra="forbid")

    op: EditOp
    ci: dict[str, Any] | None = None
    ci_id: str | None = None
    fields: dict[str, Any] | None = None
    redundancy: Redundancy | None = None
    type: str | None = None
    source_id: str | None = None
    target_id: str | None = None

    @field_validator("ci")
    @classmethod
    def _no_id(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None and "id" in v:
            raise ValueError("a new CI's id is chosen by the server")
        return v


def requested(edits: Sequence[Any], *, where: str = "edits") -> list[dict[str, Any]]:
    """Edits a caller sent, each checked as an :class:`EditRequest` (errors name it)."""
    out = []
    for i, raw in enumerate(edits):
        if not isinstance(raw, dict):
            raise InvalidInput("an edit is an object", where=f"{where}[{i}]")
        got = validated(EditRequest, raw, where=f"{where}[{i}]")
        out.append(got.model_dump(exclude_none=True))
    return out


def _parse(raw: dict[str, Any] | Edit) -> Edit:
    if isinstance(raw, Edit):
        return raw
    data = dict(raw)
    if data.get("op") == EditOp.ADD_CI.value and isinstance(data.get("ci"), dict):
        # A new CI gets its id when staged (the id a merge will give it).
        data["ci"] = {"id": new_ci_id(), **data["ci"]}
    data.pop("base", None)  # server-owned: recorded from the live CI
    return Edit.model_validate(data)


def _label(raw: dict[str, Any] | Edit) -> str:
    op = raw.op.value if isinstance(raw, Edit) else raw.get("op", "?")
    return str(op)


def checked(
    store: GraphStore,
    vis: Visibility,
    edits: Sequence[dict[str, Any] | Edit],
    *,
    first: int = 0,
    before: Sequence[Edit] = (),
) -> list[Edit]:
    """``edits`` checked after ``before`` (already staged): each resolved, or one
    InvalidInput naming every bad edit (``edits[i]``, numbered from ``first``) and why."""
    staged = _Staged(store, vis)
    parsed: list[Edit | ValidationError] = []
    for raw in edits:
        try:
            parsed.append(_parse(raw))
        except ValidationError as exc:
            parsed.append(exc)
    staged.prefetch([*before, *(e for e in parsed if isinstance(e, Edit))])
    for i, e in enumerate(before):
        try:
            _check(staged, e)
        except CmdbError as exc:  # the live graph moved since it was staged
            raise InvalidInput(
                f"staged edit {i} ({e.describe()}) no longer holds against the live graph:"
                f" {exc.message}; remove it first",
                where=f"edits[{i}]",
            ) from exc
    out: list[Edit] = []
    problems: list[tuple[str, str]] = []
    for i, (raw, edit) in enumerate(zip(edits, parsed, strict=True), start=first):
        where = f"edits[{i}]"
        try:
            if isinstance(edit, ValidationError):
                raise edit
            out.append(_check(staged, edit))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            problems.append((f"{where}.{loc}" if loc else where, f"{_label(raw)}: {msg}"))
        except CmdbError as exc:
            problems.append((where, f"{_label(raw)}: {exc.message}"))
    if problems:
        lines = "; ".join(f"{w}: {m}" for w, m in problems)
        raise InvalidInput(
            f"{len(problems)} of {len(edits)} edits refused, nothing saved: {lines}",
            where=problems[0][0],
        )
    return out


# --- reading ------------------------------------------------------------------------------


class ShownEdit(Edit):
    """An edit as a caller is shown it: its place in the whole proposal (a token scoped to
    services may be shown only some edits, and remove-edit and a conflict name this
    place), and, where asked, whether it still applies to the live graph."""

    index: int = Field(
        ge=0, description="the edit's position in the whole proposal (remove-edit's index)"
    )
    validity: EditCheck | None = Field(
        default=None,
        description="whether it still applies to the live graph now, and why not (the"
        " proposal of one change, as getProposal answers; none in lists)",
    )

    @model_validator(mode="after")
    def _shape(self) -> ShownEdit:
        # The edit's own fields are checked as an Edit's are; the two added are not its.
        Edit.model_validate(self.model_dump(exclude={"index", "validity"}, exclude_unset=True))
        return self


class ShownProposal(Proposal):
    """A proposal as a caller is shown it (:func:`shown`)."""

    # A list of the subclass: what the shells render, field for field a Proposal's edits.
    edits: list[ShownEdit] = Field(default_factory=list)  # type: ignore[assignment]


def shown(vis: Visibility, p: Proposal, checks: Sequence[EditCheck] = ()) -> ShownProposal:
    """``p`` as the caller is shown it: a scoped caller sees the edits whose live CIs are
    all in its view (a new CI of the proposal is in everyone's); each edit keeps its index
    in the whole proposal, and ``checks`` (one per edit of ``p``, if given) its validity."""
    added = {e.ci.id for e in p.edits if e.ci is not None}
    edits = [
        ShownEdit.model_construct(
            e.model_fields_set | {"index"} | ({"validity"} if checks else set()),
            **{k: getattr(e, k) for k in Edit.model_fields},
            index=i,
            validity=checks[i] if checks else None,
        )
        for i, e in enumerate(p.edits)
        if vis.unrestricted or all(x in added or vis.allows(x) for x in e.touches())
    ]
    return ShownProposal.model_construct(
        p.model_fields_set | {"edits"},
        **{k: getattr(p, k) for k in Proposal.model_fields if k != "edits"},
        edits=edits,
    )


# The largest version anyone may ask for: GraphQL's Int. Stores keep 64-bit integers, and
# SQLite cannot even bind a larger Python int (an OverflowError, a 500, before this check).
MAX_VERSION = 2**31 - 1


def check_version(version: int | None) -> None:
    """A version no proposal can have is not found, whatever the store."""
    if version is not None and not 1 <= version <= MAX_VERSION:
        raise NotFound(f"no proposal version {version}", where="version")


def get(
    store: GraphStore,
    vis: Visibility,
    change_id: str,
    *,
    version: int | None = None,
    check: bool = False,
) -> ShownProposal:
    """The proposal (a version of it) as the caller is shown it; with ``check``, each
    edit says whether it still applies to the live graph (cmdb.app.proposal_check)."""
    visible_change(store, vis, change_id)
    check_version(version)
    p = store.get_proposal(change_id, version=version)
    named = None if vis.unrestricted else vis.allows
    return shown(vis, p, check_edits(store, p, named) if check else ())


def versions(store: GraphStore, vis: Visibility, change_id: str) -> list[ShownProposal]:
    visible_change(store, vis, change_id)
    return [shown(vis, p) for p in store.proposal_versions(change_id)]


def list_proposals(
    store: GraphStore, vis: Visibility, *, state: ProposalState | None = None
) -> list[ShownProposal]:
    """The latest version of each proposal whose change the caller reads."""
    out = []
    for p in store.list_proposals(state=state):
        try:
            if vis.unrestricted or readable(vis, store.get_change(p.id)):
                out.append(shown(vis, p))
        except NotFound:
            continue
    return out


# --- writing ------------------------------------------------------------------------------


# A change past these takes no staged edits: decided (authorised or scheduled: what merges
# is what was judged, as the change's CIs and window are fixed then; an emergency change
# excepted, as there), implemented (the proposal is what merges), or decided against.
# Withdrawing stays possible.
_NO_EDITS = frozenset(
    {ChangeState.REJECTED, ChangeState.IMPLEMENTED, ChangeState.REVIEWED, ChangeState.CLOSED}
)
_DECIDED = frozenset({ChangeState.AUTHORISED, ChangeState.SCHEDULED})


def _writable(
    store: GraphStore,
    vis: Visibility,
    change_id: str,
    what: str,
    *,
    staging: bool = True,
    resolving: bool = False,
) -> None:
    change = visible_change(store, vis, change_id)
    check_writable(vis, change, what)
    # Removing an edit resolves a merge conflict, which shows once the change is implemented.
    late = resolving and change.state is ChangeState.IMPLEMENTED
    decided = change.state in _DECIDED and change.type is not ChangeType.EMERGENCY
    if staging and (change.state in _NO_EDITS or decided) and not late:
        raise InvalidInput(
            f"{change_id} is {change.state.value}: its proposal takes no edits",
            where="change_id",
        )


def _note(note: str) -> str:
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"a note of at most {MAX_NOTE} characters", where="note")
    return note


def _limit(count: int) -> None:
    if count > MAX_EDITS:
        raise InvalidInput(
            f"a proposal holds at most {MAX_EDITS} edits, not {count}", where="edits"
        )


def _open(store: GraphStore, change_id: str) -> Proposal:
    current = store.get_proposal(change_id)
    if current.state is not ProposalState.OPEN:
        raise InvalidInput(
            f"the proposal of {change_id} is {current.state.value}: it takes no more edits",
            where="proposal",
        )
    return current


def _next(current: Proposal | None, caller: Caller, **update: Any) -> Proposal:
    base = {
        "id": update.pop("id") if current is None else current.id,
        "version": 1 if current is None else current.version + 1,
        "edits": [] if current is None else current.edits,
        "author": caller.name,
        "at": now(),
    }
    return Proposal.model_validate({**base, **update})


def create(
    store: GraphStore,
    vis: Visibility,
    caller: Caller,
    change_id: str,
    edits: Sequence[dict[str, Any] | Edit] = (),
    *,
    note: str = "",
) -> Proposal:
    """The change's proposal, with ``edits``; a withdrawn one is opened again (a new
    version with these edits). InvalidInput if the change already has an open one."""
    _writable(store, vis, change_id, "propose edits to it")
    _limit(len(edits))
    try:
        current: Proposal | None = store.get_proposal(change_id)
    except NotFound:
        current = None
    if current is not None and current.state is not ProposalState.WITHDRAWN:
        raise InvalidInput(
            f"{change_id} has a proposal already ({current.state.value}, version"
            f" {current.version}): add edits to it",
            where="change_id",
        )
    staged = checked(store, vis, edits)
    made = _next(
        current,
        caller,
        id=change_id,
        edits=staged,
        state=ProposalState.OPEN,
        note=_note(note) or f"created with {len(staged)} edits",
    )
    store.save_proposal(made)
    return made


def add_edits(
    store: GraphStore,
    vis: Visibility,
    caller: Caller,
    change_id: str,
    edits: Sequence[dict[str, Any] | Edit],
    *,
    note: str = "",
) -> Proposal:
    """A new version with ``edits`` appended, each checked after the ones staged."""
    _writable(store, vis, change_id, "propose edits to it")
    if not edits:
        raise InvalidInput("no edits given", where="edits")
    current = _open(store, change_id)
    _limit(len(current.edits) + len(edits))
    staged = checked(store, vis, edits, first=len(current.edits), before=current.edits)
    made = _next(
        current,
        caller,
        edits=[*current.edits, *staged],
        note=_note(note) or f"added {len(staged)} edits",
    )
    store.save_proposal(made)
    return made


def remove_edit(
    store: GraphStore, vis: Visibility, caller: Caller, change_id: str, index: int
) -> Proposal:
    """A new version without edit ``index``; refused if a later edit needs it."""
    _writable(store, vis, change_id, "propose edits to it", resolving=True)
    current = _open(store, change_id)
    if not 0 <= index < len(current.edits):
        raise InvalidInput(
            f"the proposal has edits 0 to {len(current.edits) - 1}, not {index}", where="index"
        )
    gone = current.edits[index]
    rest = [e for i, e in enumerate(current.edits) if i != index]
    try:
        checked(store, vis, rest)
    except InvalidInput as exc:
        raise InvalidInput(
            f"without edit {index} ({gone.describe()}) the others no longer hold: {exc.message}",
            where="index",
        ) from exc
    made = _next(current, caller, edits=rest, note=f"removed edit {index}: {gone.describe()}")
    store.save_proposal(made)
    return made


def withdraw(
    store: GraphStore, vis: Visibility, caller: Caller, change_id: str, *, note: str = ""
) -> Proposal:
    _writable(store, vis, change_id, "withdraw its proposal", staging=False)
    current = _open(store, change_id)
    made = _next(current, caller, state=ProposalState.WITHDRAWN, note=_note(note) or "withdrawn")
    store.save_proposal(made)
    return made


# --- a file in the generic import format ----------------------------------------------------


def edits_from_document(store: GraphStore, vis: Visibility, doc: object) -> list[dict[str, Any]]:
    """Edits from a generic JSON import document (discovery.schema.ImportDocument): a CI
    whose key is the id of a live CI the caller sees updates it (its standard fields and
    attributes), any other CI is added; each relationship is added, its ends named by
    key (a CI of the document) or by a live CI's id."""
    from discovery.schema import ImportDocument

    try:
        parsed = ImportDocument.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(str(err["msg"]).removeprefix("Value error, "), where=loc) from exc
    out: list[dict[str, Any]] = []
    ids: dict[str, str] = {}
    keys = [ci.key for ci in parsed.cis if vis.allows(ci.key)]
    live_keys = store.get_cis(keys).keys() if keys else set()  # one read, not one per CI
    for ci in parsed.cis:
        fields: dict[str, Any] = {"name": ci.name, **ci.standard_fields()}
        if ci.attributes:
            fields["attributes"] = ci.attributes
        if ci.key in live_keys:
            fields.pop("class", None)
            fields.pop("ci_class", None)
            out.append({"op": "update_ci", "ci_id": ci.key, "fields": fields})
            ids[ci.key] = ci.key
            continue
        new_id = new_ci_id()
        ids[ci.key] = new_id
        idents = [
            {"kind": kind, "value": v}
            for kind, values in ci.identifiers.model_dump(exclude_none=True).items()
            for v in (values if isinstance(values, list) else [values])
        ]
        out.append(
            {
                "op": "add_ci",
                "ci": {"id": new_id, "class": ci.ci_class, **fields, "identifiers": idents},
            }
        )
    for rel in parsed.relationships:
        type_name, source, target = rel.resolved()
        out.append(
            {
                "op": "add_rel",
                "type": type_name,
                "source_id": ids.get(source, source),
                "target_id": ids.get(target, target),
            }
        )
    return out
