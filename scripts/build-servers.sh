#!/usr/bin/env bash
# Builds the real servers the test suite runs against (FerretDB, MinIO) from
# pinned Go module versions, once, into a cache outside the repository.
# A binary already present at the pinned version is reused, so CI on a warm
# machine skips the (slow, two-core) Go build entirely.
set -euo pipefail

FERRETDB_VERSION="${FERRETDB_VERSION:-v1.24.2}"
FERRETDB_PATCH="-idindex"  # our patch (below) is part of the cache key; keep in sync with tests/servers.py
MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
CACHE="${FILEDROP_SERVER_CACHE:-$HOME/.cache/filedrop/servers}"

build() {  # build NAME MODULE VERSION BINARY
  local name=$1 module=$2 version=$3 binary=$4
  local dir="$CACHE/$name-$version"
  if [ -x "$dir/$binary" ]; then
    echo "$name $version: cached at $dir/$binary"
    return
  fi
  echo "$name $version: building (this takes minutes the first time)"
  mkdir -p "$dir.tmp"
  GOBIN="$dir.tmp" GOFLAGS=-buildvcs=false go install "$module@$version"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
  echo "$name $version: built at $dir/$binary"
}

# FerretDB embeds build/version/version.txt, which its module zip lacks (it is
# generated in their repo), and panics at startup without it. So build from the
# module's source with that one file written, instead of plain `go install`.
# FerretDB v1's SQLite backend finds, updates and deletes by `_id` with the
# expression _ferretdb_sjson->'$._id', but builds its _id index on
# _ferretdb_sjson->"_id". SQLite uses an expression index only for the same
# spelling, so every _id lookup scanned the whole table (measured: 3.7 ms per
# find at 2,000 files, growing with the collection; EXPLAIN says SCAN). Use the
# indexed spelling, which selects the same value (its PostgreSQL backend spells
# it so too). tests/test_servers_smoke.py checks that _id lookups use the index.
patch_ferretdb_id_index() {
  local file="$1/internal/backends/sqlite/metadata/metadata.go"
  local before="IDColumn = DefaultColumn + \"->'\$._id'\""
  local after="IDColumn = DefaultColumn + \"->'_id'\""
  grep -qF "$before" "$file" || { echo "ferretdb: _id index patch no longer applies to $file" >&2; exit 1; }
  python3 - "$file" "$before" "$after" <<'PY'
import sys
path, before, after = sys.argv[1:]
text = open(path).read()
open(path, "w").write(text.replace(before, after))
PY
  grep -qF "$after" "$file"
}

build_ferretdb() {
  local dir="$CACHE/ferretdb-$FERRETDB_VERSION$FERRETDB_PATCH"
  if [ -x "$dir/ferretdb" ] && "$dir/ferretdb" --version >/dev/null 2>&1; then
    echo "ferretdb $FERRETDB_VERSION: cached at $dir/ferretdb"
    return
  fi
  echo "ferretdb $FERRETDB_VERSION: building (this takes minutes the first time)"
  local src
  src=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  local work
  work=$(mktemp -d)
  cp -r "$src/." "$work/" && chmod -R u+w "$work"
  echo "$FERRETDB_VERSION" > "$work/build/version/version.txt"
  patch_ferretdb_id_index "$work"
  mkdir -p "$dir.tmp"
  (cd "$work" && GOFLAGS="-buildvcs=false -mod=mod" go build -trimpath -o "$dir.tmp/ferretdb" ./cmd/ferretdb)
  rm -rf "$work" "$dir" && mv "$dir.tmp" "$dir"
  echo "ferretdb $FERRETDB_VERSION: built at $dir/ferretdb"
}

case "${1:-all}" in
  ferretdb) build_ferretdb ;;
  minio) build minio github.com/minio/minio "$MINIO_VERSION" minio ;;
  all)
    build_ferretdb
    build minio github.com/minio/minio "$MINIO_VERSION" minio
    ;;
  *) echo "usage: $0 [ferretdb|minio|all]" >&2; exit 2 ;;
esac
