#!/usr/bin/env bash
# Runs the Postman collection against a running FILE DROP and exits non-zero on
# any failed request or assertion:
#
#   scripts/newman.sh BASE_URL [more newman options]
#   scripts/newman.sh http://127.0.0.1:8000
#
# newman is installed once, at a pinned version, into a cache outside the repo
# (npm and Node.js >= 16 are needed for that).
#
# Credentials, from the environment: FILEDROP_ADMIN_TOKEN lets the run create
# its own user (deleted at the end) and test the admin API; FILEDROP_API_KEY is
# an existing user's key. Neither is needed against FILEDROP_AUTH=disabled.
set -euo pipefail

NEWMAN_VERSION="${NEWMAN_VERSION:-6.2.2}"
CACHE="${FILEDROP_NEWMAN_CACHE:-$HOME/.cache/filedrop/newman-$NEWMAN_VERSION}"

if [ $# -lt 1 ] || [ -z "$1" ]; then
  echo "usage: $0 BASE_URL [newman options]" >&2
  exit 2
fi
base_url="${1%/}"
shift
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
newman="$CACHE/node_modules/.bin/newman"

if [ ! -x "$newman" ] || [ "$("$newman" --version 2>/dev/null)" != "$NEWMAN_VERSION" ]; then
  if ! command -v npm >/dev/null; then
    echo "$0: npm is needed to install newman $NEWMAN_VERSION" >&2
    exit 2
  fi
  echo "installing newman $NEWMAN_VERSION into $CACHE" >&2
  mkdir -p "$CACHE"
  npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    --prefix "$CACHE" "newman@$NEWMAN_VERSION" >&2
fi

args=(
  run "$root/postman/filedrop.postman_collection.json"
  --environment "$root/postman/filedrop.postman_environment.json"
  --env-var "baseUrl=$base_url"
  --working-dir "$root/postman"
  --no-insecure-file-read
  --timeout-request 30000
  --timeout 600000
  --reporters cli
)
if [ ! -t 1 ]; then
  args+=(--color off)
  export FORCE_COLOR=0  # the failure table colours itself otherwise
fi
if [ -n "${FILEDROP_API_KEY:-}" ]; then
  args+=(--env-var "apiKey=$FILEDROP_API_KEY")
fi
if [ -n "${FILEDROP_ADMIN_TOKEN:-}" ]; then
  args+=(--env-var "adminToken=$FILEDROP_ADMIN_TOKEN")
fi
exec "$newman" "${args[@]}" "$@"
