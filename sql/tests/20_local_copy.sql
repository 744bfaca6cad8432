-- sheetbridge.create_local_copy: a real table with the foreign table's
-- columns and the remote table's primary key.
BEGIN;
SELECT plan(15);

CALL sheetbridge.import_foreign_tables('origin', 'imp', 't_copy', '.');

CALL sheetbridge.create_local_copy('t_copy."Order Lines"', 'app_copy."Order Lines"');
SELECT has_table('app_copy', 'Order Lines', 'the copy is a real table, its schema made');
SELECT col_is_pk('app_copy', 'Order Lines', ARRAY['line', 'order_id'],
    'its primary key is the remote table''s, in the remote key''s order');
SELECT col_type_is('app_copy', 'Order Lines', 'qty', 'integer', 'column types are the foreign table''s');

CALL sheetbridge.create_local_copy('t_copy.orders', 'app_copy.orders');
SELECT col_not_null('app_copy', 'orders', 'customer', 'NOT NULL comes along');
SELECT col_type_is('app_copy', 'orders', 'amount', 'numeric(10,2)', 'type modifiers come along');

CALL sheetbridge.create_local_copy('t_copy."a""b"', 'app_copy."a""b"');
SELECT col_is_pk('app_copy', 'a"b', 'k', 'a name with a double quote');
SELECT is((SELECT collation_name::text FROM information_schema.columns
           WHERE table_schema = 'app_copy' AND table_name = 'a"b' AND column_name = 'v w'), 'C',
    'a column''s collation comes along');

-- A view has no key to learn: an error saying so, unless one is given.
SELECT throws_ok(
    $$CALL sheetbridge.create_local_copy('t_copy.orders_v', 'app_copy.orders_v')$$,
    '42P16', 'cannot learn a primary key for t_copy.orders_v (the table it reads has none, or it is a view)',
    'a remote view without a key given is an error');
SELECT throws_ok(
    $$CALL sheetbridge.create_local_copy('t_copy.nokey', 'app_copy.nokey')$$,
    '42P16', 'cannot learn a primary key for t_copy.nokey (the table it reads has none, or it is a view)',
    'a remote table without a primary key and no key given is an error');
CALL sheetbridge.create_local_copy('t_copy.orders_v', 'app_copy.orders_v', ARRAY['id']);
SELECT col_is_pk('app_copy', 'orders_v', 'id', 'the key given is the primary key');
SELECT throws_ok(
    $$CALL sheetbridge.create_local_copy('t_copy.orders', 'app_copy.o2', ARRAY['nope'])$$,
    '42703', 'key column(s) nope are not columns of t_copy.orders',
    'a key column the source lacks is an error');

-- An existing target is left alone.
ALTER TABLE app_copy.orders ADD COLUMN extra text;
SELECT lives_ok($$CALL sheetbridge.create_local_copy('t_copy.orders', 'app_copy.orders')$$, 'running it again is fine');
SELECT has_column('app_copy', 'orders', 'extra', 'and leaves the existing table as it was');

SELECT throws_ok(
    $$CALL sheetbridge.create_local_copy('t_copy.orders', 'orders')$$,
    '42602', 'target ''orders'' is not a schema-qualified table name (schema.table)',
    'a target without its schema is an error');
SELECT throws_ok(
    $$CALL sheetbridge.create_local_copy('t_copy.orders', 'a.b.c')$$,
    '42602', 'target ''a.b.c'' is not a schema-qualified table name (schema.table)',
    'a three-part name is an error');

SELECT * FROM finish();
ROLLBACK;
