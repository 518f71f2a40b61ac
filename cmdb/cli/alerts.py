"""``cmdb alerts map LABEL=VALUE...``: which CIs an alert with these labels names, under
the configured mapping rules (``CMDB_ALERT_RULES_FILE``); ``cmdb alerts receive FILE``:
an Alertmanager notification saved as JSON, correlated as
``POST /api/v1/alerts/alertmanager`` does it (the same use case, cmdb/app/alerts.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cmdb.app import alerts
from cmdb.app.alert_inputs import AlertmanagerPayload
from cmdb.app.scope import Visibility
from cmdb.domain.errors import InvalidInput

from ._common import CliGroup, JsonOpt, cli, console, print_json

app = typer.Typer(
    cls=CliGroup,
    no_args_is_help=True,
    help="Monitoring alerts: which CIs their labels name.",
)


def _labels(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for text in pairs:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"expected LABEL=VALUE, got {text!r}", where="LABELS")
        out[name.strip()] = value
    return out


@app.command("map")
def map_(
    ctx: typer.Context,
    labels: Annotated[
        list[str], typer.Argument(metavar="LABEL=VALUE...", help="e.g. instance=web-1:9100")
    ],
    as_json: JsonOpt = False,
) -> None:
    """The CIs an alert with these labels names, and which label and lookup found each."""
    state = cli(ctx)
    found = alerts.mapping(state.store(), Visibility(None), _labels(labels), state.settings)
    if as_json:
        print_json(
            [
                {
                    "label": m.label,
                    "how": m.how,
                    "id": m.ci.id,
                    "name": m.ci.name,
                    "class": m.ci.ci_class,
                }
                for m in found
            ]
        )
        return
    con = console()
    if not found:
        con.print("no CI: an alert with these labels would be reported as unmapped")
        return
    t = Table("label", "lookup", "CI", "class")
    for m in found:
        t.add_row(m.label, m.how, m.ci.name, m.ci.ci_class)
    con.print(t)


@app.command("receive")
def receive(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(metavar="FILE", help="An Alertmanager notification.")],
    as_json: JsonOpt = False,
) -> None:
    """Correlate a saved Alertmanager notification (webhook payload version 4) into
    incidents, as the API does when Alertmanager sends it."""
    state = cli(ctx)
    payload = AlertmanagerPayload.model_validate_json(path.read_bytes())
    got = alerts.receive(state.store(), state.caller(), Visibility(None), payload, state.settings)
    if as_json:
        print_json({"alerts": got.alerts, "incidents": got.incidents})
        return
    con = console()
    t = Table("alert", "fingerprint", "status", "action", "incident")
    for a in got.alerts:
        t.add_row(a.name, a.fingerprint, a.status, a.action, a.incident_id or "-")
    con.print(t)
    for inc in got.incidents:
        con.print(f"{inc.id}  {inc.state.value}  {inc.priority.value}  {inc.title}")
