// Discovery runs: one node per run id; listed newest first per source.
CREATE CONSTRAINT run_id IF NOT EXISTS FOR (x:DiscoveryRun) REQUIRE x.id IS UNIQUE;
CREATE INDEX run_source_started IF NOT EXISTS FOR (x:DiscoveryRun) ON (x.source, x.started);
