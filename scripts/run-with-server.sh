#!/usr/bin/env bash
# Run a program with the URI of a freshly started Pyro4 test server (loopback, free port)
# as its first argument; stop the server by pid afterwards.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
py="${PYRO_TEST_PYTHON:-$root/.venv/bin/python}"
out=$(mktemp)
"$py" "$root/tests/fixtures/test_server.py" --host 127.0.0.1 --port 0 --servertype thread >"$out" &
pid=$!
stop() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; rm -f "$out"; }
trap stop EXIT
for _ in $(seq 200); do grep -q '^READY' "$out" && break; sleep 0.1; done
port=$(grep -o '@127.0.0.1:[0-9]*' "$out" | head -1 | cut -d: -f2)
[ -n "$port" ] || { echo "the Pyro4 test server did not start" >&2; exit 1; }
prog=$1; shift
status=0
"$prog" "PYRO:test.echo@127.0.0.1:$port" "$@" || status=$?
exit $status
