#!/usr/bin/env bash
# Every test: Rust unit and integration tests, the C tests (ctest) against real Pyro4
# servers, and the C tests once more under valgrind memcheck (no errors, no leaks).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PYRO_TEST_PYTHON="$PWD/.venv/bin/python"

echo "== cargo fmt / clippy"
cargo fmt --check
cargo clippy --quiet --all-targets -- -D warnings

echo "== cargo test"
cargo test --release --quiet 2>&1 | grep -E "^test result|FAILED|panicked|error" || true
cargo test --release --quiet >/dev/null 2>&1 || { cargo test --release 2>&1 | tail -50; exit 1; }

echo "== ctest"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 >/dev/null
ctest --test-dir build --output-on-failure

echo "== ctest under valgrind memcheck"
# The 1,000-proxy test needs more threads and fds than is useful under valgrind.
ctest --test-dir build --output-on-failure -E 'many_proxies|header_cpp|example' \
    -T memcheck --overwrite MemoryCheckCommandOptions="--error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --track-fds=no" \
    >build/memcheck.log 2>&1 || { tail -40 build/memcheck.log; exit 1; }
if grep -q "Memory checking results" build/memcheck.log && grep -A20 "Memory checking results" build/memcheck.log | grep -qE "(Definitely|Indirectly) Lost|Invalid"; then
    grep -A20 "Memory checking results" build/memcheck.log
    echo "valgrind found errors"; exit 1
fi
grep -E "tests passed|Memory" build/memcheck.log || true
echo "== all tests passed"
