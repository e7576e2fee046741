#!/usr/bin/env bash
# Model-check the two lock-free hand-offs with spin (exhaustive over interleavings):
# the completion fd's signalling and the direct lane's deadline wake-up. Each model is
# also checked in a deliberately broken variant, which spin must reject, so a model that
# could never fail would be noticed here.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
check() { # model, variant define (or ""), expect ("ok" or "error")
    local model=$1 define=$2 expect=$3 dir
    dir="$work/$(basename "$model" .pml)${define:+-$define}"
    mkdir -p "$dir"
    (cd "$dir" && spin -a ${define:+-D$define} "$OLDPWD/$model" >/dev/null &&
        cc -O2 -w -DSAFETY -o pan pan.c && ./pan -m100000 >out.txt 2>&1) || true
    local errors
    errors=$(grep -Eo 'errors: [0-9]+' "$dir/out.txt" | grep -Eo '[0-9]+' || echo missing)
    local states
    states=$(grep -Eo '[0-9]+ states, stored' "$dir/out.txt" | head -1 || true)
    if [ "$expect" = ok ] && [ "$errors" = 0 ]; then
        echo "model: $(basename "$model")${define:+ ($define)}: verified, $states"
    elif [ "$expect" = error ] && [ "$errors" != 0 ] && [ "$errors" != missing ]; then
        echo "model: $(basename "$model") ($define): rejected as it must be"
    else
        cat "$dir/out.txt"
        echo "model: $(basename "$model")${define:+ ($define)}: expected $expect, got errors: $errors"
        exit 1
    fi
}
check tests/model/completion_fd.pml "" ok
check tests/model/completion_fd.pml BROKEN_BEGIN error
check tests/model/deadline_wake.pml "" ok
check tests/model/deadline_wake.pml BROKEN_NO_RECHECK error
check tests/model/completion_fd.pml DISPATCH_READS ok
check tests/model/completion_fd.pml "DISPATCH_READS -DBROKEN_NO_REARM" error
