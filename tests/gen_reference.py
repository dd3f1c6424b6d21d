#!/usr/bin/env python3
"""Make earshot's test audio and the reference outputs the Rust tests compare against.

Audio comes from espeak-ng (speech) and sox (tones, noise, sweeps, mixes), converted into every
container and codec earshot decodes (WAV in all sample formats, FLAC, MP3, Ogg/Vorbis, AAC in
M4A), mono and stereo, 8 to 48 kHz. References are what the Python packages produce on those
files: `librosa.load(path, sr=..., mono=...)` for decoding and resampling. Bad inputs (empty,
truncated, random bytes, NaN samples, ...) are written beside them.

Everything lands in tests/data/generated/ with a manifest.json the tests read. The script is
idempotent: it does nothing when the manifest was written by the same version of this file.

Run it with the project venv's python (scripts/test.sh does).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "data" / "generated"
AUDIO = OUT / "audio"
REF = OUT / "ref"
BAD = OUT / "bad"

SPEECH = ("Earshot listens to the world. A dog barks twice, then a door slams, "
          "and somebody laughs in the next room.")


def run(*cmd):
    cmd = [str(c) for c in cmd]
    if cmd[0] == "sox":
        cmd.insert(1, "-D")  # no dither: the same audio on every run
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def sources(tmp: Path):
    """Base signals as 32-bit float WAV: name -> (path, native rate, channels)."""
    out = {}
    speech = tmp / "speech_raw.wav"
    run("espeak-ng", "-s", "150", "-w", speech, SPEECH)  # 22050 Hz mono s16
    out["speech"] = speech
    tones = tmp / "tones.wav"
    # Two channels with different content, so channel order and downmix are both checked.
    run("sox", "-n", "-r", "44100", "-c", "2", "-b", "32", "-e", "floating-point", tones,
        "synth", "3.3", "sine", "440", "sine", "1234", "vol", "0.5")
    out["tones"] = tones
    noise = tmp / "noise.wav"
    run("sox", "-n", "-r", "48000", "-c", "2", "-b", "32", "-e", "floating-point", noise,
        "synth", "2.7", "pinknoise", "vol", "0.3")
    out["noise"] = noise
    sweep = tmp / "sweep.wav"
    run("sox", "-n", "-r", "32000", "-c", "1", "-b", "32", "-e", "floating-point", sweep,
        "synth", "2.5", "sine", "50-15000", "vol", "0.6")
    out["sweep"] = sweep
    # Speech over noise and a tone: a realistic mixture.
    mix = tmp / "mix.wav"
    speech_f = tmp / "speech_44k_st.wav"
    run("sox", speech, "-r", "44100", "-c", "2", "-b", "32", "-e", "floating-point", speech_f)
    run("sox", "-m", speech_f, tones, mix, "trim", "0", "3.0")
    out["mix"] = mix
    return out


# (name, source, container args for sox/ffmpeg/encoders, extension, rate, channels)
FORMATS = [
    # WAV: every sample format libsndfile and symphonia share.
    ("speech_u8_8k", "speech", "wav", dict(bits=8, enc="unsigned-integer"), 8000, 1),
    ("speech_s16_16k", "speech", "wav", dict(bits=16, enc="signed-integer"), 16000, 1),
    ("speech_s16_22k", "speech", "wav", dict(bits=16, enc="signed-integer"), 22050, 1),
    ("tones_s16_44k_stereo", "tones", "wav", dict(bits=16, enc="signed-integer"), 44100, 2),
    ("tones_s24_48k_stereo", "tones", "wav", dict(bits=24, enc="signed-integer"), 48000, 2),
    ("noise_s32_48k_stereo", "noise", "wav", dict(bits=32, enc="signed-integer"), 48000, 2),
    ("sweep_f32_32k", "sweep", "wav", dict(bits=32, enc="floating-point"), 32000, 1),
    ("mix_f64_44k_stereo", "mix", "wav", dict(bits=64, enc="floating-point"), 44100, 2),
    ("mix_s16_44k_stereo_plainheader", "mix", "wavpcm", dict(bits=16, enc="signed-integer"), 44100, 2),
    ("mix_s24_48k_extensible", "mix", "wav", dict(bits=24, enc="signed-integer"), 48000, 2),
    # FLAC
    ("speech_flac16_16k", "speech", "flac", dict(bits=16), 16000, 1),
    ("mix_flac24_48k_stereo", "mix", "flac", dict(bits=24), 48000, 2),
    ("tones_flac16_44k_stereo", "tones", "flac", dict(bits=16), 44100, 2),
    # MP3 (lame, with its Xing/LAME header carrying delay and padding)
    ("speech_mp3_22k", "speech", "mp3", dict(), 22050, 1),
    ("mix_mp3_44k_stereo", "mix", "mp3", dict(), 44100, 2),
    ("noise_mp3_48k_stereo", "noise", "mp3", dict(), 48000, 2),
    ("sweep_mp3_16k", "sweep", "mp3", dict(), 16000, 1),
    # Ogg/Vorbis
    ("speech_ogg_22k", "speech", "ogg", dict(), 22050, 1),
    ("mix_ogg_44k_stereo", "mix", "ogg", dict(), 44100, 2),
    ("tones_ogg_48k_stereo", "tones", "ogg", dict(), 48000, 2),
    # AAC in M4A (ffmpeg's encoder, 1024 priming samples recorded in the edit list)
    ("speech_m4a_16k", "speech", "m4a", dict(), 16000, 1),
    ("mix_m4a_44k_stereo", "mix", "m4a", dict(), 44100, 2),
    ("tones_m4a_48k_stereo", "tones", "m4a", dict(), 48000, 2),
]

# What the tests decode each file to: (target rate or None for native, mono)
LOADS = [(None, False), (32000, True), (16000, False)]


def encode(src: Path, dst: Path, container: str, opts: dict, rate: int, channels: int, tmp: Path):
    base = tmp / (dst.stem + "_base.wav")
    # Convert rate/channels with sox (float intermediate), clipping guarded by 'gain -n -1'.
    run("sox", src, "-b", "32", "-e", "floating-point", base,
        "rate", "-v", str(rate), "channels", str(channels), "gain", "-n", "-1")
    if container in ("wav", "wavpcm"):
        run("sox", base, "-t", container, "-b", str(opts["bits"]), "-e", opts["enc"], dst)
    elif container == "flac":
        run("sox", base, "-b", str(opts["bits"]), dst)
    elif container == "mp3":
        pcm = tmp / (dst.stem + "_s16.wav")
        run("sox", base, "-b", "16", "-e", "signed-integer", pcm)
        run("lame", "--quiet", "-b", "128", pcm, dst)
    elif container == "ogg":
        pcm = tmp / (dst.stem + "_s16.wav")
        run("sox", base, "-b", "16", "-e", "signed-integer", pcm)
        run("oggenc", "-Q", "-q", "5", "-o", dst, pcm)
    elif container == "m4a":
        run("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", base, "-c:a", "aac",
            "-b:a", "128k", dst)
    else:
        raise ValueError(container)


def reference_load(path: Path, sr, mono):
    import librosa
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # audioread fallback for M4A warns
        y, out_sr = librosa.load(str(path), sr=sr, mono=mono)
    return np.asarray(y, dtype=np.float32), int(out_sr)


def bad_inputs(good_wav: Path, good_flac: Path, good_mp3: Path, tmp: Path):
    """Files earshot must refuse with a clear message: name -> path."""
    import soundfile as sf
    BAD.mkdir(parents=True, exist_ok=True)
    out = {}
    (BAD / "empty.wav").write_bytes(b"")
    out["empty"] = BAD / "empty.wav"
    rng = np.random.default_rng(1234)
    for ext in ("wav", "mp3", "flac", "ogg", "m4a"):
        p = BAD / f"random.{ext}"
        p.write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
        out[f"random_{ext}"] = p
    (BAD / "text.wav").write_text("This is not audio, just a text file with a .wav name.\n" * 20)
    out["text"] = BAD / "text.wav"
    for name, src in (("wav", good_wav), ("flac", good_flac), ("mp3", good_mp3)):
        data = src.read_bytes()
        p = BAD / f"truncated.{name}"
        p.write_bytes(data[: int(len(data) * 0.6)])
        out[f"truncated_{name}"] = p
    # A WAV header that promises no frames at all.
    sf.write(BAD / "zero_length.wav", np.zeros((0,), dtype=np.float32), 16000, subtype="PCM_16")
    out["zero_length"] = BAD / "zero_length.wav"
    x = (0.1 * np.sin(np.arange(16000) / 10.0)).astype(np.float32)
    x_nan = x.copy(); x_nan[1234] = np.nan
    sf.write(BAD / "nan.wav", x_nan, 16000, subtype="FLOAT")
    out["nan"] = BAD / "nan.wav"
    x_inf = x.copy(); x_inf[777] = np.inf
    sf.write(BAD / "inf.wav", x_inf, 16000, subtype="FLOAT")
    out["inf"] = BAD / "inf.wav"
    # An Opus stream: a real codec that earshot does not decode.
    opus = BAD / "speech.opus"
    run("opusenc", "--quiet", good_wav, opus)
    out["unsupported_codec"] = opus
    (BAD / "a_directory.wav").mkdir(exist_ok=True)
    out["directory"] = BAD / "a_directory.wav"
    out["missing"] = BAD / "does_not_exist.wav"
    return out


def fingerprint() -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    for tool in ("sox", "lame", "ffmpeg", "oggenc", "espeak-ng"):
        h.update((shutil.which(tool) or "-").encode())
    return h.hexdigest()


def main():
    manifest_path = OUT / "manifest.json"
    fp = fingerprint()
    if manifest_path.exists() and json.loads(manifest_path.read_text()).get("fingerprint") == fp:
        print(f"[gen] up to date: {manifest_path}")
        return
    # Only this script's own folders: the other generators keep theirs beside them.
    for d in (AUDIO, REF, BAD):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    tmp = OUT / "tmp"
    tmp.mkdir()
    src = sources(tmp)

    files = []
    for name, source, container, opts, rate, channels in FORMATS:
        ext = "wav" if container == "wavpcm" else container
        path = AUDIO / f"{name}.{ext}"
        encode(src[source], path, container, opts, rate, channels, tmp)
        refs = []
        for sr, mono in LOADS:
            y, out_sr = reference_load(path, sr, mono)
            tag = f"{name}__sr{sr or 'native'}_{'mono' if mono else 'multi'}"
            np.save(REF / f"{tag}.npy", y)
            refs.append(dict(sr=sr, mono=mono, out_sr=out_sr, npy=f"ref/{tag}.npy",
                             shape=list(y.shape)))
        files.append(dict(name=name, path=f"audio/{path.name}", format=ext, rate=rate,
                          channels=channels, refs=refs,
                          sha256=hashlib.sha256(path.read_bytes()).hexdigest()))
        print(f"[gen] {path.name}: {refs[0]['shape']}")

    bad = bad_inputs(AUDIO / "speech_s16_16k.wav", AUDIO / "mix_flac24_48k_stereo.flac",
                     AUDIO / "mix_mp3_44k_stereo.mp3", tmp)
    shutil.rmtree(tmp)
    import librosa, soundfile, soxr
    manifest = dict(
        fingerprint=fp,
        reference=dict(librosa=librosa.__version__, soundfile=soundfile.__version__,
                       libsndfile=soundfile.__libsndfile_version__, soxr=soxr.__version__,
                       python=sys.version.split()[0]),
        files=files,
        bad={k: os.path.relpath(v, OUT) for k, v in bad.items()},
    )
    manifest_path.write_text(json.dumps(manifest, indent=1))
    print(f"[gen] wrote {len(files)} files and {len(bad)} bad inputs to {OUT}")


if __name__ == "__main__":
    main()
