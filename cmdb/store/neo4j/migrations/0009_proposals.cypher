// What-if proposals: every version a node of its own, only added (key: "<id>@<version>").
CREATE CONSTRAINT proposal_version_key IF NOT EXISTS FOR (p:ProposalVersion) REQUIRE p.key IS UNIQUE;
CREATE INDEX proposal_version_id IF NOT EXISTS FOR (p:ProposalVersion) ON (p.id);
