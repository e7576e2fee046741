#!/usr/bin/env bash
# The main job. Builds the library and the demo client, then on loopback only:
#   t=0 s  the C client starts and calls PYRONAME:demo.echo (no name server yet)
#   t=3 s  a Pyro4 name server starts
#   t=5 s  the demo service starts and registers itself
# The client's patient proxy finds it, then shows concurrent calls completing out of
# order and a remote exception with its traceback. Everything started here is stopped
# by pid.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target demo >/dev/null

py=.venv/bin/python
port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bcport=$("$py" -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

build/examples-c/demo "$port" &
client=$!
sleep 3
echo "---- starting the Pyro4 name server on 127.0.0.1:$port"
"$py" tests/fixtures/name_server.py 127.0.0.1 "$port" "$bcport" >/dev/null &
pids+=($!)
sleep 2
echo "---- starting the demo service, registering as demo.echo"
"$py" tests/fixtures/test_server.py --host 127.0.0.1 --port 0 --ns "127.0.0.1:$port" --ns-name demo.echo >/dev/null &
pids+=($!)
wait "$client"
