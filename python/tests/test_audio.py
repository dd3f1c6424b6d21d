"""earshot.load_audio against librosa.load, earshot.features against the backbones' own front
ends, and bad inputs raising with the file named."""

import librosa
import numpy as np
import pytest
import torch

import earshot
from conftest import GEN

AUDIO = sorted((GEN / "audio").iterdir())


@pytest.mark.parametrize("path", AUDIO, ids=[p.name for p in AUDIO])
@pytest.mark.parametrize("sr,mono", [(None, True), (16000, True), (32000, False)])
def test_load_audio_is_librosa_load(path, sr, mono):
    y, rate = earshot.load_audio(path, sr=sr, mono=mono)
    ref, ref_rate = librosa.load(path, sr=sr, mono=mono)
    assert rate == ref_rate
    assert y.dtype == np.float32 and y.shape == ref.shape
    assert np.abs(y - ref).max() <= 1e-4


def test_panns_features_are_torchlibrosa_logmel():
    from torchlibrosa.stft import LogmelFilterBank, Spectrogram
    y, sr = earshot.load_audio(GEN / "audio" / "speech_s16_16k.wav", sr=32000)
    ours = earshot.features(y, sr, "panns")
    spec = Spectrogram(n_fft=1024, hop_length=320, win_length=1024, window="hann", center=True,
                       pad_mode="reflect", freeze_parameters=True)
    mel = LogmelFilterBank(sr=32000, n_fft=1024, n_mels=64, fmin=50, fmax=14000, ref=1.0,
                           amin=1e-10, top_db=None, freeze_parameters=True)
    # torchlibrosa in float64, as tests/gen_frontend.py runs it: earshot's front end computes in
    # float64 too, and float32 torchlibrosa is itself ~2e-3 dB off in quiet bins.
    with torch.no_grad():
        ref = mel.double()(spec.double()(torch.from_numpy(y.astype(np.float64))[None]))[0, 0].numpy()
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() <= 1e-3  # dB


def test_features_resample_and_accept_tensors_and_paths():
    path = GEN / "audio" / "speech_s16_22k.wav"
    y, sr = earshot.load_audio(path)
    at16, _ = earshot.load_audio(path, sr=16000)
    want = earshot.features(at16, 16000, "kaldi-fbank")
    assert np.array_equal(earshot.features(y, sr, "kaldi-fbank"), want)
    assert np.array_equal(earshot.features(torch.from_numpy(at16), 16000, "kaldi-fbank"), want)
    assert np.array_equal(earshot.features(str(path), None, "yamnet"),
                          earshot.features(at16, 16000, "yamnet"))


def test_bad_inputs_raise_with_the_file_named(tmp_path):
    missing = tmp_path / "nope.wav"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        earshot.load_audio(missing)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 4)
    with pytest.raises(earshot.EarshotError, match=str(junk)):
        earshot.load_audio(junk)
    with pytest.raises(ValueError, match="unknown front end|unknown"):
        earshot.features(np.zeros(16000, np.float32), 16000, "no-such-frontend")
    with pytest.raises(ValueError, match="sr is needed"):
        earshot.features(np.zeros(16000, np.float32), None, "yamnet")
    with pytest.raises(ValueError, match="non-finite"):
        earshot.features(np.full(16000, np.nan, np.float32), 16000, "yamnet")
