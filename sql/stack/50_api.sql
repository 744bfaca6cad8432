-- The API schema PostgREST serves (`db-schemas = sheetbridge_api`,
-- `db-anon-role = web_anon`): read-only views of sheetbridge's runs,
-- conflicts and held deletions, and of the stack's refreshes. Re-runnable.
--
-- Where the views come from: `runs`, `conflicts` and `held_deletes` read
-- sheetbridge's own tables, which its migrations make when `sheetbridge`
-- first connects, usually after this file ran. So those three views are a
-- migration of sheetbridge's (sql/migrations/0005_api.sql), made by the
-- role that runs the migrations, and this file arranges that web_anon may
-- read them either way:
-- - default privileges: what the `sheetbridge` role creates in
--   sheetbridge_api later is readable by web_anon;
-- - GRANT ... ON ALL TABLES: what is there already (migrations that ran
--   before this file, or as another role) is readable now.
-- `refreshes` reads sheetbridge.refresh_log (30_fdw.sql), so it is made
-- here. A view reads its tables with its owner's rights: web_anon needs
-- nothing on the schema `sheetbridge` itself, and gets nothing there.

ALTER DEFAULT PRIVILEGES FOR ROLE sheetbridge IN SCHEMA sheetbridge_api GRANT SELECT ON TABLES TO web_anon;

CREATE OR REPLACE VIEW sheetbridge_api.refreshes AS
SELECT id, source, target, started_at, finished_at, inserted, updated, deleted, status, error
FROM sheetbridge.refresh_log;

GRANT USAGE ON SCHEMA sheetbridge_api TO web_anon;
GRANT SELECT ON ALL TABLES IN SCHEMA sheetbridge_api TO web_anon;
