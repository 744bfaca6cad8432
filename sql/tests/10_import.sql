-- sheetbridge.import_foreign_tables: a regular expression over the remote
-- catalog, exclusions, names that need quoting, re-running, the enum and
-- domain types of the remote columns, composite types.
BEGIN;
SELECT plan(44);

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

-- The domain types the columns use are made here too, each after its base
-- type: the remote schema and name, base type with its modifier, NOT NULL,
-- default and CHECK constraints (names and texts as the origin has them).
CREATE FUNCTION pg_temp.domain_def(typ text) RETURNS text LANGUAGE sql AS $$
    SELECT concat_ws(' ', format_type(t.typbasetype, t.typtypmod),
                     CASE WHEN t.typnotnull THEN 'NOT NULL' END, 'DEFAULT ' || t.typdefault,
                     (SELECT string_agg(format('CONSTRAINT %I %s', c.conname, pg_get_constraintdef(c.oid)), ' '
                                        ORDER BY c.conname)
                      FROM pg_constraint c WHERE c.contypid = t.oid))
    FROM pg_type t WHERE t.oid = to_regtype(typ) AND t.typtype = 'd'
$$;
SELECT ok(to_regtype('"Shop"."Positive Money"') IS NULL AND to_regtype('"Shop".label') IS NULL,
    'no domain type of the origin is here before its tables are imported');
CALL sheetbridge.import_foreign_tables('origin', 'dom', 't_domains', '^Priced Items$');
SELECT is(pg_temp.foreign_tables('t_domains'), ARRAY['Priced Items'], 'a table with domain columns is imported');
SELECT is(pg_temp.domain_def('"Shop"."Positive Money"'),
    $$numeric(12,2) NOT NULL DEFAULT 0 CONSTRAINT "non-negative ""money""" CHECK ((VALUE >= (0)::numeric))$$,
    'a domain over a type with a modifier: NOT NULL, default and a CHECK whose name needs quoting');
SELECT is(pg_temp.domain_def('"Shop"."Small Money"'),
    $$"Shop"."Positive Money" DEFAULT 0 CONSTRAINT "not 5; ever" CHECK (((VALUE)::numeric <> (5)::numeric)) NOT VALID CONSTRAINT "under 1000" CHECK (((VALUE)::numeric < (1000)::numeric))$$,
    'a domain over another domain, made after it, with its constraints (NOT VALID kept)');
SELECT is(pg_temp.domain_def('"Shop"."Open State"'),
    $$"Shop"."Order State" DEFAULT 'new'::"Shop"."Order State" CONSTRAINT "Open State_check" CHECK ((VALUE <> 'Shipped "fast"'::"Shop"."Order State"))$$,
    'a domain over an enum type, made after the enum');
SELECT is(pg_temp.domain_def('"Shop".label'),
    $$character varying(80) CONSTRAINT label_check CHECK (((VALUE)::text !~ '^\s*$|;--'::text))$$,
    'a domain only an array column uses, its CHECK holding ; -- and a backslash in a string');
SELECT is(pg_temp.domain_def('"Shop".code'), 'text',
    'a domain whose CHECK the origin does not show its user is made without it (with a WARNING)');
SELECT is((SELECT format('%s %s %s %s %s', price, small, state, labels, code) FROM t_domains."Priced Items" WHERE id = 1),
    $$12.50 7.00 it's paid {a,"b c"} AB$$, 'the domain and domain array columns read the remote values');
SELECT throws_ok($$SELECT 2000::"Shop"."Small Money"$$, '23514', NULL,
    'the copied CHECK constraints hold here');

-- A domain here over the same base type is kept as it is; one over another
-- base type, or a type of another kind under its name, is an error.
CREATE TEMP TABLE domain_before AS SELECT to_regtype('"Shop"."Small Money"')::oid AS oid;
CALL sheetbridge.import_foreign_tables('origin', 'dom', 't_domains', '^Priced Items$');
SELECT is(to_regtype('"Shop"."Small Money"')::oid, (SELECT oid FROM domain_before),
    're-running keeps the domains made before');
DROP DOMAIN "Shop"."Small Money" CASCADE;
CREATE DOMAIN "Shop"."Small Money" AS integer;
SELECT throws_ok(
    $$CALL sheetbridge.import_foreign_tables('origin', 'dom', 't_domains', '^Priced Items$')$$,
    '42804', '"Shop"."Small Money" here is a domain over integer; on server origin it is a domain over "Shop"."Positive Money"',
    'a domain here over another base type is an error naming both');
DROP DOMAIN "Shop"."Small Money";
CREATE TYPE "Shop"."Small Money" AS ENUM ('small');
SELECT throws_ok(
    $$CALL sheetbridge.import_foreign_tables('origin', 'dom', 't_domains', '^Priced Items$')$$,
    '42804', '"Shop"."Small Money" here is an enum type; on server origin it is a domain over "Shop"."Positive Money"',
    'a type of another kind under a domain''s name is an error');

-- A composite type is made by hand; a missing one stops the import first.
SELECT throws_ok(
    $$CALL sheetbridge.import_foreign_tables('origin', 'dom', 't_composite', '^Shipments$')$$,
    '42704', 'the column "to" of dom."Shipments" on server origin has the composite type "Shop"."Post Address", which is not here: composite types must be created by hand before the import',
    'a composite type that is not here is an error naming the table, column and type');
SELECT ok(to_regnamespace('t_composite') IS NULL, 'nothing is imported when a composite type is missing');
CREATE TYPE "Shop"."Post Address" AS (street text, city text);
CALL sheetbridge.import_foreign_tables('origin', 'dom', 't_composite', '^Shipments$');
SELECT is((SELECT ("to").city FROM t_composite."Shipments" WHERE id = 1), 'Springfield',
    'with the composite type made by hand, the table is imported and read');

-- Remote text put into DDL must be one expression.
SELECT is(ARRAY[sheetbridge.is_one_expression($$((VALUE >= (0)::numeric))$$),
                sheetbridge.is_one_expression($$(VALUE <> 'a;b--''c' AND "x;y" = E'\';')$$),
                sheetbridge.is_one_expression($$(1); DROP TABLE t$$),
                sheetbridge.is_one_expression($$E'\'' ; SELECT 1 --'$$),
                sheetbridge.is_one_expression($$somee'\' ; SELECT 1 --'$$),
                sheetbridge.is_one_expression('$x$;$x$'),
                sheetbridge.is_one_expression('(1) -- x'),
                sheetbridge.is_one_expression('(1) /* x */'),
                sheetbridge.is_one_expression($$'unclosed$$)],
    ARRAY[true, true, false, false, false, false, false, false, false],
    'remote expressions are refused where they could end the statement or hide part of it');

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
