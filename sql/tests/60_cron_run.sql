-- pg_cron really runs a scheduled refresh: as sheetbridge_refresh, through
-- the origin's password-checked login, into a pair's table that sheetbridge
-- watches (its NOTIFY trigger fires as the refreshes' role). Not in one
-- transaction: pg_cron only sees committed jobs, so this file cleans up
-- after itself. pg_cron starts jobs on whole minutes: the wait is at most
-- about 75 s.
SELECT plan(8);

CALL sheetbridge.import_foreign_tables('origin', 'tick', 't_tick', '^readings$');
CALL sheetbridge.create_local_copy('t_tick.readings', 'r_tick.readings');
SELECT sheetbridge.grant_pair_table('r_tick.readings');
SET SESSION AUTHORIZATION sheetbridge;
SELECT sheetbridge.watch_table('r_tick.readings');
RESET SESSION AUTHORIZATION;

SELECT isnt(sheetbridge.schedule_refresh('t_tick', '* * * * *', 't_tick.readings', 'r_tick.readings', 2), NULL,
    'a refresh is scheduled every minute');

-- Waits until pg_cron has run the job to the end (or `seconds` pass).
CREATE FUNCTION pg_temp.wait_for_run(job text, seconds integer) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + make_interval(secs => seconds);
BEGIN
    LOOP
        IF EXISTS (SELECT 1 FROM sheetbridge.refresh_jobs
                   WHERE job_name = job AND last_run_status IN ('succeeded', 'failed')) THEN
            RETURN true;
        END IF;
        IF clock_timestamp() > deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.5);
    END LOOP;
END
$$;

SELECT ok(pg_temp.wait_for_run('t_tick', 75), 'pg_cron ran the job within 75 s');
SELECT results_eq(
    $$SELECT last_run_status, last_refresh_status, last_refresh_inserted, last_refresh_error
      FROM sheetbridge.refresh_jobs WHERE job_name = 't_tick'$$,
    $$VALUES ('succeeded'::text, 'success'::text, 5::bigint, NULL::text)$$,
    'the run succeeded, and its refresh inserted the origin''s 5 rows');
SELECT is((SELECT count(*) FROM cron.job_run_details d JOIN cron.job j USING (jobid)
           WHERE j.jobname = 't_tick' AND d.status = 'succeeded' AND d.username = 'sheetbridge_refresh'), 1::bigint,
    'it ran as sheetbridge_refresh');
SELECT set_eq('SELECT id, value FROM r_tick.readings', 'SELECT id, value FROM t_tick.readings',
    'the pair''s table holds the origin''s rows');
SELECT is((SELECT count(*) FROM pg_trigger WHERE tgrelid = 'r_tick.readings'::regclass
           AND tgname = 'sheetbridge_notify_change'), 1::bigint,
    'with sheetbridge''s trigger on it, which fired in the refresh without failing it');

SELECT is(sheetbridge.unschedule_refresh('t_tick'), true, 'the job is unscheduled');
SELECT is_empty($$SELECT 1 FROM cron.job WHERE jobname = 't_tick'$$, 'and gone from pg_cron');

SELECT * FROM finish();

DROP SCHEMA t_tick CASCADE;
DROP SCHEMA r_tick CASCADE;
DELETE FROM sheetbridge.refresh_log WHERE target = 'r_tick.readings';
