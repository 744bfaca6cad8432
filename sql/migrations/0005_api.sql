-- Read-only views of sheetbridge's state for an HTTP API: the stack's
-- PostgREST serves the schema `sheetbridge_api` to its anonymous role
-- (sql/stack/50_api.sql grants the reading). Made here, by the migrations,
-- because the tables they read are made here too. Never edited after
-- release.

CREATE SCHEMA IF NOT EXISTS sheetbridge_api;

CREATE VIEW sheetbridge_api.runs AS
SELECT id, pair, command, started_at, finished_at, status, counts, error
FROM sheetbridge.run;

CREATE VIEW sheetbridge_api.conflicts AS
SELECT id, pair, run_id, key, "column", base, table_value, sheet_value,
       resolution, settled_by, resolved_at, applied_at, created_at
FROM sheetbridge.conflict;

CREATE VIEW sheetbridge_api.held_deletes AS
SELECT id, pair, run_id, key, deleted_on, row, decision, decided_at, applied_at, created_at
FROM sheetbridge.held_delete;

-- A running PostgREST caches the schema it serves: ask it to read the new views.
-- (A notification nobody listens for is dropped; without PostgREST this does nothing.)
NOTIFY pgrst, 'reload schema';
