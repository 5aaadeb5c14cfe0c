#!/usr/bin/env bash
# Installs, from Debian's packages, each named tool that is not on PATH (each command
# is named after its package), with one apt-get update for all of them. A fresh
# machine of this project's kind has apt and runs as root; elsewhere install them
# yourself and this finds them.
set -euo pipefail
missing=()
for tool in "$@"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing from Debian's packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
