#!/usr/bin/env bash
# The main job: build the library and the poll() example, start a real Pyro4 4.82 server
# on loopback, and run the example against it. Stops what it started, by pid.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target poll_loop >/dev/null

py="$root/.venv/bin/python"
out=$(mktemp)
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
    rm -f "$out"
}
trap cleanup EXIT
"$py" tests/fixtures/test_server.py --host 127.0.0.1 --port 0 --servertype thread >"$out" &
server_pid=$!
for _ in $(seq 200); do grep -q '^READY' "$out" && break; sleep 0.1; done
port=$(grep -o '@127.0.0.1:[0-9]*' "$out" | head -1 | cut -d: -f2)
[ -n "$port" ] || { echo "demo: the Pyro4 server did not start" >&2; exit 1; }
echo "Pyro4 4.82 server (pid $server_pid) on 127.0.0.1:$port"
build/examples-c/poll_loop "PYRO:test.echo@127.0.0.1:$port"
