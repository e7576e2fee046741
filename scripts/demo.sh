#!/usr/bin/env bash
# The main job. Builds the library and the demo client, then on loopback only:
#   t=0 s  the C client starts and calls PYRONAME:demo.echo (no name server yet)
#   t=3 s  a Pyro4 name server starts
#   t=5 s  the demo service starts and registers itself
# The client's patient proxy finds it, then shows concurrent calls completing out of
# order and a remote exception with its traceback. Everything started here is stopped
# by pid. Needs what `scripts/setup.sh demo` installs: no Qt, valgrind or spin.
# PYRO_DEMO_BIN: run that demo binary as it is (ctest's example_demo), no set-up or build.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PYRO_DEMO_BIN:-}" ]; then
    demo=$PYRO_DEMO_BIN
else
    scripts/setup.sh demo
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    echo "---- building the library and the demo (the first time cargo takes a few minutes)"
    # Quiet unless it fails (the configure step also warns about test-only dependencies).
    if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build -j2 --target demo; } >"$log" 2>&1; then
        tail -40 "$log"
        echo "demo: the build failed (above)" >&2
        exit 1
    fi
    demo=build/examples-c/demo
fi

py=${PYRO_TEST_PYTHON:-.venv/bin/python}
port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bcport=$("$py" -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -f "${log:-}"
}
trap cleanup EXIT

"$demo" "$port" &
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
