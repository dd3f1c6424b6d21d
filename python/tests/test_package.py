"""The installed package: one libtorch in the process, the torch wheel's (the extension finds it
through its RUNPATH $ORIGIN/../torch/lib and carries no copy), and the typed surface."""

import os
import subprocess
from pathlib import Path

import torch

import earshot


def test_the_extension_uses_the_torch_wheel_s_libtorch():
    ext = Path(earshot._earshot.__file__)
    package = ext.parent
    assert not any("libtorch" in p.name or "libc10" in p.name for p in package.rglob("*.so*"))
    dynamic = subprocess.run(["readelf", "-d", str(ext)], capture_output=True, text=True, check=True).stdout
    assert "[$ORIGIN/../torch/lib]" in dynamic, dynamic
    torch_lib = (Path(torch.__file__).parent / "lib").resolve()
    loaded = {Path(line.split()[-1]).resolve() for line in open("/proc/self/maps")
              if "libtorch_cpu.so" in line}
    assert loaded == {torch_lib / "libtorch_cpu.so"}, loaded
    assert (package.parent / "torch" / "lib").resolve() == torch_lib


def test_names_and_stubs():
    for name in ("load_audio", "features", "load_model", "Model", "EarshotError", "metrics", "hear"):
        assert hasattr(earshot, name)
    assert "yamnet" in earshot.frontends() and "cnn14" in {m[0] for m in earshot.models()}
    assert (Path(earshot.__file__).parent / "_earshot.pyi").exists()
    assert (Path(earshot.__file__).parent / "py.typed").exists()
    assert issubclass(earshot.EarshotError, Exception) and os.fspath(earshot.__version__)
