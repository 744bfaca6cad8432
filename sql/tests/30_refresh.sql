-- sheetbridge.refresh_table: inserts, updates and deletes by key, in
-- batches, unchanged rows untouched, counts and errors in refresh_log. The
-- origin is changed through its foreign table, in this transaction (rolled
-- back with it).
BEGIN;
SELECT plan(27);

CALL sheetbridge.import_foreign_tables('origin', 'ref', 't_ref', '^items');
CALL sheetbridge.create_local_copy('t_ref.items', 'r.items');

-- The last refresh_log row of a target.
CREATE FUNCTION pg_temp.last_log(target text) RETURNS sheetbridge.refresh_log LANGUAGE sql AS $$
    SELECT * FROM sheetbridge.refresh_log l WHERE l.target = $1 ORDER BY l.id DESC LIMIT 1
$$;
-- Rows that differ between the copy and its source, both ways.
CREATE FUNCTION pg_temp.differences() RETURNS TABLE (side text, row_text text) LANGUAGE sql AS $$
    (SELECT 'only in the copy', r::text FROM r.items r
     EXCEPT SELECT 'only in the copy', s::text FROM t_ref.items s)
    UNION ALL
    (SELECT 'only in the source', s::text FROM t_ref.items s
     EXCEPT SELECT 'only in the source', r::text FROM r.items r)
$$;
-- Each row's version (xmin) and place (ctid): both stay when a row is untouched.
CREATE FUNCTION pg_temp.versions() RETURNS TABLE (id integer, version text, place tid) LANGUAGE sql AS $$
    SELECT id, xmin::text, ctid FROM r.items
$$;

-- First refresh, in batches of 3 of 20 rows.
CALL sheetbridge.refresh_table('t_ref.items', 'r.items', 3);
SELECT is((pg_temp.last_log('r.items')).inserted, 20::bigint, 'the first refresh inserts every row');
SELECT is((pg_temp.last_log('r.items')).updated, 0::bigint, '... updates none');
SELECT is((pg_temp.last_log('r.items')).deleted, 0::bigint, '... deletes none');
SELECT is((pg_temp.last_log('r.items')).status, 'success', '... and is recorded as a success');
SELECT is_empty('SELECT * FROM pg_temp.differences()', 'the copy holds the source''s rows');

-- Nothing changed: nothing is written.
CREATE TEMP TABLE v0 AS SELECT * FROM pg_temp.versions();
CALL sheetbridge.refresh_table('t_ref.items', 'r.items', 3);
SELECT is(ARRAY[(pg_temp.last_log('r.items')).inserted, (pg_temp.last_log('r.items')).updated,
                (pg_temp.last_log('r.items')).deleted], ARRAY[0, 0, 0]::bigint[],
    'a refresh with nothing changed counts nothing');
SELECT set_eq('SELECT * FROM pg_temp.versions()', 'SELECT * FROM v0',
    'and leaves every row as it was (same xmin, same ctid)');
SELECT is_empty('SELECT id FROM r.items WHERE xmax <> 0', 'not even locking one');

-- Changes of every kind, spread over the batches.
UPDATE t_ref.items SET name = 'renamed ' || id WHERE id IN (2, 9, 17);
UPDATE t_ref.items SET price = 6.00 WHERE id = 4;            -- 6.0 -> 6.00: equal numbers, different text
UPDATE t_ref.items SET doc = '{"n": 6, "edited": true}' WHERE id = 6;  -- json has no equality operator
UPDATE t_ref.items SET tags = NULL WHERE id = 8;             -- a value becomes NULL
UPDATE t_ref.items SET name = name WHERE id = 10;            -- written at the origin, same values
DELETE FROM t_ref.items WHERE id IN (5, 12);
INSERT INTO t_ref.items (id, name, price) VALUES (21, 'new 21', 1), (22, 'new 22', 2), (23, 'new 23', 3), (24, 'new 24', 4);
CREATE TEMP TABLE v1 AS SELECT * FROM pg_temp.versions();
CALL sheetbridge.refresh_table('t_ref.items', 'r.items', 3);
SELECT is((pg_temp.last_log('r.items')).inserted, 4::bigint, 'new rows are inserted, counted');
SELECT is((pg_temp.last_log('r.items')).updated, 6::bigint, 'changed rows are updated, counted');
SELECT is((pg_temp.last_log('r.items')).deleted, 2::bigint, 'vanished rows are deleted, counted');
SELECT is_empty('SELECT * FROM pg_temp.differences()', 'the copy holds the source''s rows again');
SELECT is((SELECT price::text FROM r.items WHERE id = 4), '6.00', 'a number''s scale is carried over');
SELECT set_eq(
    'SELECT v.id FROM pg_temp.versions() v JOIN v1 USING (id) WHERE (v.version, v.place) IS DISTINCT FROM (v1.version, v1.place)',
    ARRAY[2, 4, 6, 8, 9, 17],
    'only the changed rows got a new version (not row 10, written with the same values)');

-- A batch larger than the table works the same.
DELETE FROM t_ref.items WHERE id = 24;
UPDATE t_ref.items SET price = NULL WHERE id = 1;
CALL sheetbridge.refresh_table('t_ref.items', 'r.items');
SELECT is(ARRAY[(pg_temp.last_log('r.items')).inserted, (pg_temp.last_log('r.items')).updated,
                (pg_temp.last_log('r.items')).deleted], ARRAY[0, 1, 1]::bigint[],
    'one batch of the default size: 1 updated, 1 deleted');
SELECT is_empty('SELECT * FROM pg_temp.differences()', 'and the copy agrees');

-- A batch of one row.
DELETE FROM t_ref.items WHERE id IN (1, 2, 3);
CALL sheetbridge.refresh_table('t_ref.items', 'r.items', 1);
SELECT is((pg_temp.last_log('r.items')).deleted, 3::bigint, 'batches of one row delete each vanished row');

-- A refresh that fails part-way: everything it did is undone, the failure recorded.
CREATE TABLE r.cheap (LIKE r.items, PRIMARY KEY (id), CHECK (price < 20));
CALL sheetbridge.refresh_table('t_ref.items', 'r.cheap', 2);
SELECT is((pg_temp.last_log('r.cheap')).status, 'failed', 'a refresh that fails is recorded as failed');
SELECT matches((pg_temp.last_log('r.cheap')).error, 'violates check constraint "cheap_price_check"',
    'with the error');
SELECT is(ARRAY[(pg_temp.last_log('r.cheap')).inserted, (pg_temp.last_log('r.cheap')).updated,
                (pg_temp.last_log('r.cheap')).deleted], ARRAY[0, 0, 0]::bigint[],
    'and nothing counted');
SELECT is_empty('SELECT * FROM r.cheap', 'the batches written before the failure are undone');

-- A source holding a key twice.
CALL sheetbridge.import_foreign_tables('origin', 'ref', 't_ref', '^items_twice$');
CALL sheetbridge.refresh_table('t_ref.items_twice', 'r.items', 5);
SELECT is((pg_temp.last_log('r.items')).error, 't_ref.items_twice holds a key of r.items more than once: Key (id)=(7) is duplicated.',
    'a key the source holds twice fails the refresh, naming the key');
SELECT is_empty('SELECT * FROM pg_temp.differences()', 'and the copy is left as it was');

-- A target the refresh cannot match rows of.
CREATE TABLE r.nokey (id integer, name text);
CALL sheetbridge.refresh_table('t_ref.items', 'r.nokey');
SELECT is((pg_temp.last_log('r.nokey')).error, 'r.nokey has no primary key: a refresh matches rows by it',
    'a target without a primary key fails, recorded');
CREATE TABLE r.wider (id integer PRIMARY KEY, colour text);
CALL sheetbridge.refresh_table('t_ref.items', 'r.wider');
SELECT is((pg_temp.last_log('r.wider')).error, 'column(s) colour of r.wider are not columns of t_ref.items',
    'a target column the source lacks fails, recorded');

-- A target of key columns only.
CREATE TABLE r.ids (id integer PRIMARY KEY);
INSERT INTO r.ids VALUES (1), (1000);
CALL sheetbridge.refresh_table('t_ref.items', 'r.ids', 4);
SELECT is(ARRAY[(pg_temp.last_log('r.ids')).inserted, (pg_temp.last_log('r.ids')).updated,
                (pg_temp.last_log('r.ids')).deleted], ARRAY[18, 0, 2]::bigint[],
    'a target of key columns only: keys inserted and deleted');

SELECT throws_ok($$CALL sheetbridge.refresh_table('t_ref.items', 'r.items', 0)$$, '22023',
    'sheetbridge.refresh_table: batch_size must be at least 1, not 0', 'a batch size below 1 is refused');

SELECT * FROM finish();
ROLLBACK;
