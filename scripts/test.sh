#!/usr/bin/env bash
# The test command: installs the test dependencies into the current Python,
# builds (or reuses) the real servers, and runs the whole suite against them:
# moto+mongomock, SQLite+disk, SeaweedFS+FerretDB and MinIO+FerretDB.
# A missing server, a skipped test or an empty run is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
# Real clients the tests drive: Chromium (Playwright drives Debian's build for the web
# app), rclone (the S3 API) and curl (presigned redirects).
bash scripts/system-tools.sh chromium rclone curl
python -m pip install -q -r requirements-dev.txt
bash scripts/build-servers.sh all
export FILEDROP_REQUIRE_SERVERS=1
python -m pytest -p no:cacheprovider -q "$@"
