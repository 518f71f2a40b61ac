"""Reliability item 6 on Neo4j: the server is killed (SIGKILL) in the middle of a batch.

After a restart on the same data directory every batch is all there or not there at all,
the identity constraints hold, history numbering is intact, and re-applying succeeds.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest
from neo4j import Driver, GraphDatabase

from cmdb.domain.changeset import ChangeSet, CIUpsert
from cmdb.domain.errors import CmdbError
from cmdb.domain.identifiers import Identifier
from cmdb.store.neo4j.migrations import migrate
from cmdb.store.neo4j.store import Neo4jStore
from devsupport.neo4j_local import Neo4jServer, start_local
from tests.neo4j_support import ROOT

# neo4j_own_server: it kills and restarts a server of its own, not the shared one, so it
# runs beside the Neo4j tests (tests/run_suite.py).
pytestmark = [pytest.mark.neo4j, pytest.mark.neo4j_own_server, pytest.mark.slow]

PER_BATCH = 3000


def _batch(k: int) -> ChangeSet:
    return ChangeSet(
        actor="kill-test",
        source="feed",
        request_id=f"batch-{k}",
        ci_upserts=[
            CIUpsert(
                ci_class="VirtualMachine",
                name=f"vm-{k}-{i}",
                identifiers=[Identifier(kind="key", value=f"kill-{k}-{i}")],
                attributes={"batch": k, "payload": "x" * 200},
            )
            for i in range(PER_BATCH)
        ],
    )


def _per_batch(driver: Driver) -> dict[int, int]:
    recs, _, _ = driver.execute_query(
        "MATCH (c:CI) RETURN c.doc CONTAINS '\"batch\"' AS ok, "
        "toInteger(split(c.name, '-')[1]) AS k, count(*) AS n"
    )
    return {r["k"]: r["n"] for r in recs}


def _start(data: Path) -> tuple[Neo4jServer, Driver]:
    server = start_local(ROOT, password="kill-test-password", data_dir=data)
    # Retries give up quickly: the server stays dead until the test restarts it.
    driver = GraphDatabase.driver(
        server.uri,
        auth=(server.user, server.password),
        notifications_min_severity="OFF",
        max_transaction_retry_time=1.0,
    )
    return server, driver


def test_server_killed_mid_batch_leaves_before_or_after(tmp_path: Path) -> None:
    data = tmp_path / "neo4j-kill"
    rng = random.Random(7)
    server, driver = _start(data)
    migrate(driver, "neo4j")
    done: set[int] = set()
    try:
        for trial in range(2):
            store = Neo4jStore(driver)
            failures: list[BaseException] = []

            def writer(
                trial: int = trial,
                store: Neo4jStore = store,
                failures: list[BaseException] = failures,
            ) -> None:
                try:
                    for k in range(trial * 100, trial * 100 + 100):
                        store.apply(_batch(k))
                        done.add(k)
                except (CmdbError, Exception) as exc:  # the server vanishes under us
                    failures.append(exc)

            t = threading.Thread(target=writer, daemon=True)
            t.start()
            time.sleep(rng.uniform(2.0, 5.0))
            assert server.process is not None
            server.process.kill()  # SIGKILL: no shutdown hook, no checkpoint
            server.process.wait()
            t.join(timeout=120)
            assert failures, "the writer should have seen the server die"
            driver.close()

            server, driver = _start(data)
            counts = _per_batch(driver)
            assert all(n == PER_BATCH for n in counts.values()), counts
            assert done <= set(counts), "a batch reported as applied is missing"
            recs, _, _ = driver.execute_query(
                "MATCH (c:CI) WITH c.pkey AS k, count(*) AS n WHERE n > 1 RETURN count(*) AS d"
            )
            assert recs[0]["d"] == 0
            recs, _, _ = driver.execute_query(
                # The kill may land in the very first batch: then nothing at all is there.
                "OPTIONAL MATCH (m:CmdbMeta) WITH m OPTIONAL MATCH (c:CI) "
                "WITH m, max(c.h_seq) AS top OPTIONAL MATCH (e:OutboxEvent) "
                "RETURN coalesce(m.seq, 0) AS seq, coalesce(top, 0) AS top, count(e) AS events"
            )
            row = recs[0]
            assert row["events"] == 0  # no webhook rule wants them: none are written
            assert row["seq"] == row["top"] == sum(counts.values())
            # Retrying the interrupted batch converges: it lands whole, once.
            missing = next(k for k in range(trial * 100, trial * 100 + 100) if k not in counts)
            Neo4jStore(driver).apply(_batch(missing))
            assert _per_batch(driver)[missing] == PER_BATCH
    finally:
        driver.close()
        server.stop()
