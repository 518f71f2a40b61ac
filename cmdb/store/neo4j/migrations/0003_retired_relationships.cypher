// Retired relationships are kept under one fixed type; index them like the active ones.
CREATE INDEX rel_retired_id IF NOT EXISTS FOR ()-[r:RETIRED_REL]-() ON (r.id);
CREATE INDEX rel_retired_h_seq IF NOT EXISTS FOR ()-[r:RETIRED_REL]-() ON (r.h_seq);
