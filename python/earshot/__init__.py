"""earshot from Python: the Rust core's audio loading, front ends, models and metrics with numpy
arrays in and out, plus the HEAR 2021 API (``earshot.hear``).

>>> import earshot
>>> y, sr = earshot.load_audio("dog.wav", sr=32000)
>>> model = earshot.load_model("cnn14")
>>> scores = model.tag(y, sr)                      # (527,) clip probabilities
>>> model.labels[scores.argmax()]

Signals may be numpy arrays, torch tensors or file paths; a 2-D (channels, samples) signal is
averaged to mono as ``librosa.to_mono`` does, and resampled to the model's rate with soxr HQ
(``librosa.resample``) when ``sr`` differs. Errors raise ``FileNotFoundError``, ``ValueError`` or
``earshot.EarshotError`` with the CLI's one-line message.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence, Union

# The extension links the torch wheel's libtorch: load it first, from the wheel itself.
import torch  # noqa: F401
import numpy as np

from . import _earshot
from ._earshot import EarshotError, __version__, frontends, models

Signal = Union[np.ndarray, "torch.Tensor", str, os.PathLike, Sequence[float]]

__all__ = [
    "EarshotError",
    "Model",
    "features",
    "frontends",
    "load_audio",
    "load_model",
    "models",
    "metrics",
    "hear",
]


def load_audio(path: str | os.PathLike, sr: int | None = None, mono: bool = True) -> tuple[np.ndarray, int]:
    """Decode an audio file as ``librosa.load(path, sr=sr, mono=mono)`` does: float32 samples
    (1-D, or channels × samples when ``mono=False`` and the file has several) and the rate."""
    return _earshot.load_audio(os.fspath(path), sr, mono)


def _mono(y: Any, sr: int | None, want_sr: int | None) -> tuple[np.ndarray, int]:
    """A contiguous mono float32 signal and its rate, from an array, a tensor or a path."""
    if isinstance(y, (str, os.PathLike)):
        return load_audio(y, sr=want_sr if sr is None else sr)
    if sr is None:
        raise ValueError("sr is needed with a signal (it is read from the file only for paths)")
    if isinstance(y, torch.Tensor):
        y = y.detach().to("cpu", torch.float32).numpy()
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=0)
    if y.ndim != 1:
        raise ValueError(f"a signal is 1-D (samples) or 2-D (channels, samples), not {y.ndim}-D")
    return np.ascontiguousarray(y), int(sr)


def features(y: Signal, sr: int | None, frontend: str) -> np.ndarray:
    """The features of one of earshot's front ends (``earshot.frontends()``: panns, passt,
    openl3-mel256, yamnet, kaldi-fbank, ...), as the backbone's own front end computes them:
    frames × bins (OpenL3: windows × bins × frames)."""
    y, sr = _mono(y, sr, None)
    return _earshot.features(y, sr, frontend)


class Model:
    """A model from its card (``earshot.models()``). Attributes: ``name``, ``sample_rate``,
    ``labels`` (class names of the head, empty for embedding models), ``is_sed`` (framewise
    output for ``detect``)."""

    def __init__(self, inner: _earshot.Model):
        self._inner = inner
        self.name: str = inner.name
        self.sample_rate: int = inner.sample_rate
        self.labels: list[str] = list(inner.labels)
        self.is_sed: bool = inner.is_sed

    def __repr__(self) -> str:
        return repr(self._inner)

    def tag(self, y: Signal, sr: int | None = None) -> np.ndarray:
        """Clip probabilities, shape (classes,)."""
        y, sr = _mono(y, sr, self.sample_rate)
        return self._inner.tag(y, sr)

    def tag_batch(self, ys: Sequence[Signal], sr: int | None = None) -> np.ndarray:
        """Clip probabilities of several signals, clips × classes (equal lengths run as one
        batch)."""
        signals = [_mono(y, sr, self.sample_rate) for y in ys]
        rates = {r for _, r in signals}
        if len(rates) > 1:
            raise ValueError(f"tag_batch needs one sample rate, got {sorted(rates)}")
        if not signals:
            return np.zeros((0, len(self.labels)), np.float32)
        return self._inner.tag_batch([y for y, _ in signals], rates.pop())

    def detect(
        self,
        y: Signal,
        sr: int | None = None,
        threshold: float | Sequence[float] | Mapping[str, float] = 0.5,
        median_filter: int = 7,
    ) -> list[dict]:
        """Sound events as ``earshot detect`` finds them: dicts with onset, offset (seconds),
        label and score. ``threshold``: one value, one per class, or {label: value} (others 0.5);
        ``median_filter`` in frames (1: off)."""
        if isinstance(threshold, Mapping):
            unknown = set(threshold) - set(self.labels)
            if unknown:
                raise ValueError(f"threshold: unknown labels {sorted(unknown)}")
            thresholds = [float(threshold.get(label, 0.5)) for label in self.labels]
        elif np.ndim(threshold) == 0:
            thresholds = [float(threshold)]
        else:
            thresholds = [float(t) for t in threshold]
        y, sr = _mono(y, sr, self.sample_rate)
        return self._inner.detect(y, sr, thresholds, int(median_filter))

    def embed(
        self,
        y: Signal,
        sr: int | None = None,
        layer: str | int = "last",
        hop: float | None = None,
        center: bool | None = None,
    ) -> dict:
        """Embeddings: a dict with ``embedding`` (frames × dim; layers × frames × dim with
        ``layer="all"``), ``timestamps`` (seconds) and ``scene`` (their mean, as the reference
        pools it). ``layer``: "last", "all" or a hidden-state index (speech models); ``hop`` and
        ``center`` as ``earshot embed`` (OpenL3)."""
        y, sr = _mono(y, sr, self.sample_rate)
        return self._inner.embed(y, sr, layer, hop, center)


def load_model(
    name_or_path: str | os.PathLike,
    checkpoint: str | os.PathLike | None = None,
    device: str = "cpu",
    precision: str = "fp32",
    quantized: bool = False,
) -> Model:
    """Load a model by card name (``earshot.models()``; its cached checkpoint, or
    ``checkpoint``), or from a checkpoint path whose file name is a card's
    (``Cnn14_mAP=0.431.pth``, ``yamnet.h5``), or a model folder ``earshot train`` wrote
    (or the name it was installed under): its head on its backbone, tagging and detecting its
    own labels. ``device``: cpu, cuda, cuda:N or auto; ``precision``: fp32, bf16 or fp16."""
    ckpt = None if checkpoint is None else os.fspath(checkpoint)
    return Model(_earshot.load_model(os.fspath(name_or_path), ckpt, device, precision, quantized))


from . import hear, metrics  # noqa: E402
