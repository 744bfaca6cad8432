-- The stack's roles and what each may touch. Roles are created when
-- missing and never dropped; no password is set here: whoever brings the
-- stack up sets them from its environment, e.g.
--   ALTER ROLE sheetbridge PASSWORD :'sheetbridge_password';
--   ALTER ROLE authenticator PASSWORD :'authenticator_password';
-- Safe to run any number of times.
--
-- sheetbridge          the connector (LOGIN). It may create objects in the
--                      schemas `sheetbridge` (its state, made by its own
--                      migrations) and `sheetbridge_api` (its read-only
--                      views), and touch only the tables given to it with
--                      sheetbridge.grant_pair_table(regclass).
-- sheetbridge_refresh  runs the scheduled refreshes (pg_cron runs a job as a
--                      role with LOGIN; it has no password, so it cannot log
--                      in over a password-checked connection). It reads the
--                      foreign tables and writes the local copies that
--                      sheetbridge.schedule_refresh gives it, nothing else.
-- authenticator        PostgREST's login role (LOGIN NOINHERIT): it has no
--                      rights of its own and switches to web_anon.
-- web_anon             PostgREST's anonymous role (NOLOGIN): SELECT on the
--                      views of `sheetbridge_api`, nothing else.
--
-- Why the schemas do not belong to `sheetbridge`: the owner of a schema may
-- drop any object in it, and this schema also holds the stack's procedures,
-- which superusers call and pg_cron runs. If the connector owned it, it
-- could put its own code in their place. It gets USAGE and CREATE instead,
-- and CREATE on the database, which its migrations' `CREATE SCHEMA IF NOT
-- EXISTS sheetbridge` needs even when the schema exists.
--
-- Why refreshes do not run as a superuser: `sheetbridge` may install
-- triggers on a pair's table (sheetbridge.watch_table), and a trigger runs
-- as whoever writes the table. A refresh run as a superuser would run the
-- connector's trigger function as a superuser.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'sheetbridge') THEN
        CREATE ROLE sheetbridge LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'sheetbridge_refresh') THEN
        CREATE ROLE sheetbridge_refresh LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'authenticator') THEN
        CREATE ROLE authenticator LOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'web_anon') THEN
        CREATE ROLE web_anon NOLOGIN;
    END IF;
END
$$;

-- The attributes each role's job depends on, also for roles that existed.
ALTER ROLE sheetbridge LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
ALTER ROLE sheetbridge_refresh LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
ALTER ROLE authenticator LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
ALTER ROLE web_anon NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
GRANT web_anon TO authenticator;

-- Nobody but the stack's administrators creates objects in `public`
-- (PostgreSQL 15's default; stated for clusters upgraded from older ones).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT, CREATE ON DATABASE %I TO sheetbridge', current_database());
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO sheetbridge_refresh', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO authenticator', current_database());
END
$$;

GRANT USAGE, CREATE ON SCHEMA sheetbridge, sheetbridge_api TO sheetbridge;
GRANT USAGE ON SCHEMA sheetbridge TO sheetbridge_refresh;
GRANT USAGE ON SCHEMA sheetbridge_api TO web_anon;

-- Gives `sheetbridge` what syncing `pair_table` needs, and nothing more:
-- SELECT, INSERT, UPDATE and DELETE on it; TRIGGER on it so that
-- sheetbridge.watch_table can install its NOTIFY trigger; USAGE on the
-- sequences its serial columns draw from (keys it generates for new rows);
-- USAGE on its schema. For a view, also TRIGGER on every table and view it
-- reads (watch_table puts the trigger there too: writes through an updatable
-- view fire the base table's triggers), with USAGE on their schemas, but no
-- right to read or write them directly. Safe to call any number of times.
CREATE OR REPLACE FUNCTION sheetbridge.grant_pair_table(pair_table regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel record;
    seq record;
BEGIN
    IF pair_table IS NULL THEN
        RAISE EXCEPTION 'sheetbridge.grant_pair_table: the table is null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOR rel IN
        WITH RECURSIVE reads(oid) AS (
            SELECT pair_table::oid
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
        ORDER BY c.oid <> pair_table, n.nspname, c.relname
    LOOP
        IF rel.oid = pair_table THEN
            IF rel.relkind NOT IN ('r', 'p', 'v', 'f') THEN
                RAISE EXCEPTION '%.% is not a table or view: it cannot be a pair''s table',
                    rel.nspname, rel.relname USING ERRCODE = 'wrong_object_type';
            END IF;
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO sheetbridge', rel.nspname);
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE, TRIGGER ON %I.%I TO sheetbridge',
                           rel.nspname, rel.relname);
            -- Sequences of serial columns (identity columns need no grant).
            FOR seq IN
                SELECT sn.nspname, s.relname
                FROM pg_catalog.pg_depend d
                JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
                JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
                WHERE d.classid = 'pg_catalog.pg_class'::regclass
                  AND d.refclassid = 'pg_catalog.pg_class'::regclass
                  AND d.refobjid = rel.oid AND d.deptype = 'a'
            LOOP
                EXECUTE format('GRANT USAGE ON SCHEMA %I TO sheetbridge', seq.nspname);
                EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %I.%I TO sheetbridge', seq.nspname, seq.relname);
            END LOOP;
        ELSIF rel.relkind IN ('r', 'p', 'v', 'f') THEN
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO sheetbridge', rel.nspname);
            EXECUTE format('GRANT TRIGGER ON %I.%I TO sheetbridge', rel.nspname, rel.relname);
        END IF;
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION sheetbridge.grant_pair_table(regclass) FROM PUBLIC;
