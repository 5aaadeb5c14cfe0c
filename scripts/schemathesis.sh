#!/usr/bin/env bash
# Property-based API testing from our own OpenAPI document, against a live server.
# Needs BASE_URL, FILEDROP_API_KEY and FILEDROP_ADMIN_TOKEN (scripts/stack.py sets them).
# Fails on any 5xx and on any response the document does not describe
# (status, content type, headers, body schema).
#
# Two of schemathesis's checks are left out, on purpose:
# - positive_data_acceptance: a schema-valid request may still be refused on
#   its meaning: an opaque cursor we never issued, a Digest that does not match
#   the body, an If-Match for another version, a range past the end (400/412/416).
# - negative_data_rejection: unknown query parameters are ignored and a malformed
#   X-Request-Id is replaced by our own, as most HTTP APIs do, not refused.
set -euo pipefail
: "${BASE_URL:?}" "${FILEDROP_API_KEY:?}" "${FILEDROP_ADMIN_TOKEN:?}"
EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-25}"
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=scripts.schemathesis_hooks
common=(--checks all --exclude-checks positive_data_acceptance,negative_data_rejection
        --max-examples "$EXAMPLES" --seed 1 --request-timeout 30
        --suppress-health-check all --no-color)

# /metrics takes the admin token (unless METRICS=public), so it runs with /admin.
admin_paths='^/(admin|metrics)'

echo "== schemathesis: user endpoints"
st run "$BASE_URL/openapi.json" "${common[@]}" \
  -H "Authorization: Bearer $FILEDROP_API_KEY" \
  --exclude-path-regex "$admin_paths"

echo "== schemathesis: admin endpoints and /metrics"
st run "$BASE_URL/openapi.json" "${common[@]}" \
  -H "Authorization: Bearer $FILEDROP_ADMIN_TOKEN" \
  --include-path-regex "$admin_paths"
