"""The discovery_run.finished event carries the run's unauthorised changes and the CIs it
marked stale as lists (the first 200 of each, with the totals and a truncated flag), on
both stores."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cmdb.app import discovery, webhooks
from cmdb.app.caller import Caller
from cmdb.auth.roles import Role
from cmdb.auth.tokens import Principal
from cmdb.config import Settings
from cmdb.domain.changeset import FINDINGS_CAP
from cmdb.domain.events import EventType, WebhookRule
from cmdb.store.contract import CIFilter, GraphStore

ADMIN = Caller(Principal("admin", Role.ADMIN), "req-1", "api")


@pytest.fixture
def store(store: GraphStore) -> GraphStore:
    """The conftest's empty store, with a rule that wants the run events (events are
    recorded only for a rule that wants them)."""
    store.save_webhook_rule(
        WebhookRule(
            id="wh_runs",
            url="https://hooks.example/runs",
            secret=webhooks.new_secret(),
            event_types=[EventType.DISCOVERY_RUN_FINISHED],
            created_at=datetime.now(UTC),
        )
    )
    return store


def _push(store: GraphStore, settings: Settings, rows: list[tuple[str, str]]) -> None:
    csv = "key,class,name,owner\n" + "".join(f"{k},Server,{k},{o}\n" for k, o in rows)
    discovery.push(store, ADMIN, settings, csv.encode(), fmt="csv", source="scan", scope="dc1")


def _finished(store: GraphStore) -> list[dict[str, Any]]:
    return [e.payload for e in store.read_events() if e.type is EventType.DISCOVERY_RUN_FINISHED]


def test_a_small_run_lists_every_finding(store: GraphStore, tmp_path: Path) -> None:
    settings = Settings(db_path=tmp_path / "unused.db", discovery_stale_after_runs=1)
    _push(store, settings, [("node-1", "ops"), ("node-2", "ops"), ("gone-1", "ops")])
    _push(store, settings, [("node-1", "someone-else"), ("node-2", "ops")])
    first, second = _finished(store)
    assert first["unauthorised"] == {"total": 0, "truncated": False, "items": []}
    assert first["stale"] == {"total": 0, "truncated": False, "items": []}
    node1 = store.list_cis(CIFilter(name="node-1")).items[0].id
    gone = store.list_cis(CIFilter(name="gone-1")).items[0].id
    (u,) = second["unauthorised"]["items"]
    assert (u["ci_id"], u["name"], u["field"]) == (node1, "node-1", "owner")
    assert (u["before"], u["after"]) == ("ops", "someone-else")
    assert u["why"]  # why no approved change covers it
    assert second["unauthorised"]["total"] == 1 and not second["unauthorised"]["truncated"]
    assert second["stale"] == {
        "total": 1,
        "truncated": False,
        "items": [{"ci_id": gone, "name": "gone-1", "missed_runs": 1}],
    }
    # The fields receivers had before stay.
    assert second["unauthorised_changes"] == 1 and second["stale_ci_ids"] == [gone]


def test_long_lists_are_cut_with_the_totals(store: GraphStore, tmp_path: Path) -> None:
    settings = Settings(db_path=tmp_path / "unused.db", discovery_stale_after_runs=1)
    changed = [f"node-{i:03d}" for i in range(FINDINGS_CAP + 5)]
    gone = [f"gone-{i:03d}" for i in range(FINDINGS_CAP + 1)]
    _push(store, settings, [(k, "ops") for k in changed + gone])
    # Under half the last count would make the run suspicious (nothing marked stale).
    assert len(changed) * 2 >= len(changed) + len(gone)
    _push(store, settings, [(k, "someone-else") for k in changed])
    run = _finished(store)[-1]
    assert run["run"]["status"] == "succeeded"
    assert run["unauthorised"]["total"] == FINDINGS_CAP + 5
    assert run["unauthorised"]["truncated"] is True
    assert len(run["unauthorised"]["items"]) == FINDINGS_CAP
    assert {u["field"] for u in run["unauthorised"]["items"]} == {"owner"}
    assert run["stale"]["total"] == FINDINGS_CAP + 1 and run["stale"]["truncated"] is True
    assert len(run["stale"]["items"]) == FINDINGS_CAP
    assert {s["name"] for s in run["stale"]["items"]} <= set(gone)
    assert len(run["stale_ci_ids"]) == FINDINGS_CAP
