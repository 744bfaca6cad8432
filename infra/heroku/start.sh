#!/bin/sh
# Heroku's web process: PostgREST with Heroku's settings mapped onto its own.
#
#   PGRST_DB_URI        the database; else the original stack's DB_URI; else Heroku
#                       Postgres' DATABASE_URL (an attached heroku-postgresql add-on)
#   PGRST_DB_SCHEMAS    the schemas to serve; else DB_SCHEMA; else sheetbridge_api
#   PGRST_DB_ANON_ROLE  the role of requests without a JWT; else DB_ANON_ROLE; else web_anon
#   PORT                set by Heroku: PostgREST listens there (PGRST_SERVER_PORT)
#
# Every other PGRST_* variable (PGRST_JWT_SECRET, PGRST_DB_POOL, ...) reaches PostgREST
# as it is. Nothing here prints a URI: it holds a password.
set -eu

PGRST_DB_URI=${PGRST_DB_URI:-${DB_URI:-${DATABASE_URL:-}}}
PGRST_DB_SCHEMAS=${PGRST_DB_SCHEMAS:-${DB_SCHEMA:-sheetbridge_api}}
PGRST_DB_ANON_ROLE=${PGRST_DB_ANON_ROLE:-${DB_ANON_ROLE:-web_anon}}
if [ -z "$PGRST_DB_URI" ]; then
  echo "heroku-postgrest: no database: set PGRST_DB_URI (heroku config:set PGRST_DB_URI=postgres://...)" \
    "or attach Heroku Postgres (DATABASE_URL)" >&2
  exit 1
fi
PGRST_SERVER_PORT=${PORT:-3000}
export PGRST_DB_URI PGRST_DB_SCHEMAS PGRST_DB_ANON_ROLE PGRST_SERVER_PORT
exec postgrest
