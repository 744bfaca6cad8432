#!/usr/bin/env bash
# sheetbridge-stack-init: brings the custom database up to the stack, as its superuser.
#
#   1. applies every sql/stack/*.sql in name order (each file is safe to run again);
#   2. sets the passwords of the roles `sheetbridge` and `authenticator`;
#   3. makes the origin a foreign server (`origin`) with user mappings for the user running
#      this script and for `sheetbridge_refresh`, the role pg_cron runs the refreshes as;
#   4. imports the origin's tables whose names match a regular expression as foreign tables;
#   5. makes a real local copy of each, fills it now and schedules its refresh with pg_cron;
#   6. grants the tables sheetbridge keeps in agreement with sheets to the role `sheetbridge`.
#
# Every step may be repeated: running the script again changes nothing that is already right.
# The custom image runs it from /docker-entrypoint-initdb.d on its first start; it is plain
# bash and psql, so the tests run it against a throwaway cluster as well.
#
# Connection: the libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE); in the image the
# server's socket, as $POSTGRES_USER to $POSTGRES_DB.
#
# Environment (infra/.env.example says where compose takes each one from):
#   SHEETBRIDGE_DB_PASSWORD   password of the role `sheetbridge` (the connector)
#   AUTHENTICATOR_PASSWORD    password of the role `authenticator` (PostgREST's login)
#   STACK_ORIGIN_HOST         the origin database: host,
#   STACK_ORIGIN_PORT           port (5432),
#   STACK_ORIGIN_DB             database,
#   STACK_ORIGIN_USER           a login that may read the tables to import,
#   STACK_ORIGIN_PASSWORD       and its password
#   STACK_REMOTE_SCHEMA       the origin's schema to import from (shop)
#   STACK_FOREIGN_SCHEMA      where the foreign tables go (origin)
#   STACK_COPY_SCHEMA         where their local copies go (shop)
#   STACK_IMPORT_INCLUDE      POSIX regular expression: the tables to import, e.g. ^(customers|orders)$
#   STACK_IMPORT_EXCLUDE      POSIX regular expression: tables not to import (none)
#   STACK_REFRESH_SCHEDULE    pg_cron schedule of the refreshes (* * * * *: every minute)
#   STACK_PAIR_TABLES         local copies sheetbridge syncs, comma-separated (shop.orders);
#                             only these are granted to the role `sheetbridge`
#   STACK_SQL_DIR             the folder of the stack's SQL (/usr/share/sheetbridge/stack)
#
# Passwords reach psql through \getenv, never a command line, and are never printed.
set -euo pipefail

die() { printf 'sheetbridge-stack-init: %s\n' "$*" >&2; exit 1; }
say() { printf 'sheetbridge-stack-init: %s\n' "$*"; }

sql_dir=${STACK_SQL_DIR:-/usr/share/sheetbridge/stack}
export PGUSER=${PGUSER:-${POSTGRES_USER:-postgres}}
export PGDATABASE=${PGDATABASE:-${POSTGRES_DB:-$PGUSER}}
export PGCLIENTENCODING=UTF8
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
export STACK_ORIGIN_PORT=${STACK_ORIGIN_PORT:-5432}
remote_schema=${STACK_REMOTE_SCHEMA:-shop}
foreign_schema=${STACK_FOREIGN_SCHEMA:-origin}
copy_schema=${STACK_COPY_SCHEMA:-shop}
include=${STACK_IMPORT_INCLUDE:-}
exclude=${STACK_IMPORT_EXCLUDE:-}
schedule=${STACK_REFRESH_SCHEDULE:-* * * * *}
pair_tables=${STACK_PAIR_TABLES-shop.orders}

for v in SHEETBRIDGE_DB_PASSWORD AUTHENTICATOR_PASSWORD STACK_ORIGIN_HOST STACK_ORIGIN_DB \
  STACK_ORIGIN_USER STACK_ORIGIN_PASSWORD STACK_IMPORT_INCLUDE; do
  [[ -n ${!v:-} ]] || die "$v is not set (infra/.env.example describes it)"
done
for v in SHEETBRIDGE_DB_PASSWORD AUTHENTICATOR_PASSWORD STACK_ORIGIN_PASSWORD; do
  [[ ${!v} != change-me* ]] ||
    die "$v is still the placeholder of infra/.env.example: put a password of your own in infra/.env"
done

run_sql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# 1. The stack's SQL: every file of the folder, in name order.
[[ -d $sql_dir ]] || die "no folder $sql_dir (STACK_SQL_DIR)"
mapfile -t files < <(find "$sql_dir" -maxdepth 1 -type f -name '*.sql' | LC_ALL=C sort)
((${#files[@]})) || die "no *.sql in $sql_dir"
for f in "${files[@]}"; do
  run_sql -f "$f" || die "applying $(basename "$f") failed (above)"
  say "applied $(basename "$f")"
done

# 2 and 3. Passwords, the foreign server and the user mapping. A failing statement is not
# logged by the server with its text: these statements hold passwords.
run_sql <<'SQL' || die "setting the passwords or the foreign server \`origin\` failed (above)"
\getenv sheetbridge_password SHEETBRIDGE_DB_PASSWORD
\getenv authenticator_password AUTHENTICATOR_PASSWORD
\getenv origin_host STACK_ORIGIN_HOST
\getenv origin_port STACK_ORIGIN_PORT
\getenv origin_db STACK_ORIGIN_DB
\getenv origin_user STACK_ORIGIN_USER
\getenv origin_password STACK_ORIGIN_PASSWORD
SET log_min_error_statement = panic;
ALTER ROLE sheetbridge PASSWORD :'sheetbridge_password';
ALTER ROLE authenticator PASSWORD :'authenticator_password';
CREATE SERVER IF NOT EXISTS origin FOREIGN DATA WRAPPER postgres_fdw
    OPTIONS (host :'origin_host', port :'origin_port', dbname :'origin_db');
ALTER SERVER origin OPTIONS (SET host :'origin_host', SET port :'origin_port', SET dbname :'origin_db');
-- For the user running this (the import and the first copies) and for sheetbridge_refresh,
-- which runs the refresh jobs; for nobody else.
CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER origin
    OPTIONS (user :'origin_user', password :'origin_password');
ALTER USER MAPPING FOR CURRENT_USER SERVER origin
    OPTIONS (SET user :'origin_user', SET password :'origin_password');
CREATE USER MAPPING IF NOT EXISTS FOR sheetbridge_refresh SERVER origin
    OPTIONS (user :'origin_user', password :'origin_password');
ALTER USER MAPPING FOR sheetbridge_refresh SERVER origin
    OPTIONS (SET user :'origin_user', SET password :'origin_password');
SQL
# shellcheck disable=SC2153 # checked above, through ${!v}
say "foreign server origin: $STACK_ORIGIN_USER@$STACK_ORIGIN_HOST:$STACK_ORIGIN_PORT/$STACK_ORIGIN_DB"

# 4. The origin's tables, by regular expression (the procedure makes the enum types their
# columns use first, with the origin's schema, name and labels).
run_sql -v remote="$remote_schema" -v local="$foreign_schema" -v include="$include" -v exclude="$exclude" \
  <<'SQL' || die "importing the tables of the origin's schema $remote_schema matching '$include' failed (above)"
CALL sheetbridge.import_foreign_tables('origin', :'remote', :'local', :'include', NULLIF(:'exclude', ''));
SQL
mapfile -t tables < <(run_sql -At -v local="$foreign_schema" <<'SQL'
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :'local' AND c.relkind = 'f' ORDER BY 1;
SQL
)
# shellcheck disable=SC2016 # the single quotes are inside a double-quoted message
((${#tables[@]})) ||
  die "no table of the origin's schema $remote_schema matches '$include'${exclude:+ (excluding '$exclude')}"
say "imported ${tables[*]} into schema $foreign_schema"

# 5. Local copies, filled now (so they hold rows before pg_cron's first whole minute) and
# refreshed by pg_cron from then on, by jobs named `refresh SCHEMA.TABLE`.
for t in "${tables[@]}"; do
  run_sql -v fschema="$foreign_schema" -v cschema="$copy_schema" -v rel="$t" -v schedule="$schedule" \
    <<'SQL' || die "the local copy $copy_schema.$t failed (above)"
SELECT format('%I.%I', :'fschema', :'rel') AS source, format('%I.%I', :'cschema', :'rel') AS target,
       format('refresh %s.%s', :'cschema', :'rel') AS job \gset
CALL sheetbridge.create_local_copy(:'source'::regclass, :'target');
CALL sheetbridge.refresh_table(:'source'::regclass, :'target'::regclass);
SELECT sheetbridge.schedule_refresh(:'job', :'schedule', :'source'::regclass, :'target'::regclass) \g /dev/null
SQL
done
say "local copies of ${tables[*]} in schema $copy_schema, refreshed on '$schedule'"

# 6. The pairs' tables, for the connector's role.
IFS=', ' read -r -a pairs <<<"$pair_tables"
for p in "${pairs[@]}"; do
  [[ -n $p ]] || continue
  run_sql -v t="$p" <<'SQL' || die "granting $p to the role sheetbridge failed (above)"
SELECT sheetbridge.grant_pair_table(:'t'::regclass) \g /dev/null
SQL
  say "granted $p to the role sheetbridge"
done
