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

case "${1:-all}" in
  ferretdb) build ferretdb github.com/FerretDB/FerretDB/cmd/ferretdb "$FERRETDB_VERSION" ferretdb ;;
  minio) build minio github.com/minio/minio "$MINIO_VERSION" minio ;;
  all)
    build ferretdb github.com/FerretDB/FerretDB/cmd/ferretdb "$FERRETDB_VERSION" ferretdb
    build minio github.com/minio/minio "$MINIO_VERSION" minio
    ;;
  *) echo "usage: $0 [ferretdb|minio|all]" >&2; exit 2 ;;
esac
