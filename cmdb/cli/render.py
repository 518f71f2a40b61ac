"""Rich tables for people; ``--json`` bypasses all of this."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson
from rich.table import Table

from cmdb.domain.history import HistoryEntry
from cmdb.domain.model import CI, Relationship
from cmdb.domain.relationships import get_type
from cmdb.store.contract import Counts, Neighbour, Subgraph

from ._common import console

NameOf = Callable[[str], str]


def _text(value: Any, limit: int = 60) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ci_label(ci: CI) -> str:
    return f"{ci.name} ({ci.ci_class})"


def show_ci(ci: CI, *, title: str | None = None) -> None:
    t = Table(title=title or ci_label(ci), show_header=False, title_justify="left")
    t.add_column("field", style="bold")
    t.add_column("value")
    t.add_row("id", ci.id)
    for name, value in ci.field_values().items():
        if name in ("identifiers", "attributes", "service", "agreements", "redundancy"):
            continue
        t.add_row(name.removeprefix("ci_"), _text(value))
    for ident in ci.identifiers:
        t.add_row("identifier", str(ident))
    for key, value in sorted(ci.attributes.items()):
        t.add_row(f"attributes.{key}", _text(value))
    if ci.redundancy is not None:
        r = ci.redundancy
        t.add_row("redundancy", f"min_up={r.min_up}" if r.min_up else f"{r.min_up_percent}% up")
    if ci.service is not None:
        s = ci.service
        t.add_row("service", f"{s.kind.value}, portfolio {s.portfolio.value}")
        if s.customers:
            t.add_row("customers", ", ".join(s.customers))
        if s.sla is not None:
            hours = s.sla.service_hours
            t.add_row(
                "SLA",
                f"{s.sla.name}: {s.sla.availability_target}% within service hours"
                f" ({hours.timezone}, {len(hours.exceptions)} exception days)",
            )
    for a in ci.agreements:
        target = f", {a.availability_target}%" if a.availability_target is not None else ""
        t.add_row(a.kind.value, f"{a.name} with {a.party}{target}")
    for source, seen in sorted(ci.sources.items()):
        t.add_row(
            f"seen by {source}",
            f"{seen.first_seen:%Y-%m-%d %H:%M} .. {seen.last_seen:%Y-%m-%d %H:%M}",
        )
    console().print(t)


def ci_table(cis: Iterable[CI], *, title: str | None = None) -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("name", "class", "status"):
        t.add_column(col, no_wrap=True)
    for col in ("env", "owner"):
        t.add_column(col, overflow="fold")
    t.add_column("id", no_wrap=True)
    for ci in cis:
        t.add_row(
            ci.name, ci.ci_class, ci.status.value, ci.environment or "", ci.owner or "", ci.id
        )
    return t


def rel_table(
    rels: Iterable[Relationship], name_of: NameOf, *, title: str | None = None, full: bool = True
) -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("source", "type", "target", *(("status", "confidence") if full else ())):
        t.add_column(col, overflow="fold")
    if full:
        t.add_column("id", no_wrap=True)
    for r in rels:
        row = [name_of(r.source_id), get_type(r.type).forward, name_of(r.target_id)]
        if full:
            row += [r.status.value, f"{r.confidence:g}", r.id]
        t.add_row(*row)
    return t


def neighbours_table(ci: CI, items: list[Neighbour]) -> Table:
    t = Table(title=f"neighbours of {ci_label(ci)}", title_justify="left")
    for col in ("relationship", "neighbour", "class", "status"):
        t.add_column(col, overflow="fold")
    t.add_column("id", no_wrap=True)
    for n in items:
        rtype = get_type(n.relationship.type)
        phrase = rtype.forward if n.direction.value == "out" else rtype.reverse
        t.add_row(phrase, n.ci.name, n.ci.ci_class, n.ci.status.value, n.ci.id)
    return t


def show_subgraph(sub: Subgraph) -> None:
    flags = [
        f
        for f, on in (("depth cap", sub.truncated_by_depth), ("node cap", sub.truncated_by_nodes))
        if on
    ]
    con = console()
    con.print(
        f"{len(sub.nodes)} CIs, {len(sub.edges)} relationships, depth reached"
        f" {sub.depth_reached}" + (f"; cut by the {' and '.join(flags)}" if flags else "")
    )
    nodes = sorted(sub.nodes.values(), key=lambda c: (c.ci_class, c.name))
    con.print(ci_table(nodes, title="CIs"))

    def name_of(ci_id: str) -> str:
        ci = sub.nodes.get(ci_id)
        return ci.name if ci else ci_id

    edges = sorted(sub.edges, key=lambda r: (name_of(r.source_id), r.type, name_of(r.target_id)))
    con.print(rel_table(edges, name_of, title="relationships", full=False))


def history_table(rows: list[HistoryEntry], *, title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("seq", "at (UTC)", "op", "field", "before", "after", "actor", "source"):
        t.add_column(col, overflow="fold")
    for h in rows:
        after = "(all fields)" if h.op.value == "create" else _text(h.after, 40)
        t.add_row(
            str(h.seq),
            f"{h.at:%Y-%m-%d %H:%M:%S}",
            h.op.value,
            h.field,
            _text(h.before, 40),
            after,
            h.actor,
            # A merged proposal's rows say which RFC and version wrote them.
            f"{h.source} ({h.reason})" if h.reason else h.source,
        )
    return t


def counts_tables(c: Counts) -> list[Table]:
    out: list[Table] = []
    for title, data in (
        ("CIs by class", c.by_class),
        ("CIs by status", c.by_status),
        ("relationships by type (active)", c.relationships_by_type),
    ):
        t = Table(title=title, title_justify="left")
        t.add_column("name")
        t.add_column("count", justify="right")
        for k, v in sorted(data.items()):
            t.add_row(k, str(v))
        t.add_row("total", str(sum(data.values())), style="bold")
        out.append(t)
    return out
