#!/usr/bin/env bash
# Every test: spin models of the lock-free hand-offs, Rust unit and integration tests,
# the C tests (ctest) against real Pyro4 servers, and the C tests once more under
# valgrind memcheck (no errors, no leaks).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export PYRO_TEST_PYTHON="$PWD/.venv/bin/python"

echo "== cargo fmt / clippy"
cargo fmt --check
cargo clippy --quiet --all-targets -- -D warnings

echo "== model checks (spin)"
scripts/check-models.sh

echo "== cargo test"
mkdir -p build
if ! cargo test --release >build/cargo-test.log 2>&1; then
    grep -E "^test .*FAILED|panicked|^failures:" -A12 build/cargo-test.log | head -80
    echo "cargo test failed (full log: build/cargo-test.log)"
    exit 1
fi
grep -E "^test result" build/cargo-test.log | awk '{n += $4} END {print n " Rust tests passed"}'
# The runtime suites once more with replies read in dispatch (Context::read_replies_in_dispatch).
if ! PYRO_TEST_READ_IN_DISPATCH=1 cargo test --release --test async_runtime --test faults \
        --test direct_lane --test chaos --test timers --test deadlines --test hostile_replies --test teardown_sync >build/cargo-test-dispatch.log 2>&1; then
    grep -E "^test .*FAILED|panicked|^failures:" -A12 build/cargo-test-dispatch.log | head -80
    echo "cargo test (replies read in dispatch) failed (full log: build/cargo-test-dispatch.log)"
    exit 1
fi
grep -E "^test result" build/cargo-test-dispatch.log |
    awk '{n += $4} END {print n " Rust runtime tests passed again with replies read in dispatch"}'

echo "== ctest"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 >/dev/null
ctest --test-dir build --output-on-failure

echo "== C tests under valgrind memcheck"
# Every C test binary once more under memcheck: any invalid access or leak fails the run.
# (The 1,000-proxy test needs more threads and fds than is useful under valgrind.) The
# loop adapters too: their tests free the context before detaching and from callbacks.
for t in build/test_* build/adapter_libuv build/adapter_glib build/adapter_qt; do
    case "$t" in *many_proxies*) continue ;; esac
    [ -x "$t" ] || continue
    if ! QT_QPA_PLATFORM=offscreen valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
            --suppressions=ffi-tests/valgrind.supp \
            --errors-for-leak-kinds=definite,indirect "$t" >build/valgrind-$(basename "$t").log 2>&1; then
        tail -60 build/valgrind-$(basename "$t").log
        echo "valgrind: $(basename "$t") failed"
        exit 1
    fi
    echo "valgrind: $(basename "$t") clean ($(grep -Eo '[0-9]+ checks, [0-9]+ failed' build/valgrind-$(basename "$t").log))"
done
# The async suite once more under memcheck with replies read in dispatch.
if ! PYRO_TEST_READ_IN_DISPATCH=1 valgrind -q --error-exitcode=99 --leak-check=full \
        --show-leak-kinds=definite,indirect --suppressions=ffi-tests/valgrind.supp \
        --errors-for-leak-kinds=definite,indirect build/test_async >build/valgrind-test_async-dispatch.log 2>&1; then
    tail -60 build/valgrind-test_async-dispatch.log
    echo "valgrind: test_async (replies read in dispatch) failed"
    exit 1
fi
echo "valgrind: test_async with replies read in dispatch clean ($(grep -Eo '[0-9]+ checks, [0-9]+ failed' build/valgrind-test_async-dispatch.log))"
echo "== all tests passed"
