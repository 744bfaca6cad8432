-- pg_cron helpers: refreshes of local copies (sheetbridge.refresh_table)
-- scheduled by name. Re-runnable. pg_cron lives only in the database named
-- by `cron.database_name`; in any other database this file does nothing.
--
--   SELECT sheetbridge.schedule_refresh('orders', '*/5 * * * *', 'origin.orders', 'app.orders');
--   SELECT * FROM sheetbridge.refresh_jobs;
--   SELECT sheetbridge.unschedule_refresh('orders');
--
-- The jobs run as the role sheetbridge_refresh (see 20_roles.sql), which
-- schedule_refresh gives exactly what its job reads and writes. It reaches
-- the origin through a user mapping of its own or PUBLIC's on the foreign
-- server, e.g. `CREATE USER MAPPING FOR PUBLIC SERVER origin OPTIONS (user
-- 'app', password '...')`, since only a superuser's mapping may go without
-- a password.

SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') AS sheetbridge_has_cron \gset
\if :sheetbridge_has_cron

-- Schedules `CALL sheetbridge.refresh_table(source, target, batch_size)`
-- under `job_name` (a cron schedule, whole minutes: '*/5 * * * *'), run by
-- sheetbridge_refresh, and returns pg_cron's job id. Scheduling a name again
-- replaces that job. Grants sheetbridge_refresh SELECT on the source (and
-- USAGE on its foreign server), SELECT, INSERT, UPDATE and DELETE on the
-- target, USAGE on their schemas; refuses when the source's foreign server
-- has no user mapping it can use, since the job would only fail later.
CREATE OR REPLACE FUNCTION sheetbridge.schedule_refresh(
    job_name text, schedule text, source regclass, target regclass, batch_size integer DEFAULT 10000)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    server      name;
    server_oid  oid;
BEGIN
    IF job_name IS NULL OR job_name = '' OR schedule IS NULL OR source IS NULL OR target IS NULL THEN
        RAISE EXCEPTION 'sheetbridge.schedule_refresh: job_name, schedule, source and target are required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'sheetbridge.schedule_refresh: batch_size must be at least 1, not %', coalesce(batch_size::text, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT s.srvname, s.oid INTO server, server_oid
    FROM pg_catalog.pg_foreign_table ft JOIN pg_catalog.pg_foreign_server s ON s.oid = ft.ftserver
    WHERE ft.ftrelid = source;
    IF server IS NOT NULL THEN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_user_mappings m
                       WHERE m.srvid = server_oid AND m.usename IN ('sheetbridge_refresh', 'public')) THEN
            RAISE EXCEPTION 'server % has no user mapping for sheetbridge_refresh, which runs the refresh of %',
                quote_ident(server), sheetbridge.qualified_name(source)
                USING ERRCODE = 'fdw_error',
                      HINT = format('CREATE USER MAPPING FOR sheetbridge_refresh SERVER %I OPTIONS (user ''...'', password ''...'') (or FOR PUBLIC)', server);
        END IF;
        EXECUTE format('GRANT USAGE ON FOREIGN SERVER %I TO sheetbridge_refresh', server);
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO sheetbridge_refresh',
                   (SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = source));
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO sheetbridge_refresh',
                   (SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = target));
    EXECUTE format('GRANT SELECT ON %s TO sheetbridge_refresh', sheetbridge.qualified_name(source));
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO sheetbridge_refresh', sheetbridge.qualified_name(target));

    RETURN cron.schedule_in_database(
        job_name, schedule,
        format('CALL sheetbridge.refresh_table(%L::regclass, %L::regclass, %s)',
               sheetbridge.qualified_name(source), sheetbridge.qualified_name(target), batch_size),
        current_database(), 'sheetbridge_refresh');
END
$$;

-- Removes the refresh job `job_name`; false when there was none.
CREATE OR REPLACE FUNCTION sheetbridge.unschedule_refresh(job_name text) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id    bigint;
    found boolean := false;
BEGIN
    FOR id IN SELECT j.jobid FROM cron.job j
              WHERE j.jobname = job_name AND j.username = 'sheetbridge_refresh'
    LOOP
        PERFORM cron.unschedule(id);
        found := true;
    END LOOP;
    RETURN found;
END
$$;

REVOKE ALL ON FUNCTION sheetbridge.schedule_refresh(text, text, regclass, regclass, integer),
    sheetbridge.unschedule_refresh(text) FROM PUBLIC;

-- Every scheduled refresh: its job, what it refreshes, how pg_cron's last
-- run of it went (cron.job_run_details) and what the last refresh of its
-- target did (sheetbridge.refresh_log).
-- (Dropped and made again: nothing depends on it, and a newer version of
-- this file may change its columns, which CREATE OR REPLACE cannot.)
DROP VIEW IF EXISTS sheetbridge.refresh_jobs;
CREATE VIEW sheetbridge.refresh_jobs AS
SELECT j.jobid,
       j.jobname::text COLLATE "default" AS job_name,
       j.schedule,
       j.active,
       j.username,
       replace(m[1], '''''', '''') AS source,
       replace(m[2], '''''', '''') AS target,
       m[3]::integer AS batch_size,
       r.status AS last_run_status,
       r.start_time AS last_run_started_at,
       r.end_time AS last_run_finished_at,
       r.return_message AS last_run_message,
       l.status AS last_refresh_status,
       l.finished_at AS last_refresh_at,
       l.inserted AS last_refresh_inserted,
       l.updated AS last_refresh_updated,
       l.deleted AS last_refresh_deleted,
       l.error AS last_refresh_error
FROM cron.job j
CROSS JOIN LATERAL regexp_match(j.command,
    '^CALL sheetbridge\.refresh_table\(''((?:[^'']|'''')*)''::regclass, ''((?:[^'']|'''')*)''::regclass, (\d+)\)$') m
LEFT JOIN LATERAL (
    SELECT d.status, d.start_time, d.end_time, d.return_message
    FROM cron.job_run_details d WHERE d.jobid = j.jobid
    ORDER BY d.runid DESC LIMIT 1
) r ON true
LEFT JOIN LATERAL (
    SELECT l.status, l.finished_at, l.inserted, l.updated, l.deleted, l.error
    FROM sheetbridge.refresh_log l
    WHERE l.source = replace(m[1], '''''', '''') AND l.target = replace(m[2], '''''', '''')
    ORDER BY l.started_at DESC, l.id DESC LIMIT 1
) l ON true
WHERE j.command LIKE 'CALL sheetbridge.refresh_table(%';

\else
\echo 40_cron.sql: pg_cron is not installed in this database; no refresh schedules here
\endif
