-- redscope on PostgreSQL, step 3 of 3: what each narrower role may do (see roles.sql).
--
-- Run as redscope_owner in the redscope database, after redscope created the schema:
--   psql "postgres://redscope_owner:$OWNER_PW@db.example:5432/redscope?sslmode=verify-full&sslrootcert=ca.crt" \
--     -f deploy/postgres/grants.sql
-- test/deploy.test.ts runs this file as it is, then a real scan as redscope_scan.
\set ON_ERROR_STOP on

-- Only the owner creates objects (PostgreSQL before 15 lets every role create in public).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO redscope_scan, redscope_read;

-- A scan: finds the schema current (schema_migrations), joins or creates its scan row (scans),
-- marks its shard started, progressing and finished (scan_shards), inserts its results and, when
-- resumed, deletes the rows its checkpoint does not cover (results), keeping the report's
-- aggregates of its rows in the same transactions (result_aggregates, result_examples). It never
-- drops, alters or truncates anything, and never touches the honeypot's or the audit's tables.
GRANT SELECT ON schema_migrations TO redscope_scan;
GRANT SELECT, INSERT, UPDATE ON scans, scan_shards TO redscope_scan;
GRANT SELECT, INSERT, DELETE ON results TO redscope_scan;
GRANT SELECT, INSERT, UPDATE, DELETE ON result_aggregates, result_examples TO redscope_scan;

-- Reports and the dashboard read everything and write nothing.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO redscope_read;
