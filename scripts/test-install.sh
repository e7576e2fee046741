#!/usr/bin/env bash
# pyro_async the ways a C/C++ user gets it; each way builds tests/consumer (C, C static,
# C++) and runs the programs against one real Pyro4 server on loopback:
#   1. BUILD_DIR installed with `cmake --install --prefix`: find_package and pkg-config
#      (shared, and --static against the archive);
#   2. a distribution-style build, prefix /usr (multiarch libdir on Debian), installed into
#      a DESTDIR with its debug info; the same consumers pointed into the DESTDIR;
#   3. add_subdirectory() of this source tree;
#   4. FetchContent from a tarball of this source tree (file:// URL, no network).
# 1-3 reuse BUILD_DIR's cargo output (PYRO_ASYNC_CARGO_TARGET_DIR: same sources, so cargo
# has nothing to do); 4 builds in its own tree, the default, as a user's project would.
#   scripts/test-install.sh BUILD_DIR   (a configured and built tree of this source)
set -euo pipefail
build=$(cd "${1:?usage: test-install.sh BUILD_DIR}" && pwd)
root="$(cd "$(dirname "$0")/.." && pwd)"
py="${PYRO_TEST_PYTHON:-$root/.venv/bin/python}"
cache() { sed -n "s/^$1:[A-Z]*=//p" "$2/CMakeCache.txt"; }
cargo_dir=$(cache PYRO_ASYNC_CARGO_TARGET_DIR "$build")
[ -n "$cargo_dir" ] || { echo "$build is not a configured pyro_async build tree" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml")
major=${version%%.*}
start=$SECONDS

tmp=$(mktemp -d)
server=
cleanup() {
    [ -z "$server" ] || { kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; }
    rm -rf "$tmp"
}
trap cleanup EXIT
log="$tmp/log"
# Quiet on success; the failing step's output otherwise.
step() {
    if ! "$@" >"$log" 2>&1; then
        cat "$log"
        echo "test-install: failed: $*" >&2
        exit 1
    fi
}
fail() { echo "test-install: $*" >&2; exit 1; }
# shows PATTERN COMMAND...: COMMAND's output matches PATTERN. (Not `COMMAND | grep -q`:
# under pipefail, grep leaving early can fail COMMAND with SIGPIPE.)
shows() {
    local pattern=$1 out
    shift
    out=$("$@" 2>/dev/null) || true
    grep -q -- "$pattern" <<<"$out"
}

"$py" "$root/tests/fixtures/test_server.py" --host 127.0.0.1 --port 0 --servertype thread >"$tmp/server.out" &
server=$!
for _ in $(seq 200); do grep -q '^READY' "$tmp/server.out" && break; sleep 0.1; done
port=$(grep -o '@127.0.0.1:[0-9]*' "$tmp/server.out" | head -1 | cut -d: -f2)
[ -n "$port" ] || fail "the Pyro4 test server did not start"
uri="PYRO:test.echo@127.0.0.1:$port"

# run LABEL PROGRAM [DIR]: run against the server; DIR: where libpyro_async must load from.
run() {
    local label=$1 prog=$2 dir=${3:-}
    if [ -n "$dir" ]; then
        shows "libpyro_async.so.$major => $dir/libpyro_async.so.$major " ldd "$prog" ||
            { ldd "$prog"; fail "$label: libpyro_async not loaded from $dir"; }
    elif shows 'NEEDED.*libpyro_async' readelf -d "$prog"; then
        fail "$label: linked to the shared library, not the archive"
    fi
    "$prog" "$uri" >"$log" 2>&1 || { cat "$log"; fail "$label failed"; }
    printf '  %-44s %s\n' "$label" "$(tail -1 "$log")"
}

# check_tree PREFIX LIBDIR: the installed files, links, soname, stripping.
check_tree() {
    local lib="$1/$2"
    [ "$(readlink "$lib/libpyro_async.so")" = "libpyro_async.so.$major" ] || fail "$lib/libpyro_async.so link"
    [ "$(readlink "$lib/libpyro_async.so.$major")" = "libpyro_async.so.$version" ] || fail "$lib/libpyro_async.so.$major link"
    shows "SONAME.*\[libpyro_async.so.$major\]" readelf -d "$lib/libpyro_async.so.$version" || fail "soname"
    for f in "$lib/libpyro_async.so.$version" "$lib/libpyro_async.a"; do
        ! shows '\.debug_info' readelf -S -W "$f" || fail "$f is not stripped"
    done
    test -f "$1/include/pyro_async.h" && test -f "$1/include/pyro_async.hpp" &&
        test -f "$1/include/pyro_async/libuv.h" || fail "headers missing under $1/include"
    test -f "$lib/cmake/pyro_async/pyro_asyncConfig.cmake" || fail "CMake package missing"
    test -f "$lib/pkgconfig/pyro_async.pc" || fail "pkg-config file missing"
}

# consumers NAME CMAKE-ARGS...: configure and build tests/consumer, run its programs.
consumers() {
    local name=$1 dir=$tmp/$1
    shift
    step cmake -S "$root/tests/consumer" -B "$dir" "$@"
    step cmake --build "$dir" -j2
    run "$name: C" "$dir/consumer" "${libdir_expected:-}"
    run "$name: C, static" "$dir/consumer_static"
    if [ -e "$dir/consumer_cpp" ]; then
        run "$name: C++" "$dir/consumer_cpp" "${libdir_expected:-}"
    else
        echo "  $name: C++ skipped (no C++ compiler)"
    fi
}

# pkgconfig NAME PKG_CONFIG_PATH LIBDIR: cc with pkg-config's flags, shared and static.
pkgconfig() {
    local name=$1 lib=$3
    export PKG_CONFIG_PATH=$2
    # shellcheck disable=SC2046
    step cc "$root/tests/consumer/main.c" -o "$tmp/$name-shared" $(pkg-config --cflags --libs pyro_async)
    LD_LIBRARY_PATH="$lib" run "$name, pkg-config: C" "$tmp/$name-shared" "$lib"
    # Both libraries sit in libdir and -lpyro_async means the shared one; GNU ld's
    # -l:FILE asks for the archive. Libs.private must then name all it needs.
    local libs
    libs=$(pkg-config --static --libs pyro_async)
    # shellcheck disable=SC2086
    step cc "$root/tests/consumer/main.c" -o "$tmp/$name-static" $(pkg-config --cflags pyro_async) \
        ${libs/-lpyro_async/-l:libpyro_async.a}
    run "$name, pkg-config --static: C" "$tmp/$name-static"
    unset PKG_CONFIG_PATH
}

echo "== 1. cmake --install $build --prefix P"
libdir=$(cache CMAKE_INSTALL_LIBDIR "$build")
prefix=$tmp/prefix
step cmake --install "$build" --prefix "$prefix"
check_tree "$prefix" "$libdir"
[ ! -e "$prefix/$libdir/libpyro_async.so.$version.debug" ] || fail "debug info installed unasked"
grep -qx "prefix=$prefix" "$prefix/$libdir/pkgconfig/pyro_async.pc" || fail "pyro_async.pc: prefix is not $prefix"
libdir_expected="$prefix/$libdir" consumers find_package -DCMAKE_PREFIX_PATH="$prefix"
pkgconfig prefix "$prefix/$libdir/pkgconfig" "$prefix/$libdir"

echo "== 2. prefix /usr into a DESTDIR, debug info installed"
step cmake -S "$root" -B "$tmp/usr-build" -DCMAKE_INSTALL_PREFIX=/usr -DPYRO_ASYNC_BUILD_TESTS=OFF \
    -DPYRO_ASYNC_INSTALL_DEBUG=ON -DPYRO_ASYNC_CARGO_TARGET_DIR="$cargo_dir"
step cmake --build "$tmp/usr-build"
libdir=$(cache CMAKE_INSTALL_LIBDIR "$tmp/usr-build")
if [ -e /etc/debian_version ]; then
    case $libdir in lib/*-*) ;; *) fail "expected a multiarch libdir under /usr, got $libdir" ;; esac
fi
stage=$tmp/destdir
step env DESTDIR="$stage" cmake --install "$tmp/usr-build"
check_tree "$stage/usr" "$libdir"
debug=$stage/usr/$libdir/libpyro_async.so.$version.debug
shows '\.debug_info' readelf -S -W "$debug" || fail "$debug has no debug info"
shows "libpyro_async.so.$version.debug" readelf -p .gnu_debuglink "$stage/usr/$libdir/libpyro_async.so.$version" ||
    fail "no .gnu_debuglink to the debug file"
pc=$stage/usr/$libdir/pkgconfig/pyro_async.pc
grep -qx 'prefix=/usr' "$pc" && grep -qx "libdir=\${prefix}/$libdir" "$pc" &&
    grep -qx 'includedir=${prefix}/include' "$pc" || { cat "$pc"; fail "pyro_async.pc paths"; }
grep -q '^Libs.private: .*-lpthread' "$pc" || fail "pyro_async.pc: no Libs.private"
libdir_expected="$stage/usr/$libdir" consumers destdir-find_package -DCMAKE_PREFIX_PATH="$stage/usr"
# pkg-config reads a staged tree through its sysroot (the .pc file says /usr).
PKG_CONFIG_SYSROOT_DIR=$stage pkgconfig destdir "$stage/usr/$libdir/pkgconfig" "$stage/usr/$libdir"

echo "== 3. add_subdirectory($root)"
libdir_expected="$tmp/subdirectory/pyro_async/lib" consumers subdirectory -DPYRO_CONSUMER_MODE=subdirectory \
    -DPYRO_ASYNC_SOURCE_DIR="$root" -DPYRO_ASYNC_CARGO_TARGET_DIR="$cargo_dir"

echo "== 4. FetchContent(URL file://...tar.gz), cargo in the consumer's build tree"
src=$tmp/pyro_async-$version
mkdir "$src"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # What a release tarball holds: the tracked and new files, as they are in the worktree.
    git -C "$root" ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$root/$f" ] && printf '%s\0' "$f"; done |
        tar -C "$root" --null -T - -cf - | tar -C "$src" -xf -
else
    tar -C "$root" --exclude=./target --exclude='./build*' --exclude=./.venv --exclude=./fuzz/target -cf - . |
        tar -C "$src" -xf -
fi
tar -C "$tmp" -czf "$tmp/pyro_async-$version.tar.gz" "pyro_async-$version"
rm -rf "$src"
t4=$SECONDS
libdir_expected="$tmp/fetchcontent/_deps/pyro_async-build/lib" consumers fetchcontent \
    -DPYRO_CONSUMER_MODE=fetchcontent -DPYRO_ASYNC_URL="file://$tmp/pyro_async-$version.tar.gz"
fetched=$tmp/fetchcontent/_deps/pyro_async-src
written=$(find "$fetched" -newer "$tmp/fetchcontent/CMakeCache.txt" | head -5)
[ -z "$written" ] || fail "the build wrote into the fetched sources: $written"
[ -d "$tmp/fetchcontent/_deps/pyro_async-build/cargo/release" ] || fail "cargo's output is not in the build tree"
echo "installed trees, add_subdirectory and FetchContent work ($((SECONDS - start)) s, FetchContent $((SECONDS - t4)) s)"
