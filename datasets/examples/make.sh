#!/usr/bin/env bash
# Re-create the bundled example clips (espeak-ng, sox and lame from Debian). Noise is made with
# sox -R (repeatable), so the files come out the same each time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
espeak-ng -s 150 -w "$tmp/speech.wav" "A dog barks twice, then somebody laughs in the next room."
sox "$tmp/speech.wav" -r 16000 speech.flac
sox -n -r 44100 -c 2 "$tmp/tone.wav" synth 2 sine 440 sine 880 vol 0.4
sox -m -v 0.5 "$tmp/tone.wav" -v 0.6 "|sox $tmp/speech.wav -r 44100 -c 2 -p" "$tmp/mix.wav" trim 0 2
lame --quiet -b 96 "$tmp/mix.wav" mix.mp3
sox -R -n -r 16000 -c 1 tone.flac synth 3 sine 1000 vol 0.5
sox -R -n -r 16000 -c 1 plucks.flac synth 0.6 pluck C4 pluck E4 pluck G4 repeat 4 vol 0.8
sox -R -n -r 16000 -c 1 noise.flac synth 3 pinknoise vol 0.3
