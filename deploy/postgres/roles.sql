-- redscope on PostgreSQL, step 1 of 3: the roles and the database.
--
-- Run once as a superuser (or a role with CREATEROLE and CREATEDB), with psql:
--   psql "postgres://admin@db.example:5432/postgres?sslmode=verify-full&sslrootcert=ca.crt" \
--     -v owner_password="$OWNER_PW" -v scan_password="$SCAN_PW" -v read_password="$READ_PW" \
--     -f deploy/postgres/roles.sql
--
-- redscope_owner owns the database and its tables: only it creates or migrates the schema.
-- redscope_scan  is what scanning pods log in as: it reads and writes the scan tables, nothing else.
-- redscope_read  is for the dashboard and reports: it reads every table and writes none.
-- Step 2: create the schema once as the owner (any redscope command that opens the store does it):
--   redscope report --list --db "postgres://redscope_owner:$OWNER_PW@db.example:5432/redscope?sslmode=verify-full&sslrootcert=ca.crt"
-- Step 3: deploy/postgres/grants.sql, as the owner. After upgrading redscope, run step 2 and 3 again.
\set ON_ERROR_STOP on

CREATE ROLE redscope_owner LOGIN PASSWORD :'owner_password';
-- Each scanning pod holds at most 4 connections: 200 is 50 pods, and a runaway Job cannot take
-- every connection the server has.
CREATE ROLE redscope_scan LOGIN PASSWORD :'scan_password' CONNECTION LIMIT 200;
CREATE ROLE redscope_read LOGIN PASSWORD :'read_password';
CREATE DATABASE redscope OWNER redscope_owner ENCODING 'UTF8' TEMPLATE template0;
-- Nobody connects or creates temporary tables in it unless granted below.
REVOKE ALL ON DATABASE redscope FROM PUBLIC;
GRANT CONNECT ON DATABASE redscope TO redscope_scan, redscope_read;
