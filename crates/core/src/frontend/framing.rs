//! Cutting a signal into frames as it streams in, with the padding each reference applies.
//!
//! * `center=True, pad_mode='reflect'` (torchlibrosa, `torch.stft`): `n_fft / 2` reflected
//!   samples each side *without* repeating the edge sample (`[x2, x1, x0, x1, x2]`); torch
//!   refuses a pad as long as the signal, so the signal must be longer than the pad.
//! * constant (zero) padding either side;
//! * OpenL3's framing (torchopenl3 `center_audio` + `pad_audio`): half a window of zeros in
//!   front, then zeros at the end so that the padded length minus one window is a multiple of
//!   the hop (at least one whole window). torchopenl3 computes that ceiling on a float32
//!   tensor, which drops the last partial window of clips longer than about three minutes; we
//!   use the exact ceiling, as openl3 itself does (in numpy float64).
//!
//! The framer keeps only the samples that the next frames and the right-hand reflection still
//! need, so an hour-long file streams through it in constant memory.

/// Padding in front of the signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftPad {
    /// None.
    None,
    /// This many zeros.
    Zeros(usize),
    /// This many reflected samples (`x[pad], …, x[1]`).
    Reflect(usize),
}

/// Padding after the signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RightPad {
    /// None.
    None,
    /// This many zeros.
    Zeros(usize),
    /// This many reflected samples (`x[N−2], …, x[N−1−pad]`).
    Reflect(usize),
    /// Zeros up to a whole number of hops after the first frame (OpenL3).
    ZerosToHop,
}

/// How a signal is cut into frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// Samples per frame.
    pub frame_len: usize,
    /// Samples between frame starts.
    pub hop: usize,
    /// Padding in front.
    pub left: LeftPad,
    /// Padding at the end.
    pub right: RightPad,
}

impl Framing {
    /// `center=True, pad_mode='reflect'` framing (torch.stft, torchlibrosa): `frame_len / 2`
    /// reflected samples on each side.
    pub fn centered_reflect(frame_len: usize, hop: usize) -> Self {
        Framing {
            frame_len,
            hop,
            left: LeftPad::Reflect(frame_len / 2),
            right: RightPad::Reflect(frame_len / 2),
        }
    }

    /// Fewest input samples the padding allows (reflection needs more samples than the pad).
    pub fn min_samples(&self) -> usize {
        let l = match self.left {
            LeftPad::Reflect(p) => p + 1,
            _ => 0,
        };
        let r = match self.right {
            RightPad::Reflect(p) => p + 1,
            _ => 0,
        };
        l.max(r).max(1)
    }

    /// Frames a signal of `n` samples gives.
    pub fn n_frames(&self, n: usize) -> usize {
        let left = match self.left {
            LeftPad::None => 0,
            LeftPad::Zeros(p) | LeftPad::Reflect(p) => p,
        };
        let padded = left + n;
        let total = padded + self.right_pad_len(padded);
        if total < self.frame_len {
            0
        } else {
            (total - self.frame_len) / self.hop + 1
        }
    }

    fn right_pad_len(&self, padded: usize) -> usize {
        match self.right {
            RightPad::None => 0,
            RightPad::Zeros(p) | RightPad::Reflect(p) => p,
            RightPad::ZerosToHop => {
                if padded < self.frame_len {
                    self.frame_len - padded
                } else {
                    (padded - self.frame_len).div_ceil(self.hop) * self.hop
                        - (padded - self.frame_len)
                }
            }
        }
    }
}

/// A streaming framer: push samples, take the frames that are complete, finish to pad the end.
#[derive(Debug, Clone)]
pub struct Framer {
    spec: Framing,
    /// The padded signal from padded index `base` on.
    buf: Vec<f64>,
    base: usize,
    /// Padded index where the next frame starts.
    next: usize,
    /// Raw samples seen.
    seen: usize,
    /// Whether the left padding is in `buf` (reflection waits for enough samples).
    started: bool,
    finished: bool,
}

impl Framer {
    /// A framer for `spec`.
    pub fn new(spec: Framing) -> Self {
        assert!(spec.hop > 0 && spec.frame_len > 0);
        let mut framer = Framer {
            spec,
            buf: Vec::new(),
            base: 0,
            next: 0,
            seen: 0,
            started: false,
            finished: false,
        };
        // Zeros go in at once; a reflection's slots are reserved and filled once x[p] arrives.
        match spec.left {
            LeftPad::Zeros(p) | LeftPad::Reflect(p) => framer.buf.resize(p, 0.0),
            LeftPad::None => {}
        }
        framer.started = !matches!(spec.left, LeftPad::Reflect(_));
        framer
    }

    /// The framing.
    pub fn spec(&self) -> &Framing {
        &self.spec
    }

    /// Samples held in the buffer (bounded by the frame length, the reflection tail and one
    /// push, whatever the signal's length).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn start_reflect(&mut self) {
        if let LeftPad::Reflect(p) = self.spec.left {
            // buf is [p reserved slots, x[0], x[1], …]; fill the slots with x[p], …, x[1].
            let (pad, raw) = self.buf.split_at_mut(p);
            for (i, slot) in pad.iter_mut().enumerate() {
                *slot = raw[p - i];
            }
        }
        self.started = true;
    }

    /// Make room for `additional` more samples (a whole signal pushed at once).
    pub fn reserve(&mut self, additional: usize) {
        self.buf.reserve(additional + self.spec.frame_len);
    }

    /// Append samples.
    pub fn push(&mut self, samples: &[f32]) {
        self.push_with(samples.len(), |buf| {
            buf.extend(samples.iter().map(|&s| s as f64))
        });
    }

    /// Append `n` samples that `extend` appends to the buffer (no intermediate copy).
    pub fn push_with(&mut self, n: usize, extend: impl FnOnce(&mut Vec<f64>)) {
        debug_assert!(!self.finished);
        let before = self.buf.len();
        extend(&mut self.buf);
        debug_assert_eq!(self.buf.len(), before + n);
        self.seen += n;
        if !self.started {
            if let LeftPad::Reflect(p) = self.spec.left {
                if self.seen > p {
                    self.start_reflect();
                }
            }
        }
    }

    /// Pad the end. The caller checks [`Framing::min_samples`] first; with fewer samples a
    /// reflection cannot be formed and no frames come out.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        if self.seen < self.spec.min_samples() {
            self.buf.clear();
            self.started = false;
            return;
        }
        if !self.started {
            self.start_reflect();
        }
        let padded = self.base + self.buf.len();
        let pad = self.spec.right_pad_len(padded);
        match self.spec.right {
            RightPad::Reflect(p) => {
                let n = self.buf.len();
                for i in 0..p {
                    let v = self.buf[n - 2 - i];
                    self.buf.push(v);
                }
            }
            _ => self.buf.resize(self.buf.len() + pad, 0.0),
        }
    }

    /// The complete frames not yet taken: `(signal, count)` where frame `i` is
    /// `signal[i * hop..][..frame_len]`.
    pub fn ready(&self) -> (&[f64], usize) {
        if !self.started {
            return (&[], 0);
        }
        let start = self.next - self.base;
        let avail = self.buf.len().saturating_sub(start);
        let count = if avail < self.spec.frame_len {
            0
        } else {
            (avail - self.spec.frame_len) / self.spec.hop + 1
        };
        (&self.buf[start.min(self.buf.len())..], count)
    }

    /// Mark `count` ready frames as taken and drop the samples nothing needs any more.
    pub fn consume(&mut self, count: usize) {
        self.next += count * self.spec.hop;
        let end = self.base + self.buf.len();
        let tail = match self.spec.right {
            RightPad::Reflect(p) if !self.finished => p + 1,
            _ => 0,
        };
        let keep_from = self.next.min(end.saturating_sub(tail)).max(self.base);
        let drop = keep_from - self.base;
        // Compact only when it frees a good share, so pushes stay amortised O(1).
        if drop > 0 && (drop >= self.buf.len() / 2 || self.finished) {
            self.buf.drain(..drop);
            self.base = keep_from;
        }
    }
}
