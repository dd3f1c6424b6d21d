#!/usr/bin/env python3
"""Reference outputs for earshot's front ends (tests/frontend.rs compares against them).

For every front end and every test signal this runs the real reference package on the exact
waveform earshot decodes (`librosa.load(path, sr=<front end rate>, mono=True)`, which earshot
matches bit for bit on WAV and FLAC; the waveform is saved too, so the test can check that):

* panns, panns-16k, panns-8k: `panns_inference.models.Cnn14(sr, window, hop, 64, 50, fmax)`'s
  own `spectrogram_extractor` and `logmel_extractor` (torchlibrosa);
* passt: hear21passt `AugmentMelSTFT` with `get_basic_model`'s arguments, in eval mode;
* openl3-*: torchopenl3 `preprocess_audio_batch` and the `speclayer` of `PytorchOpenl3`;
* kaldi-fbank: `torchaudio.compliance.kaldi.fbank` with its defaults;
* wav2vec2: `transformers.Wav2Vec2FeatureExtractor(do_normalize=True)`;
* yamnet: YAMNet's `features.py` log-mel from TensorFlow's own ops (`tf.signal.stft` 400/160/512,
  `tf.signal.linear_to_mel_weight_matrix(64, 257, 16000, 125, 7500)`, `log(mel + 0.001)`), in
  float32 and float64 (the waveform is not padded here: that is the model's step).

Each reference runs twice: as shipped (float32) and as the same code in float64
(`torch.set_default_dtype(torch.float64)`, float64 input). The float32 runs are rounding
noise far below a frame's peak (PANNs floors at 1e-10, i.e. 100 dB down; OpenL3 keeps 80 dB of
*magnitude*, i.e. 1e-8 of the peak), so the float64 run is the one parity is asserted against
at 1e-3 dB; the float32 run is kept to report how far the shipped reference is from both.
torchopenl3 stores its DFT kernels explicitly in float32 (its window rounded to float32 is part
of kapre's definition; the rounding of window × cos is not), so its float64 run gets exact
kernels built from its own window (kernel row 0) before calling the layer's own forward.

Test signals: speech, tones, noise, a mixture and a sweep from tests/gen_reference.py's audio
(run that first), plus silence, a clipped sine, odd lengths and inputs shorter than one frame,
written as float32 WAV at each front end's rate. When the reference raises (signal shorter
than its padding), the error is recorded and earshot must refuse too. Mel banks (librosa's
Slaney/HTK scales with Slaney, L1 or no norm; Kaldi's) and windows are saved for a one-to-one
comparison.

Output: tests/data/generated/frontend/ with manifest.json. Idempotent: nothing is redone when
the manifest was written by the same version of this file and the same input audio.
"""

import contextlib
import hashlib
import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
GEN = HERE / "data" / "generated"
OUT = GEN / "frontend"
AUDIO = OUT / "audio"

# Front end -> sample rate.
RATES = {
    "panns": 32000, "panns-16k": 16000, "panns-8k": 8000, "passt": 32000,
    "openl3-linear": 48000, "openl3-mel128": 48000, "openl3-mel256": 48000,
    "kaldi-fbank": 16000, "wav2vec2": 16000, "yamnet": 16000,
}
# Files from tests/gen_reference.py (WAV/FLAC only: decoded bit-exactly by both sides).
FILES = {
    "speech": "audio/speech_s16_22k.wav",
    "tones": "audio/tones_s24_48k_stereo.wav",
    "noise": "audio/noise_s32_48k_stereo.wav",
    "mix": "audio/mix_flac24_48k_stereo.flac",
    "sweep": "audio/sweep_f32_32k.wav",
}
# OpenL3 is slow in the reference (a 2048-tap conv per 1-s window): fewer long files.
OPENL3_FILES = ("speech", "tones", "noise")
# Lengths (samples at the front end's rate) shorter than one frame: one the reference accepts
# and one below its padding.
SHORT = {8000: (200, 100), 16000: (450, 200), 32000: (600, 300), 48000: (300, 1)}


def fingerprint() -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    manifest = GEN / "manifest.json"
    h.update(manifest.read_bytes() if manifest.exists() else b"-")
    return h.hexdigest()


def synthetic(sr: int):
    """Signals written as float32 WAV at `sr`: name -> samples."""
    rng = np.random.default_rng(sr)
    t = np.arange(int(1.3 * sr)) / sr
    ok, too_short = SHORT[sr]
    return {
        "silence": np.zeros(sr, dtype=np.float32),
        # A loud sine driven into hard clipping, plus a little noise.
        "clipped": np.clip(3.0 * np.sin(2 * np.pi * 440.0 * t) + 0.01 * rng.standard_normal(t.size),
                           -1.0, 1.0).astype(np.float32),
        # Odd length, not a multiple of any hop, with a DC offset.
        "odd": (0.2 + 0.3 * rng.standard_normal(12347)).clip(-1, 1).astype(np.float32),
        "short": (0.5 * rng.standard_normal(ok)).clip(-1, 1).astype(np.float32),
        "too_short": (0.5 * rng.standard_normal(too_short)).clip(-1, 1).astype(np.float32),
    }


@contextlib.contextmanager
def default_dtype(dtype):
    import torch
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


class References:
    """Builds each reference once per dtype and runs it on a waveform (float32 numpy)."""

    def __init__(self):
        self.cache = {}

    def get(self, key, build):
        if key not in self.cache:
            self.cache[key] = build()
        return self.cache[key]

    def run(self, name, y, f64):
        import torch
        dtype = torch.float64 if f64 else torch.float32
        x = torch.from_numpy(y.astype(np.float64 if f64 else np.float32))
        with default_dtype(dtype), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if name.startswith("panns"):
                return self.panns(name, x, f64)
            if name == "passt":
                return self.passt(x, f64)
            if name.startswith("openl3"):
                return self.openl3(name.split("-")[1], x, f64)
            if name == "kaldi-fbank":
                import torchaudio.compliance.kaldi as kaldi
                return kaldi.fbank(x[None, :]).numpy()
            if name == "wav2vec2":
                return self.wav2vec2(y)
            if name == "yamnet":
                return self.yamnet(y, f64)
        raise ValueError(name)

    def yamnet(self, y, f64):
        import tensorflow as tf
        dtype = tf.float64 if f64 else tf.float32
        x = tf.constant(y.astype(np.float64 if f64 else np.float32), dtype=dtype)
        magnitude = tf.abs(tf.signal.stft(x, frame_length=400, frame_step=160, fft_length=512))
        mel = tf.signal.linear_to_mel_weight_matrix(
            num_mel_bins=64, num_spectrogram_bins=257, sample_rate=16000, lower_edge_hertz=125.0,
            upper_edge_hertz=7500.0, dtype=dtype)
        return tf.math.log(tf.matmul(magnitude, mel) + 0.001).numpy()

    def panns(self, name, x, f64):
        from panns_inference.models import Cnn14
        args = {"panns": (32000, 1024, 320, 64, 50, 14000),
                "panns-16k": (16000, 512, 160, 64, 50, 8000),
                "panns-8k": (8000, 256, 80, 64, 50, 4000)}[name]

        def build():
            # Built under the current default dtype: float64 gives exact DFT kernels.
            model = Cnn14(*args, classes_num=527).eval()
            return model.spectrogram_extractor, model.logmel_extractor
        spec, logmel = self.get((name, f64), build)
        out = logmel(spec(x[None, :]))  # (1, 1, T, 64)
        return out[0, 0].numpy()

    def passt(self, x, f64):
        from hear21passt.models.preprocess import AugmentMelSTFT

        def build():
            with contextlib.redirect_stdout(sys.stderr):  # "Warning: FMAX is None ..."
                # hear21passt.base.get_basic_model's arguments.
                mel = AugmentMelSTFT(n_mels=128, sr=32000, win_length=800, hopsize=320,
                                     n_fft=1024, freqm=48, timem=192, htk=False, fmin=0.0,
                                     fmax=None, norm=1, fmin_aug_range=10, fmax_aug_range=2000)
            return mel.eval()
        mel = self.get(("passt", f64), build)
        return mel(x[None, :])[0].numpy().T  # (128, T) -> (T, 128)

    def openl3(self, repr_, x, f64):
        import torch
        from torchopenl3.models import PytorchOpenl3
        from torchopenl3.utils import preprocess_audio_batch

        def build():
            with default_dtype(torch.float32):
                layer = PytorchOpenl3("music", repr_, 512).eval().speclayer
            if f64:
                layer = layer.double()
                # Exact float64 DFT kernels around torchopenl3's own float32 window.
                window = layer.dft_real_kernels[0, 0, :].double()  # k = 0: cos(0) * window
                n = window.numel()
                k = torch.arange(layer.dft_real_kernels.shape[0], dtype=torch.float64)
                phase = 2 * np.pi * k[:, None] * torch.arange(n, dtype=torch.float64)[None, :] / n
                layer.dft_real_kernels = (torch.cos(phase) * window)[:, None, :]
                layer.dft_imag_kernels = (-torch.sin(phase) * window)[:, None, :]
            return layer
        layer = self.get((repr_, f64), build)
        # get_audio_embedding: float64 audio in, windows cast to float32 before the model.
        frames = preprocess_audio_batch(x.double()[None, :], 48000, center=True, hop_size=0.1)
        frames = frames.double() if f64 else frames.float()
        return layer(frames)[..., 0].numpy()  # (W, F, T, 1) -> (W, F, T)

    def wav2vec2(self, y):
        from transformers import Wav2Vec2FeatureExtractor
        fe = self.get("wav2vec2", lambda: Wav2Vec2FeatureExtractor(do_normalize=True))
        return np.asarray(fe(y, sampling_rate=16000, return_tensors="np").input_values[0])


# Filter banks and windows compared one to one: (name, sr, n_fft, n_mels, fmin, fmax, htk, norm).
LIBROSA_BANKS = [
    ("slaney_slaney_32k", 32000, 1024, 64, 50.0, 14000.0, False, "slaney"),
    ("slaney_none_22k", 22050, 2048, 128, 0.0, 11025.0, False, None),
    ("htk_slaney_16k", 16000, 512, 40, 20.0, 7600.0, True, "slaney"),
    ("htk_none_16k", 16000, 400, 80, 0.0, 8000.0, True, None),
    ("htk_l1_48k", 48000, 2048, 256, 0.0, 24000.0, True, 1),
]
# (name, num_bins, window_length_padded, sample_freq, low_freq, high_freq)
KALDI_BANKS = [("fbank_16k", 23, 512, 16000.0, 20.0, 0.0),
               ("passt_32k", 128, 1024, 32000.0, 0.0, 15000.0)]


def banks_and_windows():
    """Reference mel banks and windows: name -> array."""
    import librosa
    import torch
    import torchaudio.compliance.kaldi as kaldi
    out = {}
    for name, sr, n_fft, n_mels, fmin, fmax, htk, norm in LIBROSA_BANKS:
        out[f"mel_{name}"] = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin,
                                                 fmax=fmax, htk=htk, norm=norm)
    with default_dtype(torch.float64):
        for name, *args in KALDI_BANKS:
            bank, _ = kaldi.get_mel_banks(*args, 100.0, -500.0, 1.0)
            out[f"kaldi_{name}"] = torch.nn.functional.pad(bank, (0, 1)).numpy()
        out["window_hann_periodic_1024"] = librosa.filters.get_window("hann", 1024, fftbins=True)
        out["window_hann_symmetric_800"] = torch.hann_window(800, periodic=False).numpy()
        out["window_hamming_400"] = torch.hamming_window(400, periodic=False, alpha=0.54,
                                                         beta=0.46).numpy()
        out["window_povey_400"] = torch.hann_window(400, periodic=False).pow(0.85).numpy()
    return out


def main():
    fp = fingerprint()
    manifest_path = OUT / "manifest.json"
    if manifest_path.exists() and json.loads(manifest_path.read_text()).get("fingerprint") == fp:
        print(f"[gen_frontend] up to date: {manifest_path}")
        return
    if not (GEN / "manifest.json").exists():
        sys.exit("[gen_frontend] run tests/gen_reference.py first (it makes the test audio)")
    import librosa
    import soundfile as sf
    import torch
    torch.set_num_threads(int(__import__("os").environ.get("OMP_NUM_THREADS", "2")))
    if OUT.exists():
        shutil.rmtree(OUT)
    AUDIO.mkdir(parents=True)

    synth_paths = {}
    for sr in sorted(set(RATES.values())):
        for case, y in synthetic(sr).items():
            path = AUDIO / f"{case}_{sr}.wav"
            sf.write(path, y, sr, subtype="FLOAT")
            synth_paths[(sr, case)] = path

    (OUT / "banks").mkdir()
    banks = {}
    for name, arr in banks_and_windows().items():
        np.save(OUT / "banks" / f"{name}.npy", arr)
        banks[name] = dict(npy=f"frontend/banks/{name}.npy", shape=list(arr.shape))

    refs = References()
    entries = []
    for name, sr in RATES.items():
        cases = {c: GEN / p for c, p in FILES.items()
                 if not name.startswith("openl3") or c in OPENL3_FILES}
        cases.update({c: p for (r, c), p in synth_paths.items() if r == sr})
        (OUT / name).mkdir()
        for case, path in cases.items():
            y, _ = librosa.load(str(path), sr=sr, mono=True)
            y = np.asarray(y, dtype=np.float32)
            stem = f"{name}/{case}"
            np.save(OUT / f"{stem}.wave.npy", y)
            entry = dict(frontend=name, case=case, sr=sr, audio=str(path.relative_to(GEN)),
                         samples=int(y.size), wave=f"frontend/{stem}.wave.npy")
            try:
                r32 = refs.run(name, y, f64=False)
                r64 = refs.run(name, y, f64=True) if name != "wav2vec2" else r32
            except Exception as e:  # the reference refuses this input
                entry["error"] = f"{type(e).__name__}: {str(e).splitlines()[0]}"
                print(f"[gen_frontend] {stem}: reference raises {entry['error']}")
            else:
                np.save(OUT / f"{stem}.ref32.npy", np.asarray(r32, dtype=np.float32))
                np.save(OUT / f"{stem}.ref64.npy", np.asarray(r64, dtype=np.float64))
                entry.update(ref32=f"frontend/{stem}.ref32.npy", ref64=f"frontend/{stem}.ref64.npy",
                             shape=list(r32.shape),
                             max_abs_ref32_vs_ref64=float(np.max(np.abs(r32 - r64), initial=0.0)))
                print(f"[gen_frontend] {stem}: {list(r32.shape)}, "
                      f"float32 vs float64 reference {entry['max_abs_ref32_vs_ref64']:.3g}")
            entries.append(entry)

    import hear21passt, panns_inference, torchaudio, torchlibrosa, torchopenl3, transformers
    versions = {m.__name__: getattr(m, "__version__", "?") for m in
                (torch, torchaudio, librosa, torchlibrosa, hear21passt, torchopenl3,
                 transformers)}
    versions["panns_inference"] = getattr(panns_inference, "__version__", "0.1.1")
    manifest_path.write_text(json.dumps(dict(
        fingerprint=fp, reference=versions, cases=entries, banks=banks,
        librosa_banks=LIBROSA_BANKS, kaldi_banks=KALDI_BANKS), indent=1))
    print(f"[gen_frontend] wrote {len(entries)} cases to {OUT}")


if __name__ == "__main__":
    main()
