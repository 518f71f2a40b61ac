// API state that every server process on this database shares: tokens (hashed) and the
// rate limiter's buckets.
CREATE CONSTRAINT api_token_key IF NOT EXISTS FOR (t:ApiToken) REQUIRE t.key IS UNIQUE;
CREATE CONSTRAINT api_token_hash IF NOT EXISTS FOR (t:ApiToken) REQUIRE t.secret_sha256 IS UNIQUE;
CREATE CONSTRAINT rate_bucket_key IF NOT EXISTS FOR (b:RateBucket) REQUIRE b.key IS UNIQUE;
CREATE INDEX rate_bucket_full_at IF NOT EXISTS FOR (b:RateBucket) ON (b.full_at);
