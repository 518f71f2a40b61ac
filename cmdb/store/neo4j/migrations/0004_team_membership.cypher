// MEMBER_OF_TEAM (people and teams in teams), indexed like every registry type.
CREATE INDEX rel_member_of_team_id IF NOT EXISTS FOR ()-[r:MEMBER_OF_TEAM]-() ON (r.id);
CREATE INDEX rel_member_of_team_h_seq IF NOT EXISTS FOR ()-[r:MEMBER_OF_TEAM]-() ON (r.h_seq);
