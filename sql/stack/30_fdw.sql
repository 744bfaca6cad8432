-- postgres_fdw helpers: import the origin's tables by a regular expression,
-- keep real local copies of them, and refresh those copies in batches.
-- Everything here is created or replaced, so the file can run any number of
-- times. Every procedure runs with `search_path = pg_catalog, pg_temp` and
-- quotes every identifier it puts into SQL; values are bound.
--
--   CALL sheetbridge.import_foreign_tables('origin', 'public', 'origin', '^(orders|Order Lines)$');
--   CALL sheetbridge.create_local_copy('origin.orders', 'app.orders');
--   CALL sheetbridge.refresh_table('origin.orders', 'app.orders');
--   SELECT * FROM sheetbridge.refresh_log ORDER BY id DESC LIMIT 5;

-- One row per refresh: what it changed, or why it failed.
CREATE TABLE IF NOT EXISTS sheetbridge.refresh_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      text NOT NULL,
    target      text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    inserted    bigint NOT NULL DEFAULT 0,
    updated     bigint NOT NULL DEFAULT 0,
    deleted     bigint NOT NULL DEFAULT 0,
    status      text NOT NULL CHECK (status IN ('success', 'failed')),
    error       text,
    CHECK ((status = 'failed') = (error IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS refresh_log_target_idx ON sheetbridge.refresh_log (target, started_at DESC);
GRANT INSERT ON sheetbridge.refresh_log TO sheetbridge_refresh;

-- `schema.name` of a relation, each part quoted when it needs it, whatever
-- the search_path (regclass's own text leaves the schema out when visible).
CREATE OR REPLACE FUNCTION sheetbridge.qualified_name(rel regclass) RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('%I.%I', n.nspname, c.relname)
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = rel
$$;

-- Makes temporary foreign tables over the remote server's catalog
-- (pg_temp.sheetbridge_remote_{namespace,class,constraint,attribute,type,enum},
-- and sheetbridge_remote_{domains,check_constraints} over the views of its
-- information_schema, which deparse what the catalog holds as node trees), so
-- that it can be queried like a local one, replacing any left by an earlier
-- call in this session. Used by the procedures below; they drop them again
-- with sheetbridge.close_remote_catalog().
CREATE OR REPLACE FUNCTION sheetbridge.open_remote_catalog(server name) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
BEGIN
    PERFORM sheetbridge.close_remote_catalog();
    -- domain_default is pg_get_expr(typdefaultbin), deparsed on the remote
    -- with postgres_fdw's search_path (pg_catalog): names outside it come
    -- schema-qualified. check_clause is pg_get_constraintdef() without its
    -- leading `CHECK `, shown only for types the remote user's roles own.
    FOR t IN
        SELECT * FROM (VALUES
            ('namespace', 'oid oid, nspname name', 'pg_catalog', 'pg_namespace'),
            ('class', 'oid oid, relname name, relnamespace oid, relkind "char", relispartition boolean',
             'pg_catalog', 'pg_class'),
            ('constraint', 'conname name, connamespace oid, conrelid oid, contypid oid, contype "char", conkey int2[]',
             'pg_catalog', 'pg_constraint'),
            ('attribute', 'attrelid oid, attnum int2, attname name, atttypid oid, attisdropped boolean',
             'pg_catalog', 'pg_attribute'),
            ('type', 'oid oid, typname name, typnamespace oid, typtype "char", typlen int2, typelem oid, '
                     'typarray oid, typbasetype oid, typtypmod int4, typnotnull boolean, typdefault text',
             'pg_catalog', 'pg_type'),
            ('enum', 'enumtypid oid, enumsortorder real, enumlabel name', 'pg_catalog', 'pg_enum'),
            ('domains', 'domain_schema text, domain_name text, domain_default text',
             'information_schema', 'domains'),
            ('check_constraints', 'constraint_schema text, constraint_name text, check_clause text',
             'information_schema', 'check_constraints')
        ) AS d(name, columns, remote_schema, remote_table)
    LOOP
        EXECUTE format('CREATE FOREIGN TABLE pg_temp.%I (%s) SERVER %I OPTIONS (schema_name %L, table_name %L)',
                       'sheetbridge_remote_' || t.name, t.columns, server, t.remote_schema, t.remote_table);
    END LOOP;
END
$$;

-- Drops the foreign tables sheetbridge.open_remote_catalog() made in this session.
CREATE OR REPLACE FUNCTION sheetbridge.close_remote_catalog() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
BEGIN
    FOR t IN
        SELECT c.relname FROM pg_catalog.pg_class c
        WHERE c.relnamespace = pg_catalog.pg_my_temp_schema() AND c.relkind = 'f'
          AND c.relname LIKE 'sheetbridge\_remote\_%'
    LOOP
        EXECUTE format('DROP FOREIGN TABLE pg_temp.%I', t);
    END LOOP;
END
$$;

-- Makes the enum type `type_schema`.`type_name` here have the labels
-- `labels`, in that order: those of the enum of that name on `server` (named
-- in errors only). A missing type is created (its schema too, when
-- missing); one with the same labels is left as it is. When the labels here
-- are some of the remote ones in the same order (the origin has added
-- labels since, with ALTER TYPE ... ADD VALUE, anywhere), the missing ones
-- are added in their places; a label the remote type lacks, or two in
-- another order, cannot be set right without touching the rows that hold
-- them, so that is an error naming both label lists. An added label can be
-- stored once the caller's transaction commits (PostgreSQL's rule for
-- ALTER TYPE ... ADD VALUE).
CREATE OR REPLACE FUNCTION sheetbridge.ensure_enum_type(type_schema name, type_name name, labels text[], server name)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    typ     oid;
    kind    "char";
    here    text[];
    matched integer := 1;
    wanted  text;
BEGIN
    SELECT t.oid, t.typtype INTO typ, kind
    FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = type_schema AND t.typname = type_name;
    IF typ IS NULL THEN
        IF to_regnamespace(quote_ident(type_schema)) IS NULL THEN
            EXECUTE format('CREATE SCHEMA %I', type_schema);
        END IF;
        EXECUTE format('CREATE TYPE %I.%I AS ENUM (%s)', type_schema, type_name,
                       (SELECT coalesce(string_agg(quote_literal(l), ', ' ORDER BY o), '')
                        FROM unnest(labels) WITH ORDINALITY u(l, o)));
        RAISE NOTICE 'created the enum type %.% of server %', quote_ident(type_schema), quote_ident(type_name),
            quote_ident(server);
        RETURN;
    END IF;
    IF kind <> 'e' THEN
        RAISE EXCEPTION '%.% exists and is not an enum type; on server % it is one',
            quote_ident(type_schema), quote_ident(type_name), quote_ident(server)
            USING ERRCODE = 'datatype_mismatch';
    END IF;

    SELECT coalesce(array_agg(e.enumlabel::text ORDER BY e.enumsortorder), '{}') INTO here
    FROM pg_catalog.pg_enum e WHERE e.enumtypid = typ;
    IF here = labels THEN
        RETURN;
    END IF;
    -- Are the labels here the remote ones with some left out? (Labels are
    -- unique, so matching each in turn is enough.)
    FOREACH wanted IN ARRAY labels LOOP
        IF matched <= cardinality(here) AND wanted = here[matched] THEN
            matched := matched + 1;
        END IF;
    END LOOP;
    IF matched <= cardinality(here) THEN
        RAISE EXCEPTION 'the enum type %.% has the labels (%) here but (%) on server %',
            quote_ident(type_schema), quote_ident(type_name),
            (SELECT coalesce(string_agg(quote_literal(l), ', ' ORDER BY o), '') FROM unnest(here) WITH ORDINALITY u(l, o)),
            (SELECT coalesce(string_agg(quote_literal(l), ', ' ORDER BY o), '') FROM unnest(labels) WITH ORDINALITY u(l, o)),
            quote_ident(server)
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'Labels missing here are added, in their places; make the others agree (ALTER TYPE ... RENAME VALUE), or drop the type here.';
    END IF;
    -- Each missing label goes before the next label that is here, or last.
    matched := 1;
    FOREACH wanted IN ARRAY labels LOOP
        IF matched <= cardinality(here) AND wanted = here[matched] THEN
            matched := matched + 1;
        ELSIF matched <= cardinality(here) THEN
            EXECUTE format('ALTER TYPE %I.%I ADD VALUE %L BEFORE %L', type_schema, type_name, wanted, here[matched]);
        ELSE
            EXECUTE format('ALTER TYPE %I.%I ADD VALUE %L', type_schema, type_name, wanted);
        END IF;
    END LOOP;
    RAISE NOTICE 'added to the enum type %.% the labels of server % it lacked: now (%)',
        quote_ident(type_schema), quote_ident(type_name), quote_ident(server),
        (SELECT string_agg(quote_literal(l), ', ' ORDER BY o) FROM unnest(labels) WITH ORDINALITY u(l, o));
END
$$;

-- Whether `expr` (a default or CHECK expression as the remote catalog
-- deparses it) can be put into a statement here as one expression: no `;`,
-- `$`, `--` or `/*` outside its string literals and quoted identifiers, and
-- every one of those closed. Remote text is run as DDL here, so text that
-- could end the statement or hide part of it is refused, whatever server
-- sent it.
CREATE OR REPLACE FUNCTION sheetbridge.is_one_expression(expr text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n      integer := length(expr);
    i      integer := 1;
    c      text;
    quote  text;
    escape boolean;
BEGIN
    WHILE i <= n LOOP
        c := substr(expr, i, 1);
        IF c IN ('''', '"') THEN
            quote := c;
            -- E'...' takes backslash escapes, when the E starts a token.
            escape := c = '''' AND i > 1 AND substr(expr, i - 1, 1) IN ('e', 'E')
                      AND (i = 2 OR substr(expr, i - 2, 1) !~ '[[:alnum:]_$]' AND ascii(substr(expr, i - 2, 1)) < 128);
            i := i + 1;
            LOOP
                IF i > n THEN
                    RETURN false;
                END IF;
                c := substr(expr, i, 1);
                IF escape AND c = chr(92) THEN
                    i := i + 2;
                ELSIF c = quote AND substr(expr, i + 1, 1) = quote THEN
                    i := i + 2;
                ELSIF c = quote THEN
                    EXIT;
                ELSE
                    i := i + 1;
                END IF;
            END LOOP;
        ELSIF c IN (';', '$') OR substr(expr, i, 2) IN ('--', '/*') THEN
            RETURN false;
        END IF;
        i := i + 1;
    END LOOP;
    RETURN true;
END
$$;

-- Makes the domain `type_schema`.`type_name` here, as it is on `server`
-- (named in messages only): over the type `base_schema`.`base_name` (its
-- array type when `base_is_array`) with the type modifier `base_typmod`,
-- NOT NULL when `not_null`, with the default expression `default_expr` and
-- the CHECK constraints named `check_names` whose texts are `check_clauses`
-- (as information_schema.check_constraints gives them: what
-- pg_get_constraintdef() gives without its `CHECK `; NULL where the remote
-- would not show it). The base type must be here already. A missing domain
-- is created (its schema too, when missing). A domain of that name over the
-- same base type is kept as it is: its default and constraints are not
-- compared. Any other type of that name is an error saying what each side
-- has. A constraint whose text the remote did not show is left out, with a
-- WARNING naming it.
CREATE OR REPLACE FUNCTION sheetbridge.ensure_domain_type(
    type_schema name, type_name name, base_schema name, base_name name, base_is_array boolean,
    base_typmod integer, not_null boolean, default_expr text, check_names text[], check_clauses text[],
    server name)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    base       oid;
    base_array oid;
    base_text  text;
    typ        oid;
    kind       "char";
    here_base  oid;
    here_mod   integer;
    clause     text;
    valid      boolean;
    hidden     text[] := '{}';
    failure    text;
    state      text;
BEGIN
    SELECT t.oid, t.typarray INTO base, base_array
    FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = base_schema AND t.typname = base_name;
    IF base IS NULL THEN
        RAISE EXCEPTION 'the domain %.% of server % is over the type %, which is not here',
            quote_ident(type_schema), quote_ident(type_name), quote_ident(server),
            format('%I.%I%s', base_schema, base_name, CASE WHEN base_is_array THEN '[]' ELSE '' END)
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create that type here first (an extension''s: install the extension).';
    END IF;
    IF base_is_array THEN
        base := nullif(base_array, 0);
        IF base IS NULL THEN
            RAISE EXCEPTION 'the domain %.% of server % is over an array of %.%, which has no array type here',
                quote_ident(type_schema), quote_ident(type_name), quote_ident(server),
                quote_ident(base_schema), quote_ident(base_name)
                USING ERRCODE = 'undefined_object';
        END IF;
    END IF;
    base_text := format_type(base, base_typmod);

    SELECT t.oid, t.typtype, t.typbasetype, t.typtypmod INTO typ, kind, here_base, here_mod
    FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = type_schema AND t.typname = type_name;
    IF typ IS NOT NULL THEN
        IF kind = 'd' AND here_base = base AND here_mod = base_typmod THEN
            RETURN;
        END IF;
        RAISE EXCEPTION '%.% here is %; on server % it is a domain over %',
            quote_ident(type_schema), quote_ident(type_name),
            CASE kind WHEN 'd' THEN 'a domain over ' || format_type(here_base, here_mod)
                      WHEN 'e' THEN 'an enum type' WHEN 'c' THEN 'a composite type'
                      WHEN 'r' THEN 'a range type' WHEN 'm' THEN 'a multirange type'
                      WHEN 'p' THEN 'a pseudo-type' ELSE 'a base type' END,
            quote_ident(server), base_text
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'Make the type here agree with the origin''s (or drop it here, and let the import make it).';
    END IF;

    IF default_expr IS NOT NULL AND NOT sheetbridge.is_one_expression(default_expr) THEN
        RAISE EXCEPTION 'server % gave the default of the domain %.% as %, which is not one expression: refused',
            quote_ident(server), quote_ident(type_schema), quote_ident(type_name), quote_literal(default_expr)
            USING ERRCODE = 'syntax_error';
    END IF;
    IF to_regnamespace(quote_ident(type_schema)) IS NULL THEN
        EXECUTE format('CREATE SCHEMA %I', type_schema);
    END IF;
    EXECUTE format('CREATE DOMAIN %I.%I AS %s%s%s', type_schema, type_name, base_text,
                   CASE WHEN default_expr IS NOT NULL THEN format(' DEFAULT (%s)', default_expr) ELSE '' END,
                   CASE WHEN not_null THEN ' NOT NULL' ELSE '' END);
    FOR i IN 1 .. coalesce(cardinality(check_names), 0) LOOP
        clause := check_clauses[i];
        IF clause IS NULL THEN
            hidden := hidden || check_names[i];
            CONTINUE;
        END IF;
        valid := clause !~ ' NOT VALID$';
        IF NOT valid THEN
            clause := left(clause, -length(' NOT VALID'));
        END IF;
        IF NOT sheetbridge.is_one_expression(clause) THEN
            RAISE EXCEPTION 'server % gave the constraint % of the domain %.% as %, which is not one expression: refused',
                quote_ident(server), quote_ident(check_names[i]), quote_ident(type_schema), quote_ident(type_name),
                quote_literal(check_clauses[i])
                USING ERRCODE = 'syntax_error';
        END IF;
        BEGIN
            EXECUTE format('ALTER DOMAIN %I.%I ADD CONSTRAINT %I CHECK (%s)%s', type_schema, type_name,
                           check_names[i], clause, CASE WHEN valid THEN '' ELSE ' NOT VALID' END);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS failure = MESSAGE_TEXT, state = RETURNED_SQLSTATE;
            RAISE EXCEPTION 'copying the constraint % (CHECK %) of the domain %.% of server %: %',
                quote_ident(check_names[i]), check_clauses[i], quote_ident(type_schema), quote_ident(type_name),
                quote_ident(server), failure
                USING ERRCODE = state;
        END;
    END LOOP;
    RAISE NOTICE 'created the domain %.% over % of server %', quote_ident(type_schema), quote_ident(type_name),
        base_text, quote_ident(server);
    IF cardinality(hidden) > 0 THEN
        RAISE WARNING 'the domain %.% was made without its CHECK constraint(s) %: server % shows their text only to members of the type owner''s role',
            quote_ident(type_schema), quote_ident(type_name),
            (SELECT string_agg(quote_ident(h), ', ') FROM unnest(hidden) h), quote_ident(server)
            USING HINT = 'Add them here with ALTER DOMAIN ... ADD CONSTRAINT (importing again keeps the domain as it is), or make the origin''s user a member of that role and make the domain again.';
    END IF;
END
$$;

-- Imports every table, view, materialized view and foreign table of
-- `remote_schema` on `server` whose name matches the POSIX regular
-- expression `include` and not `exclude` (partitions are left out: their
-- parent is imported) as foreign tables of `local_schema`, made when
-- missing. IMPORT FOREIGN SCHEMA ... LIMIT TO takes exact names, so the
-- names are read from the remote catalog first. A foreign table already
-- there under an imported name is replaced, keeping the privileges granted
-- on it; a relation of another kind under that name is an error. Matching
-- nothing is an error too (a misspelt pattern should not pass for success).
-- A foreign table's column names its remote type, which must exist here: so
-- every enum and domain type the imported tables' columns use (directly, as
-- arrays, or under a domain) is made here first, with the remote type's
-- schema and name: enums by sheetbridge.ensure_enum_type (with their
-- labels), then domains by sheetbridge.ensure_domain_type (base type, NOT
-- NULL, default and CHECK constraints), a domain's base before the domain.
-- A composite type that is not here is an error naming the column that
-- uses it, before anything is made: those are made by hand.
CREATE OR REPLACE PROCEDURE sheetbridge.import_foreign_tables(
    server name, remote_schema text, local_schema name, include text, exclude text DEFAULT NULL)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    names    text[];
    used     jsonb;
    found_types jsonb := '[]';
    item     jsonb;
    type_oid oid;
    nsp      text;
    rel      text;
    existing record;
    grants   text[] := '{}';
    g        text;
    schema_found boolean;
BEGIN
    IF server IS NULL OR remote_schema IS NULL OR local_schema IS NULL OR include IS NULL THEN
        RAISE EXCEPTION 'sheetbridge.import_foreign_tables: server, remote_schema, local_schema and include are required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- A bad pattern fails here, with PostgreSQL's own message.
    PERFORM '' ~ include, '' ~ coalesce(exclude, '');

    PERFORM sheetbridge.open_remote_catalog(server);
    SELECT count(*) > 0 INTO schema_found
    FROM pg_temp.sheetbridge_remote_namespace WHERE nspname = remote_schema;
    SELECT array_agg(c.relname::text ORDER BY c.relname) INTO names
    FROM pg_temp.sheetbridge_remote_class c
    JOIN pg_temp.sheetbridge_remote_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = remote_schema
      AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND NOT c.relispartition
      AND c.relname::text ~ include
      AND (exclude IS NULL OR c.relname::text !~ exclude);
    -- Every type their columns use, following arrays to their elements and
    -- domains to their base types, with how deep it lies (a domain's base is
    -- made before it) and the first column (by table and column name) that
    -- leads to it: of those, the enum, domain and composite types.
    WITH RECURSIVE types AS MATERIALIZED (
        SELECT t.oid, t.typname, t.typtype, t.typlen, t.typelem, t.typbasetype, t.typtypmod, t.typnotnull,
               t.typdefault, n.nspname
        FROM pg_temp.sheetbridge_remote_type t JOIN pg_temp.sheetbridge_remote_namespace n ON n.oid = t.typnamespace
    ), reach(typ, relname, attname, depth) AS (
        SELECT a.atttypid, c.relname::text, a.attname::text, 0
        FROM pg_temp.sheetbridge_remote_class c
        JOIN pg_temp.sheetbridge_remote_namespace n ON n.oid = c.relnamespace
        JOIN pg_temp.sheetbridge_remote_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = remote_schema AND c.relname::text = ANY (names)
        UNION ALL
        SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.typelem END, r.relname, r.attname, r.depth + 1
        FROM reach r JOIN types t ON t.oid = r.typ
        WHERE t.typtype = 'd' OR (t.typtype = 'b' AND t.typelem <> 0 AND t.typlen = -1)
    )
    SELECT jsonb_agg(jsonb_build_object(
               'oid', t.oid::bigint, 'kind', t.typtype, 'schema', t.nspname, 'name', t.typname,
               'table', u.first->>0, 'column', u.first->>1,
               'base_schema', coalesce(e.nspname, b.nspname), 'base_name', coalesce(e.typname, b.typname),
               'base_is_array', e.oid IS NOT NULL, 'typmod', t.typtypmod, 'not_null', t.typnotnull,
               'default', t.typdefault)
           ORDER BY u.depth DESC, t.nspname, t.typname)
    INTO used
    FROM (SELECT r.typ, max(r.depth) AS depth,
                 (array_agg(jsonb_build_array(r.relname, r.attname) ORDER BY r.relname, r.attname))[1] AS first
          FROM reach r GROUP BY r.typ) u
    JOIN types t ON t.oid = u.typ AND t.typtype IN ('e', 'd', 'c')
    LEFT JOIN types b ON b.oid = t.typbasetype AND t.typtype = 'd'
    LEFT JOIN types e ON e.oid = b.typelem AND b.typtype = 'b' AND b.typlen = -1 AND b.typelem <> 0;
    -- An enum's labels, in order; a domain's default (as the remote
    -- deparses it now, names qualified) and CHECK constraints, by name. A
    -- constraint's text is left NULL when the remote does not show it, or
    -- when two constraints of that schema share its name (the view does not
    -- tell them apart).
    FOR item IN SELECT value FROM jsonb_array_elements(coalesce(used, '[]')) LOOP
        type_oid := (item->>'oid')::oid;
        IF item->>'kind' = 'e' THEN
            item := item || jsonb_build_object('labels',
                (SELECT coalesce(jsonb_agg(l.enumlabel::text ORDER BY l.enumsortorder), '[]')
                 FROM pg_temp.sheetbridge_remote_enum l WHERE l.enumtypid = type_oid));
        ELSIF item->>'kind' = 'd' THEN
            nsp := item->>'schema';
            rel := item->>'name';
            item := item || jsonb_build_object(
                'default', coalesce((SELECT d.domain_default FROM pg_temp.sheetbridge_remote_domains d
                                     WHERE d.domain_schema = nsp AND d.domain_name = rel), item->>'default'),
                'checks', (SELECT coalesce(jsonb_agg(jsonb_build_array(con.conname::text,
                                  (SELECT CASE WHEN count(*) = 1 THEN min(cc.check_clause) END
                                   FROM pg_temp.sheetbridge_remote_check_constraints cc
                                   WHERE cc.constraint_schema = nsp AND cc.constraint_name = con.conname::text))
                               ORDER BY con.conname), '[]')
                           FROM pg_temp.sheetbridge_remote_constraint con
                           WHERE con.contypid = type_oid AND con.contype = 'c'));
        END IF;
        found_types := found_types || item;
    END LOOP;
    PERFORM sheetbridge.close_remote_catalog();

    IF NOT schema_found THEN
        RAISE EXCEPTION 'server % has no schema %', quote_ident(server), quote_ident(remote_schema)
            USING ERRCODE = 'invalid_schema_name';
    END IF;
    IF names IS NULL THEN
        RAISE EXCEPTION 'no table or view of %.% matches % (excluding %): nothing to import',
            quote_ident(server), quote_ident(remote_schema), quote_literal(include),
            coalesce(quote_literal(exclude), 'nothing')
            USING ERRCODE = 'no_data_found';
    END IF;

    -- Composite types are not made here: a missing one stops the import
    -- before anything is made.
    FOR item IN SELECT value FROM jsonb_array_elements(found_types) WHERE value->>'kind' = 'c' LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
                       WHERE n.nspname = item->>'schema' AND t.typname = item->>'name') THEN
            RAISE EXCEPTION 'the column % of %.% on server % has the composite type %.%, which is not here: composite types must be created by hand before the import',
                quote_ident(item->>'column'), quote_ident(remote_schema), quote_ident(item->>'table'),
                quote_ident(server), quote_ident(item->>'schema'), quote_ident(item->>'name')
                USING ERRCODE = 'undefined_object',
                      HINT = 'CREATE TYPE ... AS (...) with the origin''s schema, name and attributes, then import again.';
        END IF;
    END LOOP;
    FOR item IN SELECT value FROM jsonb_array_elements(found_types) WHERE value->>'kind' = 'e' LOOP
        PERFORM sheetbridge.ensure_enum_type(item->>'schema', item->>'name',
            ARRAY(SELECT l FROM jsonb_array_elements_text(item->'labels') WITH ORDINALITY k(l, o) ORDER BY o), server);
    END LOOP;
    -- Deepest first: a domain's base type before the domain.
    FOR item IN SELECT value FROM jsonb_array_elements(found_types) WITH ORDINALITY j(value, o)
              WHERE value->>'kind' = 'd' ORDER BY o LOOP
        PERFORM sheetbridge.ensure_domain_type(item->>'schema', item->>'name',
            item->>'base_schema', item->>'base_name', (item->>'base_is_array')::boolean,
            (item->>'typmod')::integer, (item->>'not_null')::boolean, item->>'default',
            ARRAY(SELECT c->>0 FROM jsonb_array_elements(item->'checks') WITH ORDINALITY k(c, o) ORDER BY o),
            ARRAY(SELECT c->>1 FROM jsonb_array_elements(item->'checks') WITH ORDINALITY k(c, o) ORDER BY o),
            server);
    END LOOP;

    IF to_regnamespace(quote_ident(local_schema)) IS NULL THEN
        EXECUTE format('CREATE SCHEMA %I', local_schema);
    END IF;
    FOR existing IN
        SELECT c.relname, c.relkind, c.relacl, c.relowner
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = local_schema AND c.relname::text = ANY (names)
    LOOP
        IF existing.relkind <> 'f' THEN
            RAISE EXCEPTION '%.% exists and is not a foreign table: importing would replace it',
                quote_ident(local_schema), quote_ident(existing.relname)
                USING ERRCODE = 'duplicate_table';
        END IF;
        -- Privileges others were given on it come back after the import.
        SELECT grants || coalesce(array_agg(format('GRANT %s ON %I.%I TO %s%s', a.privilege_type,
                   local_schema, existing.relname,
                   CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END,
                   CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)), '{}')
        INTO grants
        FROM aclexplode(existing.relacl) a
        LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
        WHERE a.grantee <> existing.relowner;
        EXECUTE format('DROP FOREIGN TABLE %I.%I', local_schema, existing.relname);
    END LOOP;

    EXECUTE format('IMPORT FOREIGN SCHEMA %I LIMIT TO (%s) FROM SERVER %I INTO %I',
        remote_schema,
        (SELECT string_agg(quote_ident(x), ', ') FROM unnest(names) x),
        server, local_schema);
    FOREACH g IN ARRAY grants LOOP
        EXECUTE g;
    END LOOP;
    RAISE NOTICE 'imported % from %.% into %: %', cardinality(names), quote_ident(server),
        quote_ident(remote_schema), quote_ident(local_schema),
        (SELECT string_agg(quote_ident(x), ', ') FROM unnest(names) x);
END
$$;

-- The columns that identify a row of `source`, in key order: its primary
-- key; for a postgres_fdw foreign table, the primary key of the remote
-- table it reads (mapped to the local column names). NULL when there is
-- none to learn (a view, a remote view, a table without a primary key).
CREATE OR REPLACE FUNCTION sheetbridge.source_key(source regclass) RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kind        "char";
    server      name;
    fdw         name;
    remote_nsp  text;
    remote_rel  text;
    remote_key  text[];
    key         text[];
BEGIN
    SELECT c.relkind INTO kind FROM pg_catalog.pg_class c WHERE c.oid = source;
    IF kind IN ('r', 'p') THEN
        SELECT array_agg(a.attname::text ORDER BY k.ord) INTO key
        FROM pg_catalog.pg_index i
        CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
        JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = source AND i.indisprimary;
        RETURN key;
    ELSIF kind <> 'f' THEN
        RETURN NULL;
    END IF;

    SELECT s.srvname, w.fdwname,
           coalesce((SELECT option_value FROM pg_catalog.pg_options_to_table(ft.ftoptions) WHERE option_name = 'schema_name'), n.nspname),
           coalesce((SELECT option_value FROM pg_catalog.pg_options_to_table(ft.ftoptions) WHERE option_name = 'table_name'), c.relname)
    INTO server, fdw, remote_nsp, remote_rel
    FROM pg_catalog.pg_foreign_table ft
    JOIN pg_catalog.pg_class c ON c.oid = ft.ftrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_catalog.pg_foreign_server s ON s.oid = ft.ftserver
    JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw
    WHERE ft.ftrelid = source;
    IF fdw <> 'postgres_fdw' THEN
        RETURN NULL;
    END IF;

    PERFORM sheetbridge.open_remote_catalog(server);
    SELECT array_agg(a.attname::text ORDER BY k.ord) INTO remote_key
    FROM pg_temp.sheetbridge_remote_class c
    JOIN pg_temp.sheetbridge_remote_namespace n ON n.oid = c.relnamespace
    JOIN pg_temp.sheetbridge_remote_constraint con ON con.conrelid = c.oid AND con.contype = 'p'
    CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
    JOIN pg_temp.sheetbridge_remote_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
    WHERE n.nspname = remote_nsp AND c.relname = remote_rel;
    PERFORM sheetbridge.close_remote_catalog();
    IF remote_key IS NULL THEN
        RETURN NULL;
    END IF;

    -- Local names of the remote key columns (a column may be renamed with
    -- the column_name option). A remote key column the foreign table leaves
    -- out means no usable key.
    SELECT array_agg(l.attname::text ORDER BY r.ord) INTO key
    FROM unnest(remote_key) WITH ORDINALITY r(name, ord)
    JOIN pg_catalog.pg_attribute l
      ON l.attrelid = source AND l.attnum > 0 AND NOT l.attisdropped
     AND coalesce((SELECT option_value FROM pg_catalog.pg_options_to_table(l.attfdwoptions)
                   WHERE option_name = 'column_name'), l.attname) = r.name;
    IF cardinality(key) IS DISTINCT FROM cardinality(remote_key) THEN
        RETURN NULL;
    END IF;
    RETURN key;
END
$$;

-- Makes `target` ('schema.table', quoted as in SQL: 'app."Order Lines"') a
-- real table with the columns of `source` (names, types, collations, NOT
-- NULL) and a primary key on `key` (default: sheetbridge.source_key(source),
-- the remote table's primary key), unless a relation of that name exists
-- already (then nothing is changed). The schema is made when missing.
CREATE OR REPLACE PROCEDURE sheetbridge.create_local_copy(source regclass, target text, key text[] DEFAULT NULL)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parts   text[];
    nsp     text;
    rel     text;
    cols    text;
    missing text;
BEGIN
    IF source IS NULL OR target IS NULL THEN
        RAISE EXCEPTION 'sheetbridge.create_local_copy: source and target are required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    parts := parse_ident(target);
    IF cardinality(parts) <> 2 THEN
        RAISE EXCEPTION 'target % is not a schema-qualified table name (schema.table)', quote_literal(target)
            USING ERRCODE = 'invalid_name';
    END IF;
    nsp := parts[1];
    rel := parts[2];
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = nsp AND c.relname = rel) THEN
        RAISE NOTICE '%.% exists: left as it is', quote_ident(nsp), quote_ident(rel);
        RETURN;
    END IF;

    IF key IS NULL THEN
        key := sheetbridge.source_key(source);
        IF key IS NULL THEN
            RAISE EXCEPTION 'cannot learn a primary key for % (the table it reads has none, or it is a view)',
                sheetbridge.qualified_name(source)
                USING ERRCODE = 'invalid_table_definition',
                      HINT = 'name the key columns: CALL sheetbridge.create_local_copy(source, target, key => ARRAY[''id''])';
        END IF;
    END IF;
    IF cardinality(key) = 0 THEN
        RAISE EXCEPTION 'the key of % is empty', quote_literal(target) USING ERRCODE = 'invalid_table_definition';
    END IF;
    SELECT string_agg(quote_ident(k), ', ') INTO missing
    FROM unnest(key) k
    WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                      WHERE a.attrelid = source AND a.attname = k AND a.attnum > 0 AND NOT a.attisdropped);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'key column(s) % are not columns of %', missing, sheetbridge.qualified_name(source)
            USING ERRCODE = 'undefined_column';
    END IF;

    SELECT string_agg(format('%I %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
               CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                    THEN format(' COLLATE %I.%I', cn.nspname, co.collname) ELSE '' END,
               CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END), ', ' ORDER BY a.attnum)
    INTO cols
    FROM pg_catalog.pg_attribute a
    JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
    LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
    WHERE a.attrelid = source AND a.attnum > 0 AND NOT a.attisdropped;

    IF to_regnamespace(quote_ident(nsp)) IS NULL THEN
        EXECUTE format('CREATE SCHEMA %I', nsp);
    END IF;
    EXECUTE format('CREATE TABLE %I.%I (%s, PRIMARY KEY (%s))', nsp, rel, cols,
                   (SELECT string_agg(quote_ident(k), ', ') FROM unnest(key) k));
    RAISE NOTICE 'created %.% with primary key (%)', quote_ident(nsp), quote_ident(rel),
        (SELECT string_agg(quote_ident(k), ', ') FROM unnest(key) k);
END
$$;

-- Brings `target` to the rows of `source`, matched by the target's primary
-- key: rows new in the source are inserted, rows whose values differ are
-- updated (a row whose every column is equal, compared with IS DISTINCT
-- FROM, is not touched: no new row version, no trigger), rows gone from the
-- source are deleted. The source is read once (one consistent snapshot of
-- the remote) into a temporary table; the rows to write and the keys to
-- delete are each found in one pass over it and the target, then written
-- `batch_size` rows per statement. Every column of the target but generated ones must be a column
-- of the source (extra source columns are ignored).
--
-- It all happens in the caller's transaction: a refresh is seen whole or
-- not at all. Two refreshes of one target wait for each other. Each call
-- adds one row to sheetbridge.refresh_log; when the refresh fails, its
-- changes are undone, the row says `failed` with the error, and the
-- procedure ends with a WARNING rather than an error, so that the record of
-- the failure is kept (an error would undo it with everything else).
CREATE OR REPLACE PROCEDURE sheetbridge.refresh_table(source regclass, target regclass, batch_size integer DEFAULT 10000)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    started     timestamptz := clock_timestamp();
    source_name text;
    target_name text;
    inserted    bigint := 0;
    updated     bigint := 0;
    deleted     bigint := 0;
    failure     text;
    detail      text;
    keys        text[];
    cols        text[];
    missing     text;
    col_list    text;
    key_list    text;
    key_match   text;
    stage_cols  text;
    set_list    text;
    differ      text;
    empty       boolean;
    writes      text;
    scratch     text;
    upsert      text;
    total       bigint;
    lo          bigint;
    n_ins       bigint;
    n_upd       bigint;
    n_del       bigint;
BEGIN
    IF source IS NULL OR target IS NULL THEN
        RAISE EXCEPTION 'sheetbridge.refresh_table: source and target are required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'sheetbridge.refresh_table: batch_size must be at least 1, not %', coalesce(batch_size::text, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    source_name := sheetbridge.qualified_name(source);
    target_name := sheetbridge.qualified_name(target);

    BEGIN
        -- One refresh of a target at a time (key: this procedure, the target).
        PERFORM pg_advisory_xact_lock(1936221284, target::oid::int);

        SELECT array_agg(a.attname::text ORDER BY k.ord) INTO keys
        FROM pg_catalog.pg_index i
        CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
        JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = target AND i.indisprimary;
        IF keys IS NULL THEN
            RAISE EXCEPTION '% has no primary key: a refresh matches rows by it', target_name
                USING ERRCODE = 'invalid_table_definition';
        END IF;
        SELECT array_agg(a.attname::text ORDER BY a.attnum) INTO cols
        FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '';
        SELECT string_agg(quote_ident(c), ', ') INTO missing
        FROM unnest(cols) c
        WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                          WHERE a.attrelid = source AND a.attname = c AND a.attnum > 0 AND NOT a.attisdropped);
        IF missing IS NOT NULL THEN
            RAISE EXCEPTION 'column(s) % of % are not columns of %', missing, target_name, source_name
                USING ERRCODE = 'undefined_column';
        END IF;

        SELECT string_agg(quote_ident(c), ', ') INTO col_list FROM unnest(cols) c;
        SELECT string_agg('s.' || quote_ident(c), ', ') INTO stage_cols FROM unnest(cols) c;
        SELECT string_agg(quote_ident(k), ', ') INTO key_list FROM unnest(keys) k;
        SELECT string_agg(format('o.%1$I = s.%1$I', k), ' AND ') INTO key_match FROM unnest(keys) k;
        SELECT string_agg(format('%1$I = EXCLUDED.%1$I', c), ', ') INTO set_list
        FROM unnest(cols) c WHERE c <> ALL (keys);
        -- "The non-key columns differ", as a format() pattern of the two
        -- rows' aliases. Columns are compared by their text where equality
        -- is too loose (numeric 1.0 = 1.00, float -0 = 0) or missing (json,
        -- xml, ...). NULL when every column is a key column.
        SELECT format('(%s) IS DISTINCT FROM (%s)',
                   string_agg(format(CASE WHEN exact THEN '%%1$s.%s' ELSE '%%1$s.%s::text' END, replace(quote_ident(a.attname), '%', '%%')), ', ' ORDER BY a.attnum),
                   string_agg(format(CASE WHEN exact THEN '%%2$s.%s' ELSE '%%2$s.%s::text' END, replace(quote_ident(a.attname), '%', '%%')), ', ' ORDER BY a.attnum))
        INTO differ
        FROM pg_catalog.pg_attribute a
        JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
        CROSS JOIN LATERAL (
            SELECT coalesce(nullif(bt.typelem, 0), bt.oid) AS elem
            FROM pg_catalog.pg_type bt WHERE bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
        ) base
        CROSS JOIN LATERAL (
            SELECT base.elem NOT IN ('numeric'::regtype, 'float4'::regtype, 'float8'::regtype)
               AND EXISTS (SELECT 1 FROM pg_catalog.pg_opclass oc JOIN pg_catalog.pg_am am ON am.oid = oc.opcmethod
                           WHERE am.amname = 'btree' AND oc.opcdefault AND oc.opcintype = base.elem) AS exact
        ) e
        WHERE a.attrelid = target AND a.attname::text = ANY (cols) AND a.attname::text <> ALL (keys)
        HAVING count(*) > 0;

        -- Left by an earlier refresh in this transaction (ON COMMIT DROP).
        FOREACH scratch IN ARRAY ARRAY['sheetbridge_refresh_stage', 'sheetbridge_refresh_changes',
                                       'sheetbridge_refresh_gone'] LOOP
            IF to_regclass('pg_temp.' || scratch) IS NOT NULL THEN
                EXECUTE format('DROP TABLE pg_temp.%I', scratch);
            END IF;
        END LOOP;
        -- The source, read once, converted to the target's column types.
        EXECUTE format('CREATE TEMPORARY TABLE sheetbridge_refresh_stage '
                       '(sheetbridge_n bigint GENERATED ALWAYS AS IDENTITY, LIKE %s) ON COMMIT DROP', target_name);
        EXECUTE format('INSERT INTO pg_temp.sheetbridge_refresh_stage (%s) SELECT %s FROM %s',
                       col_list, col_list, source_name);
        GET DIAGNOSTICS total = ROW_COUNT;
        -- A key the source holds twice fails here, naming the key.
        BEGIN
            EXECUTE format('CREATE UNIQUE INDEX ON pg_temp.sheetbridge_refresh_stage (%s)', key_list);
        EXCEPTION WHEN unique_violation THEN
            GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
            RAISE EXCEPTION '% holds a key of % more than once: %', source_name, target_name, detail
                USING ERRCODE = 'unique_violation';
        END;
        ANALYZE pg_temp.sheetbridge_refresh_stage;

        -- The rows to write: those whose key is new or whose values differ,
        -- found in one pass (an equal row is never written, not even
        -- locked), numbered 1.. for the batches. Into an empty target, all.
        EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %s)', target_name) INTO empty;
        IF empty THEN
            writes := 'pg_temp.sheetbridge_refresh_stage';
        ELSE
            writes := 'pg_temp.sheetbridge_refresh_changes';
            EXECUTE format('CREATE TEMPORARY TABLE sheetbridge_refresh_changes '
                           '(sheetbridge_n bigint GENERATED ALWAYS AS IDENTITY, LIKE %s) ON COMMIT DROP', target_name);
            EXECUTE format('INSERT INTO pg_temp.sheetbridge_refresh_changes (%s) '
                           'SELECT %s FROM pg_temp.sheetbridge_refresh_stage s '
                           'WHERE NOT EXISTS (SELECT 1 FROM %s o WHERE %s%s)',
                           col_list, stage_cols, target_name, key_match,
                           CASE WHEN differ IS NULL THEN '' ELSE ' AND NOT ' || format(differ, 'o', 's') END);
            GET DIAGNOSTICS total = ROW_COUNT;
        END IF;
        EXECUTE format('CREATE UNIQUE INDEX ON %s (sheetbridge_n)', writes);

        -- Per batch, by number: no join the planner could turn into a scan
        -- of the whole target per batch. ON CONFLICT compares again, against
        -- a row written since; xmax = 0 tells an insert from an update.
        upsert := format(
            'WITH up AS (INSERT INTO %1$s AS t (%2$s) OVERRIDING SYSTEM VALUE '
            'SELECT %2$s FROM %3$s WHERE sheetbridge_n > $1 AND sheetbridge_n <= $2 '
            'ON CONFLICT (%4$s) DO %5$s RETURNING (t.xmax = 0) AS fresh) '
            'SELECT count(*) FILTER (WHERE fresh), count(*) FILTER (WHERE NOT fresh) FROM up',
            target_name, col_list, writes, key_list,
            CASE WHEN differ IS NULL THEN 'NOTHING'
                 ELSE format('UPDATE SET %s WHERE %s', set_list, format(differ, 't', 'EXCLUDED')) END);
        lo := 0;
        WHILE lo < total LOOP
            EXECUTE upsert INTO n_ins, n_upd USING lo, lo + batch_size;
            inserted := inserted + n_ins;
            updated := updated + n_upd;
            lo := lo + batch_size;
        END LOOP;

        -- Keys of the target the source no longer has, numbered for the batches.
        EXECUTE format('CREATE TEMPORARY TABLE sheetbridge_refresh_gone ON COMMIT DROP AS '
                       'SELECT row_number() OVER () AS sheetbridge_n, %s FROM %s o '
                       'WHERE NOT EXISTS (SELECT 1 FROM pg_temp.sheetbridge_refresh_stage s WHERE %s)',
                       (SELECT string_agg(format('o.%I', k), ', ') FROM unnest(keys) k), target_name, key_match);
        GET DIAGNOSTICS total = ROW_COUNT;
        IF total > 0 THEN
            CREATE UNIQUE INDEX ON pg_temp.sheetbridge_refresh_gone (sheetbridge_n);
            ANALYZE pg_temp.sheetbridge_refresh_gone;
            lo := 0;
            WHILE lo < total LOOP
                EXECUTE format('DELETE FROM %s o USING pg_temp.sheetbridge_refresh_gone s '
                               'WHERE s.sheetbridge_n > $1 AND s.sheetbridge_n <= $2 AND %s',
                               target_name, key_match)
                    USING lo, lo + batch_size;
                GET DIAGNOSTICS n_del = ROW_COUNT;
                deleted := deleted + n_del;
                lo := lo + batch_size;
            END LOOP;
        END IF;
        FOREACH scratch IN ARRAY ARRAY['sheetbridge_refresh_stage', 'sheetbridge_refresh_changes',
                                       'sheetbridge_refresh_gone'] LOOP
            IF to_regclass('pg_temp.' || scratch) IS NOT NULL THEN
                EXECUTE format('DROP TABLE pg_temp.%I', scratch);
            END IF;
        END LOOP;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS failure = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
        failure := failure || coalesce(' (' || nullif(detail, '') || ')', '');
        inserted := 0;
        updated := 0;
        deleted := 0;
    END;

    INSERT INTO sheetbridge.refresh_log (source, target, started_at, finished_at, inserted, updated, deleted, status, error)
    VALUES (source_name, target_name, started, clock_timestamp(), inserted, updated, deleted,
            CASE WHEN failure IS NULL THEN 'success' ELSE 'failed' END, failure);
    IF failure IS NOT NULL THEN
        RAISE WARNING 'refresh of % from % failed: %', target_name, source_name, failure;
    ELSE
        RAISE NOTICE 'refreshed % from %: % inserted, % updated, % deleted',
            target_name, source_name, inserted, updated, deleted;
    END IF;
END
$$;

-- The stack's administrators call these; pg_cron's refresh jobs run
-- refresh_table as sheetbridge_refresh.
REVOKE ALL ON FUNCTION sheetbridge.open_remote_catalog(name), sheetbridge.close_remote_catalog(),
    sheetbridge.source_key(regclass), sheetbridge.ensure_enum_type(name, name, text[], name),
    sheetbridge.ensure_domain_type(name, name, name, name, boolean, integer, boolean, text, text[], text[], name)
    FROM PUBLIC;
REVOKE ALL ON PROCEDURE sheetbridge.import_foreign_tables(name, text, name, text, text),
    sheetbridge.create_local_copy(regclass, text, text[]),
    sheetbridge.refresh_table(regclass, regclass, integer) FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE sheetbridge.refresh_table(regclass, regclass, integer) TO sheetbridge_refresh;
