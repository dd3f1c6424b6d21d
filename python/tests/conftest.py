"""Shared paths for the Python package's tests. They run on the installed wheel (scripts/test.sh
builds it with maturin and installs it into the reference venv) against the reference packages
in that venv and the data the tests/gen_*.py generators wrote."""

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GEN = ROOT / "tests" / "data" / "generated"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"


def manifest(family: str) -> dict:
    path = GEN / family / "manifest.json"
    if not path.exists():
        pytest.fail(f"{path} is missing: run scripts/test.sh (the generators write it)")
    return json.loads(path.read_text())


def earshot_cli() -> Path:
    exe = TARGET / "earshot"
    if not exe.exists():
        pytest.fail(f"{exe} is missing: cargo build --release --workspace")
    return exe
