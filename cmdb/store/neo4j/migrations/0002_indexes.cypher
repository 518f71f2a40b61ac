// Look-ups the store contract needs: filters, history by entity, history by sequence.
CREATE INDEX ci_name IF NOT EXISTS FOR (c:CI) ON (c.name);
CREATE INDEX ci_class IF NOT EXISTS FOR (c:CI) ON (c.class);
CREATE INDEX ci_status IF NOT EXISTS FOR (c:CI) ON (c.status);
CREATE INDEX ci_h_seq IF NOT EXISTS FOR (c:CI) ON (c.h_seq);
CREATE INDEX history_entity IF NOT EXISTS FOR (h:History) ON (h.entity_id);
CREATE INDEX history_kind_at IF NOT EXISTS FOR (h:History) ON (h.entity_kind, h.at);
// One index per relationship type (the registry's): by id, and by creation sequence.
CREATE INDEX rel_depends_on_id IF NOT EXISTS FOR ()-[r:DEPENDS_ON]-() ON (r.id);
CREATE INDEX rel_depends_on_h_seq IF NOT EXISTS FOR ()-[r:DEPENDS_ON]-() ON (r.h_seq);
CREATE INDEX rel_runs_on_id IF NOT EXISTS FOR ()-[r:RUNS_ON]-() ON (r.id);
CREATE INDEX rel_runs_on_h_seq IF NOT EXISTS FOR ()-[r:RUNS_ON]-() ON (r.h_seq);
CREATE INDEX rel_hosted_on_id IF NOT EXISTS FOR ()-[r:HOSTED_ON]-() ON (r.id);
CREATE INDEX rel_hosted_on_h_seq IF NOT EXISTS FOR ()-[r:HOSTED_ON]-() ON (r.h_seq);
CREATE INDEX rel_member_of_id IF NOT EXISTS FOR ()-[r:MEMBER_OF]-() ON (r.id);
CREATE INDEX rel_member_of_h_seq IF NOT EXISTS FOR ()-[r:MEMBER_OF]-() ON (r.h_seq);
CREATE INDEX rel_contains_id IF NOT EXISTS FOR ()-[r:CONTAINS]-() ON (r.id);
CREATE INDEX rel_contains_h_seq IF NOT EXISTS FOR ()-[r:CONTAINS]-() ON (r.h_seq);
CREATE INDEX rel_connects_to_id IF NOT EXISTS FOR ()-[r:CONNECTS_TO]-() ON (r.id);
CREATE INDEX rel_connects_to_h_seq IF NOT EXISTS FOR ()-[r:CONNECTS_TO]-() ON (r.h_seq);
CREATE INDEX rel_located_in_id IF NOT EXISTS FOR ()-[r:LOCATED_IN]-() ON (r.id);
CREATE INDEX rel_located_in_h_seq IF NOT EXISTS FOR ()-[r:LOCATED_IN]-() ON (r.h_seq);
CREATE INDEX rel_owned_by_id IF NOT EXISTS FOR ()-[r:OWNED_BY]-() ON (r.id);
CREATE INDEX rel_owned_by_h_seq IF NOT EXISTS FOR ()-[r:OWNED_BY]-() ON (r.h_seq);
CREATE INDEX rel_supplied_by_id IF NOT EXISTS FOR ()-[r:SUPPLIED_BY]-() ON (r.id);
CREATE INDEX rel_supplied_by_h_seq IF NOT EXISTS FOR ()-[r:SUPPLIED_BY]-() ON (r.h_seq);
CREATE INDEX rel_serves_id IF NOT EXISTS FOR ()-[r:SERVES]-() ON (r.id);
CREATE INDEX rel_serves_h_seq IF NOT EXISTS FOR ()-[r:SERVES]-() ON (r.h_seq);
