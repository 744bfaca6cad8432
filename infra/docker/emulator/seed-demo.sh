#!/usr/bin/env bash
# Prepares a Sheets emulator for the compose demo through its admin API: it learns the
# service account of the mounted key (so sheetbridge can sign in with it) and gets the
# demo's spreadsheet (one empty tab, Sheet1: sheetbridge's first sync makes the pair's tab).
# The emulator keeps everything in memory, so this runs on every start of the emulator
# (emulator-demo.sh).
#
# Usage: seed-demo.sh BASE_URL      e.g. http://127.0.0.1:8085
# Environment:
#   GOOGLE_CREDENTIALS   the service-account key file (/run/secrets/google_credentials)
#   SPREADSHEET_ID       the spreadsheet the pair names (gsheet://SPREADSHEET_ID/TAB)
set -euo pipefail

die() { printf 'seed-demo: %s\n' "$*" >&2; exit 1; }

base=${1:?usage: seed-demo.sh BASE_URL}
key=${GOOGLE_CREDENTIALS:-/run/secrets/google_credentials}
id=${SPREADSHEET_ID:-}
[[ -r $key ]] || die "cannot read the service-account key $key (make one with infra/docker/emulator/make-demo-key.sh)"
[[ $id =~ ^[A-Za-z0-9_-]+$ ]] || die "SPREADSHEET_ID \`$id\` is not a spreadsheet id (letters, digits, - and _)"

# admin METHOD PATH [curl data args]: the admin API; fails with its answer.
admin() {
  local method=$1 path=$2 out
  shift 2
  out=$(curl -sS --max-time 10 -w '\n%{http_code}' -X "$method" -H 'Content-Type: application/json' \
    "$@" "$base/__emulator/$path") || die "$method $path: the emulator did not answer"
  [[ ${out##*$'\n'} == 200 ]] || die "$method $path answered ${out##*$'\n'}: ${out%$'\n'*}"
}

admin POST oauth/service-accounts --data-binary "@$key"
admin POST sheets/spreadsheets --data-binary "{\"spreadsheetId\": \"$id\", \"title\": \"sheetbridge compose demo\"}"
printf 'seed-demo: spreadsheet %s; the key'\''s service account may sign in\n' "$id"
