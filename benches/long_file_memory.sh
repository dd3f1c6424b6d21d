#!/usr/bin/env bash
# Peak RSS of `earshot tag --window 10` and `earshot embed --window 10` on long recordings
# (10 min, 1 h, 2 h by default; CMDS="tag" or "embed" for one of them): the file is decoded and
# resampled window by window, so memory should stay flat in the length. Uses a random-weight CNN14 checkpoint from the test data (run scripts/test.sh or
# tests/gen_checkpoints.py first) and sox-made pink noise at 44.1 kHz stereo (a resample and
# a downmix on the way).
#
#   benches/long_file_memory.sh [minutes...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bin="$CARGO_TARGET_DIR/release/earshot"
ckpt=tests/data/generated/panns/Cnn14.pth
[ -x "$bin" ] || cargo build --release --workspace
[ -f "$ckpt" ] || { echo "missing $ckpt: run scripts/test.sh first" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '%6s %8s %10s %12s %10s\n' cmd minutes "wall s" "peak RSS MB" "file MB"
for m in "${@:-10 60 120}"; do
  f="$tmp/long_${m}min.flac"
  sox -n -r 44100 -c 2 -b 16 "$f" synth "$((m * 60))" pinknoise vol 0.3
  for cmd in ${CMDS:-tag embed}; do
    case $cmd in
      tag) args=(tag --format json) ;;
      embed) args=(embed -o "$tmp/emb") ;;
    esac
    /usr/bin/time -f "%e %M" -o "$tmp/time" \
      "$bin" "${args[@]}" --model cnn14 --checkpoint "$ckpt" --window 10 "$f" > /dev/null
    read -r wall kb < "$tmp/time"
    printf '%6s %8s %10s %12.0f %10.0f\n' "$cmd" "$m" "$wall" "$((kb / 1024))" \
      "$(($(stat -c %s "$f") / 1048576))"
  done
  rm -f "$f"
done
