-- Table changes wake `sheetbridge serve` before a pair's schedule: after each
-- statement that changes a watched table, its `schema.table` is sent on the
-- `sheetbridge_change` channel (LISTEN/NOTIFY). Never edited after release.

-- The trigger function: one notification per statement, the payload the
-- table's schema and name (unquoted), e.g. `public.orders`. Postgres folds
-- equal notifications of one transaction into one.
CREATE OR REPLACE FUNCTION sheetbridge.notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('sheetbridge_change', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
    RETURN NULL;
END
$$;

-- Installs the trigger `sheetbridge_notify_change` on a table, partitioned
-- table, view or foreign table, unless it is there already, and returns the
-- payload its notifications carry. Safe to call any number of times.
CREATE OR REPLACE FUNCTION sheetbridge.watch_table(target regclass) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    schema_name name;
    table_name  name;
    kind        "char";
    events      text;
BEGIN
    SELECT n.nspname, c.relname, c.relkind INTO schema_name, table_name, kind
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = target;
    IF kind IN ('r', 'p') THEN
        events := 'INSERT OR UPDATE OR DELETE OR TRUNCATE';
    ELSIF kind IN ('v', 'f') THEN
        events := 'INSERT OR UPDATE OR DELETE';
    ELSE
        RAISE EXCEPTION '%.% is not a table or view: it cannot be watched for changes', schema_name, table_name
            USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_trigger
        WHERE tgrelid = target AND tgname = 'sheetbridge_notify_change'
    ) THEN
        EXECUTE format(
            'CREATE TRIGGER sheetbridge_notify_change AFTER %s ON %I.%I '
            'FOR EACH STATEMENT EXECUTE FUNCTION sheetbridge.notify_change()',
            events, schema_name, table_name
        );
    END IF;
    RETURN schema_name || '.' || table_name;
END
$$;
