#!/usr/bin/env bash
# The origin's read-only login for the custom database's postgres_fdw: SELECT on the schema
# the stack imports from (now and on tables made later), nothing else.
#
# Run by the origin's entrypoint from /docker-entrypoint-initdb.d after the example data
# (file names sort the order), once, on the first start with an empty data directory.
# Connection: the libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE); in the image the
# server's socket, as $POSTGRES_USER to $POSTGRES_DB.
#
# Environment:
#   ORIGIN_READER_USER      the login's name (sheetbridge_reader)
#   ORIGIN_READER_PASSWORD  its password (reaches psql through \getenv, never a command line)
#   ORIGIN_SCHEMA           the schema it may read (shop)
set -euo pipefail

die() { printf 'origin reader: %s\n' "$*" >&2; exit 1; }

reader=${ORIGIN_READER_USER:-sheetbridge_reader}
schema=${ORIGIN_SCHEMA:-shop}
[[ -n ${ORIGIN_READER_PASSWORD:-} ]] || die "ORIGIN_READER_PASSWORD is not set (infra/.env.example describes it)"
[[ $ORIGIN_READER_PASSWORD != change-me* ]] ||
  die "ORIGIN_READER_PASSWORD is still the placeholder of infra/.env.example: put a password of your own in infra/.env"
export PGUSER=${PGUSER:-${POSTGRES_USER:-postgres}}
export PGDATABASE=${PGDATABASE:-${POSTGRES_DB:-$PGUSER}}
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

psql -X -q -v ON_ERROR_STOP=1 -v reader="$reader" -v schema="$schema" <<'SQL' || die "making the login $reader failed (above)"
\getenv reader_password ORIGIN_READER_PASSWORD
-- A failing statement is not logged with its text: one holds the password.
SET log_min_error_statement = panic;
SELECT format('CREATE ROLE %I LOGIN', :'reader') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'reader') \gexec
ALTER ROLE :"reader" LOGIN PASSWORD :'reader_password';
GRANT USAGE ON SCHEMA :"schema" TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA :"schema" TO :"reader";
ALTER DEFAULT PRIVILEGES IN SCHEMA :"schema" GRANT SELECT ON TABLES TO :"reader";
SQL
printf 'origin reader: %s may read schema %s\n' "$reader" "$schema"
