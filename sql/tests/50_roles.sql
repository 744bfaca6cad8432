-- Least privilege: what sheetbridge, sheetbridge_refresh, authenticator and
-- web_anon may and may not do. Each role is taken on with SET SESSION
-- AUTHORIZATION, so its own memberships count, not the superuser's.
-- sheetbridge's migrations ran as the sheetbridge role before these tests,
-- as they do when `sheetbridge` first connects to the stack.
BEGIN;
SELECT plan(32);

SELECT ok((SELECT rolcanlogin AND NOT rolinherit AND NOT rolsuper FROM pg_roles WHERE rolname = 'authenticator'),
    'authenticator logs in, inherits nothing, is no superuser');
SELECT ok((SELECT NOT rolcanlogin FROM pg_roles WHERE rolname = 'web_anon'), 'web_anon cannot log in');
SELECT ok((SELECT rolcanlogin AND NOT rolsuper AND NOT rolcreaterole AND NOT rolcreatedb FROM pg_roles WHERE rolname = 'sheetbridge'),
    'sheetbridge logs in and is no superuser');
SELECT ok((SELECT NOT rolsuper FROM pg_roles WHERE rolname = 'sheetbridge_refresh'), 'sheetbridge_refresh is no superuser');
SELECT isnt((SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'sheetbridge'), 'sheetbridge',
    'the schema holding the stack''s procedures is not the connector''s');

CREATE SCHEMA app_r;
CREATE TABLE app_r.pair (id serial PRIMARY KEY, name text);
CREATE TABLE app_r.secret (id integer PRIMARY KEY, code text);
CREATE TABLE app_r.base (id integer PRIMARY KEY, name text);
CREATE VIEW app_r.pair_v AS SELECT id, name FROM app_r.base;
INSERT INTO app_r.secret VALUES (1, 'hidden');
INSERT INTO app_r.base VALUES (1, 'one');
SELECT sheetbridge.grant_pair_table('app_r.pair');
SELECT sheetbridge.grant_pair_table('app_r.pair_v');
INSERT INTO sheetbridge.run (pair, command, status, finished_at) VALUES ('p', 'sync', 'success', now());
INSERT INTO sheetbridge.refresh_log (source, target, started_at, finished_at, status) VALUES ('a.b', 'c.d', now(), now(), 'success');

-- The connector.
SET SESSION AUTHORIZATION sheetbridge;
SELECT throws_ok('SELECT * FROM app_r.secret', '42501', NULL, 'sheetbridge cannot read a table not granted to it');
SELECT throws_ok('SELECT * FROM app_r.base', '42501', NULL, '... nor the table under a pair''s view');
SELECT lives_ok($$INSERT INTO app_r.pair (name) VALUES ('from the sheet')$$,
    'it inserts into a pair''s table, drawing the serial key');
SELECT lives_ok($$UPDATE app_r.pair SET name = 'edited' WHERE name = 'from the sheet'$$, '... updates it');
SELECT is((SELECT count(*) FROM app_r.pair), 1::bigint, '... reads it');
SELECT lives_ok($$DELETE FROM app_r.pair$$, '... deletes from it');
SELECT results_eq($$SELECT * FROM sheetbridge.watch_table('app_r.pair')$$, $$VALUES ('app_r.pair')$$,
    'it installs its NOTIFY trigger on a pair''s table');
SELECT set_eq($$SELECT * FROM sheetbridge.watch_table('app_r.pair_v')$$, ARRAY['app_r.pair_v', 'app_r.base'],
    'and on a pair''s view and the table the view reads');
SELECT lives_ok($$UPDATE app_r.pair_v SET name = 'uno' WHERE id = 1$$, 'it writes through a pair''s view');
SELECT lives_ok('CREATE TABLE sheetbridge.scratch (id integer)', 'it creates its own tables in its schema');
SELECT throws_ok('CREATE TABLE public.scratch (id integer)', '42501', NULL, 'but not in public');
SELECT throws_ok('DROP PROCEDURE sheetbridge.refresh_table(regclass, regclass, integer)', '42501', NULL,
    'it cannot drop or replace the stack''s procedures');
SELECT throws_ok($$CALL sheetbridge.refresh_table('app_r.secret', 'app_r.pair')$$, '42501', NULL,
    'it cannot run refreshes');
SELECT throws_ok($$SELECT sheetbridge.grant_pair_table('app_r.secret')$$, '42501', NULL,
    'it cannot grant itself a table');
SELECT throws_ok('SELECT * FROM sheetbridge.refresh_log', '42501', NULL, 'it cannot read the refresh log');
RESET SESSION AUTHORIZATION;

-- The refreshes' role.
SET SESSION AUTHORIZATION sheetbridge_refresh;
SELECT throws_ok('SELECT * FROM app_r.secret', '42501', NULL, 'sheetbridge_refresh cannot read a table it refreshes nothing into');
SELECT throws_ok('SELECT * FROM sheetbridge.run', '42501', NULL, '... nor sheetbridge''s state');
RESET SESSION AUTHORIZATION;

-- PostgREST's roles.
SET SESSION AUTHORIZATION authenticator;
SELECT throws_ok('SELECT * FROM sheetbridge_api.runs', '42501', NULL,
    'authenticator alone reads nothing (it inherits nothing)');
SELECT throws_ok('SET ROLE sheetbridge', '42501', NULL, 'authenticator cannot become sheetbridge');
SELECT lives_ok('SET ROLE web_anon', 'authenticator can become web_anon');
SELECT is((SELECT count(*) FROM sheetbridge_api.runs), 1::bigint, 'web_anon reads the runs');
SELECT lives_ok('SELECT * FROM sheetbridge_api.conflicts, sheetbridge_api.held_deletes', '... conflicts and held deletes');
SELECT is((SELECT count(*) FROM sheetbridge_api.refreshes WHERE target = 'c.d'), 1::bigint, '... and refreshes');
SELECT throws_ok($$INSERT INTO sheetbridge_api.runs (pair, command) VALUES ('x', 'sync')$$, '42501', NULL,
    'web_anon cannot write through the views');
SELECT throws_ok('DELETE FROM sheetbridge_api.refreshes', '42501', NULL, '... of any of them');
SELECT throws_ok('SELECT * FROM sheetbridge.run', '42501', NULL, 'web_anon cannot read the tables behind the views');
SELECT throws_ok('SELECT * FROM app_r.pair', '42501', NULL, '... nor a pair''s table');
RESET ROLE;
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
