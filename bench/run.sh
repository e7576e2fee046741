#!/usr/bin/env bash
# Peers side by side in one run, against the same Pyro4 4.82 server (thread server type,
# loopback): this library at 1/16/128 calls in flight, Pyro4's sync proxy and Pyro4's
# FutureResult async proxy; plus the dispatch micro-benchmark. The clients take turns,
# ROUNDS times over; one table of medians, then the targets as per-round ratios.
#   bench/run.sh [CALLS] [ROUNDS]
# Payload benchmark instead (large replies, 4 serializers; bench/payloads.py): decode
# MB/s of each reply (codec_micro payloads), then this library next to Pyro4's Python
# client per payload and serializer. CAP_S: per-row limit (seconds) before a client is
# killed ('> CAP_S s').
#   bench/run.sh payloads [REPS] [CAP_S]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = payloads ]; then
    reps=${2:-5}
    cap=${3:-30}
    scripts/setup.sh bench
    # Built with cargo and cc directly, so CARGO_TARGET_DIR is honoured.
    cargo build --release --lib --example codec_micro
    # A plain cargo build has no soname (build.rs): the program loads libpyro_async.so itself.
    lib=$(realpath "${CARGO_TARGET_DIR:-target}")/release
    mkdir -p build/bench
    cc -O2 -Wall -Wextra -Werror -Iinclude bench/bench_payloads.c -o build/bench/bench_payloads \
        -L"$lib" -lpyro_async -Wl,-rpath,"$lib"
    files=${TMPDIR:-/tmp}/pyro_async_payloads
    .venv/bin/python bench/payload_server.py --write "$files"
    "$lib/examples/codec_micro" payloads "$files"
    echo
    exec .venv/bin/python bench/payloads.py --lib build/bench/bench_payloads --reps "$reps" --cap "$cap"
fi
calls=${1:-5000}
rounds=${2:-3}
scripts/setup.sh bench
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 --target bench_calls >/dev/null
py=.venv/bin/python
out=$(mktemp)
"$py" tests/fixtures/test_server.py --host 127.0.0.1 --port 0 --servertype thread --threadpool 200 >"$out" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 200); do grep -q '^READY' "$out" && break; sleep 0.1; done
port=$(grep -o '@127.0.0.1:[0-9]*' "$out" | head -1 | cut -d: -f2)
uri="PYRO:test.echo@127.0.0.1:$port"
for r in $(seq "$rounds"); do
    build/bench/bench_calls "$uri" "$calls" | sed "s/^/$r\t/"
    "$py" bench/python_peers.py "$uri" "$calls" | sed "s/^/$r\t/"
done | "$py" bench/summarize.py
