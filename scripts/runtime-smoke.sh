#!/usr/bin/env bash
# The Docker image installs requirements.txt alone and runs `gunicorn filedrop.wsgi:app`;
# the test suite runs with the dev requirements on top, which can hide a missing
# runtime dependency. So do what the image does, in a throwaway venv: install
# requirements.txt only, start gunicorn as gunicorn.conf.py configures it
# (embedded mode, a free loopback port, nothing from this environment), and
# store and read back a file.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q -r requirements.txt
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
env -i PATH="$work/venv/bin:/usr/bin:/bin" HOME="$work" DATA_DIR="$work/data" PORT="$port" \
  "$work/venv/bin/gunicorn" filedrop.wsgi:app --no-control-socket >"$work/gunicorn.log" 2>&1 &
pid=$!
url="http://127.0.0.1:$port"
for _ in $(seq 150); do
  curl -fs "$url/readyz" >/dev/null 2>&1 && break
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.2
done
if ! curl -fs "$url/readyz" >/dev/null 2>&1; then
  echo "gunicorn did not become ready on requirements.txt alone; its log:" >&2
  cat "$work/gunicorn.log" >&2
  exit 1
fi
grep -h "Using worker" "$work/gunicorn.log"
head -c 300000 /dev/urandom >"$work/file.bin"
file_id=$(curl -fs -F "file=@$work/file.bin" "$url/files/upload" | python3 -c 'import json, sys; print(json.load(sys.stdin)["file_id"])')
sent=$(sha256sum <"$work/file.bin" | cut -d' ' -f1)
got=$(curl -fs "$url/files/$file_id" | sha256sum | cut -d' ' -f1)
if [ "$sent" != "$got" ]; then
  echo "the file read back differs from the one stored" >&2
  exit 1
fi
echo "requirements.txt alone: gunicorn served, stored and returned a file ($file_id)"
