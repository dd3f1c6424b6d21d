#!/usr/bin/env bash
# The whole test suite from a fresh machine: install what is missing (scripts/setup.sh), make
# the test audio and Python reference outputs (tests/gen_reference.py), then run every Rust test
# plus fmt and clippy, and an array job on a real single-node Slurm cluster. Used by .ci/run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
. scripts/env.sh
# Two cores: let libtorch and the reference code use them without oversubscribing.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
"$EARSHOT_VENV/bin/python" tests/gen_reference.py
"$EARSHOT_VENV/bin/python" tests/gen_checkpoints.py
"$EARSHOT_VENV/bin/python" tests/gen_panns.py
"$EARSHOT_VENV/bin/python" tests/gen_metrics.py
"$EARSHOT_VENV/bin/python" tests/gen_psds.py
"$EARSHOT_VENV/bin/python" tests/gen_sed_eval.py
"$EARSHOT_VENV/bin/python" tests/gen_frontend.py
"$EARSHOT_VENV/bin/python" tests/gen_datasets.py
"$EARSHOT_VENV/bin/python" tests/gen_openl3.py
"$EARSHOT_VENV/bin/python" tests/gen_speech.py
"$EARSHOT_VENV/bin/python" tests/gen_passt.py
"$EARSHOT_VENV/bin/python" tests/gen_yamnet.py
"$EARSHOT_VENV/bin/python" tests/gen_train.py
cargo fmt --all --check
cargo clippy --release --workspace --all-targets -q -- -D warnings
# `earshot` runs `earshot-torch` from its own folder, and `cargo test` builds only the root
# package's binaries: build both first (tests/common refuses an earshot-torch older than earshot).
cargo build --release --workspace --bins
# crates/python is an extension module (no libpython to link a test binary against): its tests
# are python/tests, run below.
RUST_TEST_THREADS=2 cargo test --release --workspace --all-targets --exclude earshot-python
# The Python package: build the wheel over the same target directory, install it into the
# reference venv (beside its torch 2.13.0, whose libtorch it links) and run its tests there.
scripts/python_wheel.sh
"$EARSHOT_VENV/bin/python" -m pytest -q -p no:cacheprovider python/tests
# Tests against committed numbers must hold on every x86-64 CPU. On an AVX-512 machine, run them
# again with oneDNN and ATen held to AVX2 kernels, as an AVX2-only machine computes.
if grep -qw avx512f /proc/cpuinfo; then
  echo "[test] AVX-512 CPU: committed-number tests again with AVX2 kernels" >&2
  ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 RUST_TEST_THREADS=2 \
    cargo test --release --test tests panns_seeded::
fi
# Needs root for the Slurm daemons (CI runs as root); started and stopped by the script.
tests/slurm/array_job.sh
