#!/usr/bin/env bash
# Writes TensorFlow.js reference outputs into DIR (see golden.js), installing
# the pinned npm packages of package-lock.json first (once; cached under
# node_modules/ next to this script, guarded by a lock for parallel ctest).
# Without Node it removes DIR/refs.ok so nn_golden uses the committed fixtures.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="$1"
rm -f "$dir/refs.ok"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "run-golden: node/npm not found; nn_golden will use the committed fixtures"
    exit 0
fi
(
    flock 9
    stamp="$here/node_modules/.retouch-lock-sha256"
    want="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "run-golden: npm ci in $here"
        (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
        echo "$want" >"$stamp"
    fi
) 9>"$here/.npm-install.lock"
node "$here/golden.js" "$dir"
