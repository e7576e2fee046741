#!/bin/sh
# Instructions (callgrind Ir) per op for each codec_micro case: the difference between
# runs of 2N and N iterations, divided by N, so setup and process start cancel out.
#   bench/codec_micro_ir.sh [N]     (build first: cargo build --release --example codec_micro)
set -e
N=${1:-500}
BIN=${CARGO_TARGET_DIR:-target}/release/examples/codec_micro
OUT=$(mktemp -d)
ir() {
    valgrind --tool=callgrind --callgrind-out-file="$OUT/cg" "$BIN" "$1" "$2" >/dev/null 2>&1
    awk '/^totals:/ {print $2}' "$OUT/cg"
}
for p in str64 dict ints100 str4k nested; do
    for op in encode decode; do
        a=$(ir "$N" "$p/$op")
        b=$(ir $((2 * N)) "$p/$op")
        echo "$p/$op $(( (b - a) / N ))"
    done
done
rm -rf "$OUT"
