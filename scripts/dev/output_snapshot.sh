#!/usr/bin/env bash
# Every kind of output earshot writes, on the generated test data, into one folder: run it before
# and after a refactor and `diff -r` the two folders (a refactor must not change one byte).
# It runs the release binaries already built in $CARGO_TARGET_DIR (`cargo build --release --workspace` first; EARSHOT_BIN_DIR picks another folder).
# Usage: scripts/dev/output_snapshot.sh OUT_DIR   (after scripts/test.sh has generated tests/data)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
. scripts/env.sh
out="$(realpath -m "${1:?usage: output_snapshot.sh OUT_DIR}")"
rm -rf "$out" && mkdir -p "$out"
bin="${EARSHOT_BIN_DIR:-$CARGO_TARGET_DIR/release}/earshot"
g=tests/data/generated
a=$g/audio
n=0
# run NAME ARGS...: stdout, stderr (with the temp folder's name taken out) and the exit code.
run() {
  local name=$1
  shift
  n=$((n + 1))
  "$bin" "$@" >"$out/$name.stdout" 2>"$out/$name.stderr"
  echo $? >"$out/$name.rc"
  sed -i "s#$out#OUT#g" "$out/$name.stderr" "$out/$name.stdout"
}
cnn=$g/panns/Cnn14.pth
dlm=$g/panns/Cnn14_DecisionLevelMax.pth
clips=($a/mix_mp3_44k_stereo.mp3 $a/speech_s16_16k.wav $a/tones_m4a_48k_stereo.m4a)
run info_files info "${clips[@]}" $g/bad/empty.wav
run info_json info --json "${clips[0]}"
run decode_npy decode "${clips[0]}" --sr 32000 --mono -o "$out/decode.npy"
run decode_wav decode "${clips[1]}" --sr 22050 -o "$out/decode.wav"
run features_panns features --frontend panns "${clips[1]}" -o "$out/features_panns.npy"
run features_passt features --frontend passt "${clips[1]}" -o "$out/features_passt.npy"
run tag_table tag "${clips[@]}" --checkpoint $cnn --top-k 3
run tag_json tag "${clips[@]}" --checkpoint $cnn --format json --all-scores
run tag_csv tag "${clips[@]}" $g/bad/text.wav --checkpoint $cnn --format csv
run tag_window tag "${clips[0]}" --checkpoint $cnn --window 2 --hop 1 --pool max --format json
run tag_to_file tag "${clips[@]}" --checkpoint $cnn -o "$out/tag.txt"
run detect_tsv detect "${clips[@]}" --model cnn14-decisionlevelmax --checkpoint $dlm --threshold 0.3
run detect_json detect "${clips[0]}" --model cnn14-decisionlevelmax --checkpoint $dlm --format json --median-filter 7
run detect_plot detect "${clips[0]}" --model cnn14-decisionlevelmax --checkpoint $dlm --plot "$out/detect.png"
run embed_npz embed "${clips[@]}" --checkpoint $cnn -o "$out/embed_panns"
run embed_mean embed "${clips[@]}" --checkpoint $cnn --window 2 --hop 1 --pool mean -o "$out/embed_mean.npy"
run embed_parquet embed "${clips[@]}" --checkpoint $cnn --window 2 --hop 1 -o "$out/embed.parquet"
run embed_hear embed "${clips[0]}" --checkpoint $cnn --hear -o "$out/embed_hear"
run embed_passt embed $g/passt/clip10.wav --model passt-s-f128-p16-s16-ap468 --checkpoint $g/passt/passt_s_p16_s16_128_ap468.pt -o "$out/embed_passt"
run tag_passt tag $g/passt/clip10.wav --model passt-s-f128-p16-s16-ap468 --checkpoint $g/passt/passt_s_p16_s16_128_ap468.pt --format json
run embed_openl3 embed $g/openl3/speech_2s_48k.wav --model openl3-mel128-music-512 --checkpoint $g/openl3/torchopenl3_mel128_music.pth.tar --hop 0.5 -o "$out/embed_openl3"
run embed_openl3_h5 embed $g/openl3/speech_2s_48k.wav --model openl3-linear-music-6144 --checkpoint $g/openl3/openl3_audio_linear_music.h5 -o "$out/embed_openl3_h5"
run embed_hubert embed $g/speech/hello_16k.wav --model hubert-base-ls960 --checkpoint $g/speech/hubert-base --layer all -o "$out/embed_hubert"
run embed_wavlm embed $g/speech/quick_22k.wav --model wavlm-base-plus --checkpoint $g/speech/wavlm-base.pt -o "$out/embed_wavlm"
run embed_w2v embed $g/speech/hello_16k.wav --model wav2vec2-base --checkpoint $g/speech/w2v-base -o "$out/embed_w2v"
run transcribe transcribe $g/speech/hello_16k.wav $g/speech/quick_16k.wav --checkpoint $g/speech/w2v-base-ctc
run yamnet_tag tag $g/yamnet/speech.wav $g/yamnet/sine.wav --checkpoint $g/yamnet/w8a8/model.onnx --model yamnet-w8a8 --format json
run yamnet_q tag $g/yamnet/speech.wav --checkpoint $g/yamnet/w8a8/model.onnx --model yamnet-w8a8 --quantized
run yamnet_detect detect $g/yamnet/speech.wav --checkpoint $g/yamnet/w8a8/model.onnx --model yamnet-w8a8 --threshold 0.2
run yamnet_embed embed $g/yamnet/speech.wav --checkpoint $g/yamnet/w8a8/model.onnx --model yamnet-w8a8 --hear -o "$out/embed_yamnet"
run ckpt_inspect checkpoint inspect $cnn
run ckpt_inspect_json checkpoint inspect --json $g/speech/hubert-base
run ckpt_hostile checkpoint inspect $g/checkpoints/hostile_exec.pt
run models_list models list
run models_info models info cnn14
for i in 000 003; do
  run "eval_tagging_$i" eval tagging --ground-truth $g/metrics/tagging_${i}_truth.npy --scores $g/metrics/tagging_${i}_scores.npy --json
done
s=$g/metrics/sed_003
run eval_sed eval sed --ground-truth $s/gt.tsv --durations $s/durations.tsv --scores $s/scores --psds1 --psds2 --intersection-f1 --json --plot "$out/psd.svg"
run eval_sed_table eval sed --ground-truth $s/gt.tsv --durations $s/durations.tsv --predictions $s/ops/*.tsv --event-f1 --segment-f1
run eval_scenes eval scenes --ground-truth $g/metrics/scenes_000_ref.tsv --predictions $g/metrics/scenes_000_out.tsv --json
run eval_run_desed eval run --dataset desed --root $g/datasets/desed --model cnn14-decisionlevelmax --checkpoint $dlm -o "$out/eval_desed" --json
run eval_run_esc50 eval run --dataset esc50 --root $g/datasets/esc50 --checkpoint $cnn -o "$out/eval_esc50" --json
run eval_run_esc50_table eval run --dataset esc50 --root $g/datasets/esc50 --checkpoint $cnn -o "$out/eval_esc50_table"
run eval_run_tau eval run --dataset tau2022 --root $g/datasets/tau2022 --checkpoint $cnn -o "$out/eval_tau" --json
run eval_run_audioset eval run --dataset audioset --root $g/datasets/audioset --checkpoint $cnn -o "$out/eval_audioset" --json
run eval_run_audioset_table eval run --dataset audioset --root $g/datasets/audioset --checkpoint $cnn -o "$out/eval_audioset_table"
run eval_run_fsd50k eval run --dataset fsd50k --root $g/datasets/fsd50k --checkpoint $cnn -o "$out/eval_fsd50k" --json
run eval_run_desed_table eval run --dataset desed --root $g/datasets/desed --model cnn14-decisionlevelmax --checkpoint $dlm -o "$out/eval_desed_table"
run shard_a embed "${clips[@]}" --checkpoint $cnn --pool mean --shard 0/2 -o "$out/shard.npy"
run shard_b embed "${clips[@]}" --checkpoint $cnn --pool mean --shard 1/2 -o "$out/shard.npy"
run merge merge "$out/shard.shard-0-of-2.npy" "$out/shard.shard-1-of-2.npy" -o "$out/merged.npy"
echo "$n commands; outputs in $out"
