// A name search (CIFilter.name_contains) finds names containing its text anywhere. Each CI
// holds its name lower-cased as the search compares it (lname, written by the store), under
// a text index (trigrams: CONTAINS looks names up instead of lower-casing every CI's name).
// CIs written before this migration get lname from their name here; until this file is
// recorded as applied, the store searches by toLower(c.name) as before.
CREATE TEXT INDEX ci_lname IF NOT EXISTS FOR (c:CI) ON (c.lname);
MATCH (c:CI) WHERE c.lname IS NULL CALL (c) { SET c.lname = toLower(c.name) } IN TRANSACTIONS OF 10000 ROWS
