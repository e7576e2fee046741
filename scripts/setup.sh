#!/usr/bin/env bash
# Install what the build and the tests need, if missing (idempotent):
# Debian packages (cmake, C/C++ compilers, valgrind, spin, python3-venv, ...) and a Python venv
# in .venv with the pinned Pyro4 from requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have cmake || need+=(cmake)
have cc || need+=(gcc)
have c++ || need+=(g++)
have make || need+=(make)
have valgrind || need+=(valgrind)
have pkg-config || need+=(pkg-config)
have spin || need+=(spin)
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then need+=(python3-venv); fi
# Event loops the adapters are tested with (headers and pkg-config files).
pkg-config --exists libuv 2>/dev/null || need+=(libuv1-dev)
pkg-config --exists glib-2.0 2>/dev/null || need+=(libglib2.0-dev)
[ -e /usr/lib/x86_64-linux-gnu/cmake/Qt6Core/Qt6CoreConfig.cmake ] || [ -n "$(ls /usr/lib/*/cmake/Qt6Core/Qt6CoreConfig.cmake 2>/dev/null)" ] || need+=(qt6-base-dev)
if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing ${need[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >/dev/null || true
    $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! .venv/bin/python -c 'import Pyro4, serpent; assert Pyro4.__version__ == "4.82"' >/dev/null 2>&1; then
    echo "setup: creating .venv with $(tr '\n' ' ' < requirements.txt)"
    rm -rf .venv
    python3 -m venv .venv
    .venv/bin/pip install -q -r requirements.txt
fi
