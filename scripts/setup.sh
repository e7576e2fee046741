#!/usr/bin/env bash
# Install what a command needs, if missing (idempotent); otherwise say what is missing and
# exit non-zero.
#   scripts/setup.sh demo   scripts/demo.sh: the Rust toolchain, CMake, a C compiler, make,
#                           binutils, Python 3 with venv; .venv with Pyro4 4.82
#   scripts/setup.sh bench  bench/run.sh: the same
#   scripts/setup.sh test   scripts/test.sh (the default): also rustfmt and clippy, a C++
#                           compiler, pkg-config, valgrind, spin, libuv, GLib and Qt 6
# Debian packages come from apt-get (through sudo when not root), rustfmt and clippy from
# rustup, Pyro4 from PyPI (requirements.txt). The Rust toolchain itself is not installed
# here: distributions' cargo is often older than Cargo.toml's rust-version.
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-test}
case $what in
    demo | bench | test) ;;
    *)
        echo "usage: scripts/setup.sh [demo|bench|test]" >&2
        exit 2
        ;;
esac

have() { command -v "$1" >/dev/null 2>&1; }
# version_ge HAVE WANT
version_ge() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1)" = "$2" ]; }
need=()     # Debian packages to install
missing=()  # what cannot be installed from here, with what to do

rust_min=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
cmake_min=$(sed -n 's/^cmake_minimum_required(VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)

# ---- Rust
if ! have cargo && [ -x "$HOME/.cargo/bin/cargo" ]; then
    missing+=("cargo is in ~/.cargo/bin but not on PATH: run '. \"\$HOME/.cargo/env\"' (rustup's set-up) and try again")
elif ! have cargo || ! have rustc; then
    missing+=("no Rust toolchain (cargo, rustc): install Rust $rust_min or newer with rustup, https://rustup.rs")
else
    rustc_version=$(rustc --version | awk '{print $2}')
    version_ge "$rustc_version" "$rust_min" ||
        missing+=("rustc $rustc_version is older than $rust_min (rust-version in Cargo.toml): 'rustup update', or a newer toolchain")
    if [ "$what" = test ]; then
        for component in fmt clippy; do
            cargo "$component" --version >/dev/null 2>&1 && continue
            name=$([ "$component" = fmt ] && echo rustfmt || echo clippy)
            if have rustup; then
                echo "setup: rustup component add $name"
                rustup component add "$name" >/dev/null 2>&1 ||
                    missing+=("'rustup component add $name' failed (no network?)")
            else
                missing+=("cargo $component ($name) is not installed and there is no rustup to add it")
            fi
        done
    fi
fi

# ---- system packages (Debian names)
if have cmake; then
    cmake_version=$(cmake --version | awk 'NR == 1 {print $3}')
    version_ge "$cmake_version" "$cmake_min" ||
        missing+=("CMake $cmake_version is older than $cmake_min: install a newer one (e.g. 'pip install cmake', or from cmake.org)")
else
    need+=(cmake)
fi
have cc || need+=(gcc)
have make || need+=(make)
have objcopy || need+=(binutils)
if ! have python3; then
    need+=(python3 python3-venv)
elif ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    need+=(python3-venv)
fi
if [ "$what" = test ]; then
    have c++ || need+=(g++)
    have pkg-config || need+=(pkg-config)
    have valgrind || need+=(valgrind)
    have spin || need+=(spin)
    # Event loops the adapters are tested with (headers and pkg-config files).
    pkg-config --exists libuv 2>/dev/null || need+=(libuv1-dev)
    pkg-config --exists glib-2.0 2>/dev/null || need+=(libglib2.0-dev)
    qt=no
    for f in /usr/lib/*/cmake/Qt6Core/Qt6CoreConfig.cmake /usr/lib/cmake/Qt6Core/Qt6CoreConfig.cmake; do
        [ -e "$f" ] && qt=yes
    done
    [ $qt = yes ] || need+=(qt6-base-dev)
fi

if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        have sudo && sudo="sudo"
    fi
    if ! have apt-get; then
        missing+=("not installed: ${need[*]} (Debian package names); there is no apt-get here, install them with this system's package manager")
    elif [ "$(id -u)" -ne 0 ] && [ -z "$sudo" ]; then
        missing+=("not installed: ${need[*]}; not root and no sudo: run 'apt-get install ${need[*]}' as root")
    else
        echo "setup: installing ${need[*]} (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        # A failed update may only mean stale lists; the install below says if it matters.
        $sudo apt-get update -qq >/dev/null 2>&1 || true
        if ! out=$($sudo apt-get install -y -qq "${need[@]}" 2>&1); then
            missing+=("apt-get could not install ${need[*]} (no network, or no such package in this release?):
$(echo "$out" | tail -5 | sed 's/^/      /')")
        fi
    fi
fi

# ---- Python: .venv with the pinned Pyro4
pyro_ok() { .venv/bin/python -c 'import Pyro4, serpent; assert Pyro4.__version__ == "4.82"' >/dev/null 2>&1; }
if ! pyro_ok; then
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        # Already reported above (python3-venv could not be installed).
        [ ${#missing[@]} -gt 0 ] || missing+=("python3 with the venv module is needed for .venv")
    else
        echo "setup: creating .venv with $(tr '\n' ' ' <requirements.txt)"
        rm -rf .venv
        if ! out=$(python3 -m venv .venv 2>&1 && .venv/bin/pip install -q -r requirements.txt 2>&1) || ! pyro_ok; then
            rm -rf .venv
            missing+=("could not install $(tr '\n' ' ' <requirements.txt)into .venv (pip needs PyPI, or set PIP_INDEX_URL):
$(echo "$out" | tail -5 | sed 's/^/      /')")
        fi
    fi
fi

if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: cannot prepare for '$what':" >&2
    for m in "${missing[@]}"; do echo "  - $m" >&2; done
    exit 1
fi
