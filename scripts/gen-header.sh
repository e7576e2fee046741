#!/usr/bin/env bash
# Regenerate include/pyro_async.h from the Rust sources with cbindgen.
set -euo pipefail
cd "$(dirname "$0")/.."
UPDATE_HEADER=1 cargo test --quiet --test header
echo "include/pyro_async.h regenerated"
