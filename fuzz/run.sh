#!/usr/bin/env bash
# Run every decoder's fuzz target for SECONDS each (default 180), two at a time.
# cargo-fuzz needs nightly flags; the machine's stable toolchain accepts them with
# RUSTC_BOOTSTRAP=1.  Usage: fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-180}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
run() { cargo fuzz run -O "$1" -- -max_total_time="$secs" -rss_limit_mb=1024 -malloc_limit_mb=512 -timeout=5 -max_len=65536 2>&1 | grep -E "^(#[0-9]+ *DONE|Done|==|SUMMARY|.*panicked)" | tail -3 | sed "s/^/$1: /"; }
targets=(serpent json marshal pickle message_reader)
for ((i = 0; i < ${#targets[@]}; i += 2)); do
    run "${targets[$i]}" &
    [ $((i + 1)) -lt ${#targets[@]} ] && run "${targets[$((i + 1))]}" &
    wait
done
