#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build earshot, and run it on the
# bundled example audio (datasets/examples).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
. scripts/env.sh
cargo build --release -q
bin="$CARGO_TARGET_DIR/release/earshot"
out="${EARSHOT_DEMO_OUT:-out/demo}"
mkdir -p "$out"
echo "== earshot info (this build)"
"$bin" info
echo "== earshot info on the bundled examples"
"$bin" info datasets/examples/speech.flac datasets/examples/mix.mp3
echo "== earshot decode, 32 kHz mono, as librosa.load(path, sr=32000, mono=True)"
"$bin" decode datasets/examples/mix.mp3 --sr 32000 --mono -o "$out/mix_32k.npy"
"$bin" decode datasets/examples/speech.flac --sr 32000 --mono -o "$out/speech_32k.wav"
"$bin" info "$out/speech_32k.wav"
echo "wrote $out/mix_32k.npy and $out/speech_32k.wav"
