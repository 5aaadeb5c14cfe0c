#!/usr/bin/env bash
# Builds the real servers the test suite runs against (FerretDB, MinIO) from
# pinned Go module versions, once, into a cache outside the repository.
# A binary already present at the pinned version is reused, so CI on a warm
# machine skips the (slow, two-core) Go build entirely.
set -euo pipefail

FERRETDB_VERSION="${FERRETDB_VERSION:-v1.24.2}"
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
build_ferretdb() {
  local dir="$CACHE/ferretdb-$FERRETDB_VERSION"
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
