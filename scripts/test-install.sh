#!/usr/bin/env bash
# Install the build tree into a temporary prefix, then build and run a consumer program
# against it twice: with find_package(pyro_async CONFIG) and with pkg-config.
set -euo pipefail
build=${1:?usage: test-install.sh BUILD_DIR}
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -L "$tmp/prefix/lib/libpyro_async.so" && test -L "$tmp/prefix/lib/libpyro_async.so.0"
objdump -p "$tmp/prefix/lib/libpyro_async.so.0" | grep -q "SONAME *libpyro_async.so.0"
cmake -S "$root/tests/consumer" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cm" >/dev/null
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/cm/consumer"
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
cc "$root/tests/consumer/main.c" -o "$tmp/pc-consumer" $(pkg-config --cflags --libs pyro_async)
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/pc-consumer"
echo "installed tree works with find_package and pkg-config"
