-- sheetbridge.import_foreign_tables: a regular expression over the remote
-- catalog, exclusions, names that need quoting, re-running, the enum types
-- of the remote columns.
BEGIN;
SELECT plan(28);

CREATE FUNCTION pg_temp.foreign_tables(nsp name) RETURNS text[] LANGUAGE sql AS $$
    SELECT array_agg(c.relname::text ORDER BY c.relname::text COLLATE "C")
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = nsp AND c.relkind = 'f'
$$;

CALL sheetbridge.import_foreign_tables('origin', 'imp', 't_import', '^(orders|Order Lines|a"b|MixedCase)', '_archive$');
SELECT is(
    pg_temp.foreign_tables('t_import'),
    ARRAY['MixedCase', 'Order Lines', 'a"b', 'orders', 'orders_v'],
    'the matching tables and the view are imported, the excluded and the unmatched are not');
SELECT is((SELECT count(*) FROM t_import."Order Lines"), 2::bigint, 'a name with a space and capitals reads the remote table');
SELECT is((SELECT "v w" FROM t_import."a""b" WHERE k = 'x'), 'y', 'a name with a double quote reads the remote table');
SELECT is((SELECT count(*) FROM t_import.orders_v), 5::bigint, 'a remote view is imported and readable');

-- Without exclusions, every match.
CALL sheetbridge.import_foreign_tables('origin', 'imp', 't_import_all', '^orders');
SELECT is(
    pg_temp.foreign_tables('t_import_all'),
    ARRAY['orders', 'orders_archive', 'orders_v'],
    'no exclusion: every table matching the pattern');

-- A partitioned table comes without its partitions.
CALL sheetbridge.import_foreign_tables('origin', 'imp', 'Odd Schema', '^parted');
SELECT is(
    pg_temp.foreign_tables('Odd Schema'),
    ARRAY['parted'],
    'a partitioned table is imported without its partitions, into a schema whose name needs quoting');

-- Re-running replaces the foreign tables, keeping what was granted on them.
GRANT SELECT ON t_import.orders TO sheetbridge_refresh;
CREATE TEMP TABLE before AS
    SELECT c.relname, c.oid FROM pg_class c WHERE c.relnamespace = 't_import'::regnamespace;
CALL sheetbridge.import_foreign_tables('origin', 'imp', 't_import', '^(orders|Order Lines|a"b|MixedCase)', '_archive$');
SELECT is(
    pg_temp.foreign_tables('t_import'),
    ARRAY['MixedCase', 'Order Lines', 'a"b', 'orders', 'orders_v'],
    're-running imports the same tables again');
SELECT is_empty(
    $$SELECT b.relname FROM before b JOIN pg_class c ON c.oid = b.oid$$,
    're-running replaced every imported table');
SELECT ok(has_table_privilege('sheetbridge_refresh', 't_import.orders', 'SELECT'),
    'a privilege granted on an imported table survives the re-import');
SELECT is((SELECT count(*) FROM t_import."Order Lines"), 2::bigint, 'the re-imported table reads the remote one');

-- The enum types the columns use are made here first: the remote schema
-- (made when missing), name and labels, in order.
SELECT ok(to_regtype('"Shop"."Order State"') IS NULL AND to_regtype('imp.mood') IS NULL,
    'no enum type of the origin is here before its tables are imported');
CALL sheetbridge.import_foreign_tables('origin', 'imp', 't_enums', '^(Stateful Orders|moods)$');
SELECT is(pg_temp.foreign_tables('t_enums'), ARRAY['Stateful Orders', 'moods'],
    'tables with enum and enum array columns are imported');
SELECT is(enum_range(NULL::"Shop"."Order State")::text[], ARRAY['new', 'it''s paid', 'Shipped "fast"'],
    'an enum type whose schema, name and labels need quoting is made with the remote labels, in order');
SELECT is(enum_range(NULL::imp.mood)::text[], ARRAY['sad', 'ok', 'happy'],
    'an enum type only an array column uses is made too');
SELECT is((SELECT ARRAY[state::text] || history::text[] FROM t_enums."Stateful Orders" WHERE id = 2),
    ARRAY['it''s paid', 'new', 'it''s paid'], 'the enum and enum array columns read the remote values');
SELECT is((SELECT moods::text[] FROM t_enums.moods WHERE id = 1), ARRAY['sad', 'happy'],
    'an enum array column reads the remote values');

-- An enum type here with the same labels is kept as it is.
CREATE TEMP TABLE enum_before AS SELECT to_regtype('"Shop"."Order State"')::oid AS oid;
CALL sheetbridge.import_foreign_tables('origin', 'imp', 't_enums', '^(Stateful Orders|moods)$');
SELECT is(to_regtype('"Shop"."Order State"')::oid, (SELECT oid FROM enum_before),
    'an enum type here with the same labels is kept');

-- One with other labels, or in another order, is an error naming both lists;
-- one that lacks some of the remote labels gets them, in their places.
DROP TYPE imp.mood CASCADE;
CREATE TYPE imp.mood AS ENUM ('happy', 'sad');
SELECT throws_ok(
    $$CALL sheetbridge.import_foreign_tables('origin', 'imp', 't_enums', '^moods$')$$,
    '42804', 'the enum type imp.mood has the labels (''happy'', ''sad'') here but (''sad'', ''ok'', ''happy'') on server origin',
    'an enum type here with its labels in another order is an error naming both lists');
DROP TYPE imp.mood;
CREATE TYPE imp.mood AS ENUM ('sad', 'meh', 'happy');
SELECT throws_ok(
    $$CALL sheetbridge.import_foreign_tables('origin', 'imp', 't_enums', '^moods$')$$,
    '42804', 'the enum type imp.mood has the labels (''sad'', ''meh'', ''happy'') here but (''sad'', ''ok'', ''happy'') on server origin',
    'an enum type here with a label the remote one lacks is an error naming both lists');
DROP TYPE imp.mood;
CREATE TYPE imp.mood AS ENUM ('ok');
CALL sheetbridge.import_foreign_tables('origin', 'imp', 't_enums', '^moods$');
-- (From pg_enum: a label added in this transaction is not usable before it commits.)
SELECT is((SELECT array_agg(enumlabel::text ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = 'imp.mood'::regtype),
    ARRAY['sad', 'ok', 'happy'], 'labels the enum type here lacks are added, in their places');
DROP TYPE imp.mood CASCADE;
CREATE DOMAIN imp.mood AS text;
SELECT throws_ok(
    $$CALL sheetbridge.import_foreign_tables('origin', 'imp', 't_enums', '^moods$')$$,
    '42804', 'imp.mood exists and is not an enum type; on server origin it is one',
    'a type of another kind under the enum''s name is an error');

-- Errors name the thing.
SELECT throws_ok(
    $$CALL sheetbridge.import_foreign_tables('origin', 'imp', 't_import', '^nothing-like-this$')$$,
    'P0002', 'no table or view of origin.imp matches ''^nothing-like-this$'' (excluding nothing): nothing to import',
    'a pattern that matches nothing is an error');
SELECT throws_ok(
    $$CALL sheetbridge.import_foreign_tables('origin', 'no_such_schema', 't_import', '.')$$,
    '3F000', 'server origin has no schema no_such_schema',
    'an unknown remote schema is an error');
SELECT throws_ok(
    $$CALL sheetbridge.import_foreign_tables('origin', 'imp', 't_import', '(')$$,
    '2201B', NULL,
    'a malformed pattern is an error');
CREATE SCHEMA t_taken;
CREATE TABLE t_taken."MixedCase" (id bigint);
SELECT throws_ok(
    $$CALL sheetbridge.import_foreign_tables('origin', 'imp', 't_taken', '^MixedCase$')$$,
    '42P07', 't_taken."MixedCase" exists and is not a foreign table: importing would replace it',
    'a real table under an imported name is never replaced');
SELECT has_table('t_taken', 'MixedCase', 'the real table is still there');
SELECT throws_ok(
    $$CALL sheetbridge.import_foreign_tables('no_such_server', 'imp', 't_import', '.')$$,
    '42704', NULL,
    'an unknown server is an error');

-- The origin checks passwords: the same server with a wrong one is refused.
DO $$
BEGIN
    EXECUTE (SELECT format('CREATE SERVER origin_wrong FOREIGN DATA WRAPPER postgres_fdw OPTIONS (%s)',
                           string_agg(format('%I %L', option_name, option_value), ', '))
             FROM pg_foreign_server s, pg_options_to_table(s.srvoptions) WHERE s.srvname = 'origin');
END
$$;
CREATE USER MAPPING FOR PUBLIC SERVER origin_wrong OPTIONS (user 'app', password 'not the password');
CREATE FUNCTION pg_temp.import_error_detail() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    detail text;
BEGIN
    CALL sheetbridge.import_foreign_tables('origin_wrong', 'imp', 't_wrong', '.');
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN detail;
END
$$;
SELECT matches(pg_temp.import_error_detail(), 'password authentication failed for user "app"',
    'the origin refuses a wrong password');

SELECT * FROM finish();
ROLLBACK;
