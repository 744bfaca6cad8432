#!/usr/bin/env bash
# The `emulator` service of the compose demo: the Sheets emulator, prepared by seed-demo.sh
# once it answers. /tmp/emulator-ready exists while it is ready (the health check looks).
#
# Environment: EMULATOR_LISTEN (0.0.0.0:8085), and what seed-demo.sh reads.
set -euo pipefail

listen=${EMULATOR_LISTEN:-0.0.0.0:8085}
base=http://127.0.0.1:${listen##*:}
ready=/tmp/emulator-ready
rm -f "$ready"

sheets-emulator --listen "$listen" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' TERM INT

for _ in $(seq 1 100); do
  curl -fsS -o /dev/null --max-time 2 "$base/__emulator/sheets/spreadsheets" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { wait "$pid" || exit $?; exit 1; }
  sleep 0.1
done
sheets-emulator-seed "$base"
touch "$ready"

# Until the emulator exits (or a signal stops it: then wait again for its exit).
status=0
wait "$pid" || status=$?
if kill -0 "$pid" 2>/dev/null; then
  wait "$pid" || status=$?
fi
rm -f "$ready"
exit "$status"
