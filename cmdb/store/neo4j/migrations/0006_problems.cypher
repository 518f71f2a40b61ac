// Problems and known errors: one node per problem id, linked to the CIs it names.
CREATE CONSTRAINT problem_id IF NOT EXISTS FOR (x:Problem) REQUIRE x.id IS UNIQUE;
