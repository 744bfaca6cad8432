#!/usr/bin/env bash
# Writes a service-account key for the Sheets emulator of the compose demo: a new RSA key in
# the JSON layout of Google's key files. The emulator learns it when it starts, and
# sheetbridge signs in with it, so the demo needs no Google account. It is not a Google
# key: with real Google, put the key file your Cloud project gave you in its place.
#
# Usage: infra/docker/emulator/make-demo-key.sh FILE   (e.g. infra/secrets/google-credentials.json)
#
# FILE's folder is made readable by its owner only (0700); FILE itself is 0644 so that the
# containers' users, which are not you, can read the mounted copy. An existing FILE is kept.
set -euo pipefail

die() { printf 'make-demo-key: %s\n' "$*" >&2; exit 1; }

file=${1:-}
[[ -n $file && $# -eq 1 ]] || die "usage: $0 FILE"
command -v openssl >/dev/null 2>&1 || die "openssl is missing (Debian: apt-get install openssl)"
if [[ -e $file ]]; then
  printf 'make-demo-key: %s exists; kept\n' "$file"
  exit 0
fi
folder=$(dirname "$file")
mkdir -p "$folder"
chmod 700 "$folder"

pem=$(openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null) || die "openssl could not make an RSA key"
tmp=$(mktemp "$folder/.key.XXXXXX")
trap 'rm -f "$tmp"' EXIT
{
  printf '{\n'
  printf '  "type": "service_account",\n'
  printf '  "project_id": "sheetbridge-compose",\n'
  printf '  "private_key_id": "%s",\n' "$(openssl rand -hex 20)"
  # PEM is base64, dashes and spaces: nothing to escape in JSON but the line ends.
  printf '  "private_key": "%s",\n' "$(printf '%s\n' "$pem" | awk '{printf "%s\\n", $0}')"
  printf '  "client_email": "sheetbridge@sheetbridge-compose.iam.gserviceaccount.com",\n'
  printf '  "client_id": "100000000000000000043",\n'
  printf '  "auth_uri": "https://accounts.google.com/o/oauth2/auth",\n'
  printf '  "token_uri": "https://oauth2.googleapis.com/token"\n'
  printf '}\n'
} >"$tmp"
chmod 644 "$tmp"
mv "$tmp" "$file"
trap - EXIT
printf 'make-demo-key: wrote %s\n' "$file"
