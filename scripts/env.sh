# Sourced by the project scripts: where the shared cache lives and how cargo finds libtorch.
# One venv and one cargo target directory under ~/.cache/earshot serve every clone on a machine,
# so a fresh clone (CI's included) reuses compiled dependencies instead of rebuilding libtorch's
# shim. LIBTORCH points at a stable link to the venv's torch, so torch-sys sees the same value
# from every clone and is not rebuilt.
EARSHOT_CACHE="${EARSHOT_CACHE:-$HOME/.cache/earshot}"
# Tests that run a reference reader themselves (pyarrow) find the venv here.
export EARSHOT_VENV="$EARSHOT_CACHE/venv"
export LIBTORCH="$EARSHOT_CACHE/libtorch"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$EARSHOT_CACHE/target}"
# pyo3 (crates/python) builds against the venv's Python 3.11, whichever python3 is on PATH.
export PYO3_PYTHON="$EARSHOT_VENV/bin/python"
