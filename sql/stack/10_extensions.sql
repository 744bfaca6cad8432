-- The stack's extensions and the schema its helpers live in.
--
-- Applied by a superuser into the custom database with
-- `psql -v ON_ERROR_STOP=1 -f`, before the other files of sql/stack/ (they
-- go in name order). Safe to run any number of times.
--
-- postgres_fdw pulls the origin's tables in; pg_cron refreshes the local
-- copies on a schedule. pg_cron can live in one database only, the one
-- named by the server setting `cron.database_name` (it must also be in
-- `shared_preload_libraries`); in any other database it is left out and
-- 40_cron.sql skips itself.

CREATE EXTENSION IF NOT EXISTS postgres_fdw;

DO $$
BEGIN
    IF current_database() = current_setting('cron.database_name', true) THEN
        CREATE EXTENSION IF NOT EXISTS pg_cron;
    ELSE
        RAISE NOTICE 'pg_cron left out: this database (%) is not cron.database_name (%)',
            current_database(), coalesce(current_setting('cron.database_name', true), 'unset');
    END IF;
END
$$;

-- sheetbridge's own state (its migrations) and the stack's helpers. The
-- schema belongs to the superuser applying these files, not to the
-- `sheetbridge` role (see 20_roles.sql for why).
CREATE SCHEMA IF NOT EXISTS sheetbridge;
-- Read-only views that PostgREST serves (50_api.sql, and sheetbridge's
-- migration 0005_api.sql).
CREATE SCHEMA IF NOT EXISTS sheetbridge_api;
