-- sheetbridge.schedule_refresh / unschedule_refresh / refresh_jobs: pg_cron
-- jobs by name, run as sheetbridge_refresh. (60_cron_run.sql lets one run.)
BEGIN;
SELECT plan(18);

CALL sheetbridge.import_foreign_tables('origin', 'ref', 't_sched', '^items$');
CALL sheetbridge.create_local_copy('t_sched.items', 'r_sched.items');
CALL sheetbridge.create_local_copy('t_sched.items', 'r_sched."Odd ''Name"');

SELECT isnt(sheetbridge.schedule_refresh('t_items', '*/5 * * * *', 't_sched.items', 'r_sched.items', 50), NULL,
    'scheduling returns the job''s id');
SELECT results_eq(
    $$SELECT schedule, command, database, username, active FROM cron.job WHERE jobname = 't_items'$$,
    $$VALUES ('*/5 * * * *'::text,
              'CALL sheetbridge.refresh_table(''t_sched.items''::regclass, ''r_sched.items''::regclass, 50)'::text,
              current_database()::text COLLATE "default", 'sheetbridge_refresh'::text, true)$$,
    'the job calls refresh_table with both names qualified, in this database, as sheetbridge_refresh');
SELECT ok(has_table_privilege('sheetbridge_refresh', 't_sched.items', 'SELECT'), 'the job''s role may read the source');
SELECT ok(has_server_privilege('sheetbridge_refresh', 'origin', 'USAGE'), '... use its server');
SELECT ok(has_table_privilege('sheetbridge_refresh', 'r_sched.items', 'SELECT, INSERT, UPDATE, DELETE'),
    '... and write the target');
SELECT ok(NOT has_table_privilege('sheetbridge_refresh', 'r_sched."Odd ''Name"', 'INSERT'),
    '... but not a copy no job refreshes');

-- The same name again replaces the job.
CREATE TEMP TABLE first_id AS SELECT jobid FROM cron.job WHERE jobname = 't_items';
SELECT is(sheetbridge.schedule_refresh('t_items', '*/10 * * * *', 't_sched.items', 'r_sched."Odd ''Name"'),
          (SELECT jobid FROM first_id), 'scheduling a name again keeps its job');
SELECT results_eq(
    $$SELECT job_name, schedule, source, target, batch_size FROM sheetbridge.refresh_jobs WHERE job_name = 't_items'$$,
    $$VALUES ('t_items'::text, '*/10 * * * *'::text, 't_sched.items'::text, 'r_sched."Odd ''Name"'::text, 10000)$$,
    'and replaces its schedule and target; refresh_jobs reads them back, quoting and all');

SELECT sheetbridge.schedule_refresh('t_other', '0 3 * * *', 't_sched.items', 'r_sched.items');
CALL sheetbridge.refresh_table('t_sched.items', 'r_sched.items', 7);
SELECT results_eq(
    $$SELECT job_name, last_refresh_status, last_refresh_inserted, last_run_status
      FROM sheetbridge.refresh_jobs WHERE job_name IN ('t_items', 't_other') ORDER BY job_name$$,
    $$VALUES ('t_items'::text, NULL::text, NULL::bigint, NULL::text), ('t_other', 'success', 20, NULL)$$,
    'refresh_jobs lists each job with its target''s last refresh (none yet for the odd one)');

SELECT is(sheetbridge.unschedule_refresh('t_items'), true, 'unscheduling a job says it was there');
SELECT is(sheetbridge.unschedule_refresh('t_items'), false, 'unscheduling it again says it was not');
SELECT is_empty($$SELECT 1 FROM cron.job WHERE jobname = 't_items'$$, 'the job is gone from pg_cron');
SELECT results_eq($$SELECT job_name FROM sheetbridge.refresh_jobs WHERE job_name LIKE 't\_%'$$,
    $$VALUES ('t_other'::text)$$, 'and from refresh_jobs; the other job stays');

-- Errors.
SELECT throws_ok(
    $$SELECT sheetbridge.schedule_refresh('t_bad', 'every minute', 't_sched.items', 'r_sched.items')$$,
    NULL, NULL, 'a schedule pg_cron cannot read is refused');
DO $$
BEGIN
    EXECUTE (SELECT format('CREATE SERVER unmapped FOREIGN DATA WRAPPER postgres_fdw OPTIONS (%s)',
                           string_agg(format('%I %L', option_name, option_value), ', '))
             FROM pg_foreign_server s, pg_options_to_table(s.srvoptions) WHERE s.srvname = 'origin');
END
$$;
CREATE FOREIGN TABLE t_sched.unmapped (id integer) SERVER unmapped OPTIONS (schema_name 'ref', table_name 'items');
SELECT throws_ok(
    $$SELECT sheetbridge.schedule_refresh('t_bad', '* * * * *', 't_sched.unmapped', 'r_sched.items')$$,
    'HV000', 'server unmapped has no user mapping for sheetbridge_refresh, which runs the refresh of t_sched.unmapped',
    'a source whose server the job''s role cannot reach is refused');
SELECT throws_ok(
    $$SELECT sheetbridge.schedule_refresh('t_bad', '* * * * *', 't_sched.items', 'r_sched.items', 0)$$,
    '22023', NULL, 'a batch size below 1 is refused');
SELECT is_empty($$SELECT 1 FROM cron.job WHERE jobname = 't_bad'$$, 'a refused schedule leaves no job');

SET LOCAL ROLE sheetbridge;
SELECT throws_ok(
    $$SELECT sheetbridge.schedule_refresh('t_mine', '* * * * *', 't_sched.items', 'r_sched.items')$$,
    '42501', NULL, 'the sheetbridge role cannot schedule refreshes');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
