#!/usr/bin/env bash
# Build the earshot wheel (python/, maturin over crates/python) and install it into the project
# venv. Prints the wheel's path. Needs scripts/setup.sh to have run (venv with torch and maturin).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
. scripts/env.sh
out="$CARGO_TARGET_DIR/wheels"
rm -f "$out"/earshot-*.whl
(cd python && "$EARSHOT_VENV/bin/maturin" build --release --quiet -i "$EARSHOT_VENV/bin/python" --out "$out" >&2)
wheel="$(ls "$out"/earshot-*.whl)"
"$EARSHOT_VENV/bin/pip" install -q --force-reinstall --no-deps "$wheel"
echo "$wheel"
