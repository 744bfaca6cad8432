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
-- table or foreign table, unless it is there already, and returns the payload
-- its notifications carry. For a view, also on every table and view it reads
-- (an automatically updatable view's writes fire its base table's triggers,
-- not its own), returning each payload. Safe to call any number of times.
CREATE OR REPLACE FUNCTION sheetbridge.watch_table(target regclass) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    rel    record;
    events text;
BEGIN
    FOR rel IN
        WITH RECURSIVE reads(oid) AS (
            SELECT target::oid
            UNION
            SELECT d.refobjid
            FROM reads
            JOIN pg_catalog.pg_rewrite r ON r.ev_class = reads.oid
            JOIN pg_catalog.pg_depend d
              ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
             AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid <> reads.oid
        )
        SELECT c.oid, n.nspname, c.relname, c.relkind
        FROM reads
        JOIN pg_catalog.pg_class c ON c.oid = reads.oid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        ORDER BY c.oid <> target, n.nspname, c.relname
    LOOP
        IF rel.relkind IN ('r', 'p') THEN
            events := 'INSERT OR UPDATE OR DELETE OR TRUNCATE';
        ELSIF rel.relkind IN ('v', 'f') THEN
            events := 'INSERT OR UPDATE OR DELETE';
        ELSIF rel.oid = target THEN
            RAISE EXCEPTION '%.% is not a table or view: it cannot be watched for changes',
                rel.nspname, rel.relname
                USING ERRCODE = 'wrong_object_type';
        ELSE
            -- A sequence or materialized view a view reads: it has no triggers.
            CONTINUE;
        END IF;
        IF NOT EXISTS (
            SELECT 1 FROM pg_catalog.pg_trigger
            WHERE tgrelid = rel.oid AND tgname = 'sheetbridge_notify_change'
        ) THEN
            EXECUTE format(
                'CREATE TRIGGER sheetbridge_notify_change AFTER %s ON %I.%I '
                'FOR EACH STATEMENT EXECUTE FUNCTION sheetbridge.notify_change()',
                events, rel.nspname, rel.relname
            );
        END IF;
        RETURN NEXT rel.nspname || '.' || rel.relname;
    END LOOP;
END
$$;
