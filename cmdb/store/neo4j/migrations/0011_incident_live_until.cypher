// Each incident's live_until (cmdb.store.recent: its resolution, or 9000-01-01 while open or
// unresolved), so a question about this month reads the incidents at or after a bound
// through this index instead of every incident. An incident written before this migration
// gets the open-ended value here (read by every question, as before); the store's migrate
// then sets the resolved ones' from their documents. Until this file is recorded as
// applied, the store reads every incident as before. An incident written afterwards by a
// graph-cmdb older than this has none (and is left out of bounded reads) until
// `cmdb db migrate` runs again: run it once every writer is upgraded.
CREATE RANGE INDEX incident_live_until IF NOT EXISTS FOR (x:Incident) ON (x.live_until);
// The open incidents (list_incidents(open_only=True): every metrics scrape, every alert
// webhook) by their state, not by reading every incident's.
CREATE RANGE INDEX incident_state IF NOT EXISTS FOR (x:Incident) ON (x.state);
MATCH (x:Incident) WHERE x.live_until IS NULL CALL (x) { SET x.live_until = datetime('9000-01-01T00:00:00Z') } IN TRANSACTIONS OF 10000 ROWS
