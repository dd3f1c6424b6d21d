//! What the tasks on top of the backbones give: clip tagging, sound event detection and
//! embeddings.
//!
//! A task (in `earshot-models`) returns these typed results ([`ClipOutput`], [`Embeddings`],
//! [`Event`]); turning them into tables, JSON, CSV, TSV or npy is the writers' job. Post-processing follows the DCASE baselines: per-class
//! thresholds on median-filtered framewise probabilities (scipy's `median_filter` with its
//! default `reflect` edges, as the DESED baseline applies it), then contiguous runs become events.

/// What a model gives for one clip.
#[derive(Debug, Clone)]
pub struct ClipOutput {
    /// Clip duration in seconds (after decoding and resampling).
    pub duration: f64,
    /// Class probabilities.
    pub clipwise: Vec<f32>,
    /// Embedding, when the model has one.
    pub embedding: Option<Vec<f32>>,
    /// Framewise probabilities (frames × classes, row-major), when the model gives them.
    pub framewise: Option<Vec<f32>>,
    /// Seconds between frames of `framewise`.
    pub frame_hop: f64,
}

impl ClipOutput {
    /// Events as `earshot detect` finds them: each class's framewise probabilities median-filtered
    /// over `median` frames (1: off), then thresholded ([`events`]; `thresholds` per class, or
    /// one for all). No events for a model without framewise output.
    pub fn events(&self, thresholds: &[f32], median: usize) -> Vec<Event> {
        let (frames, classes) = (self.frames(), self.classes());
        let framewise = self.framewise.as_deref().unwrap_or_default();
        let filtered = median_filter(framewise, frames, classes, median);
        events(
            &filtered,
            frames,
            classes,
            thresholds,
            self.frame_hop,
            self.duration,
        )
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.clipwise.len()
    }

    /// Number of frames in `framewise`.
    pub fn frames(&self) -> usize {
        self.framewise
            .as_ref()
            .map_or(0, |f| f.len() / self.classes().max(1))
    }
}

/// The frequency range of a log-mel front end, for plot axes.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MelBand {
    /// Lowest band edge, Hz.
    pub low: f64,
    /// Highest band edge, Hz.
    pub high: f64,
    /// HTK's mel scale (`2595 log10(1 + f/700)`, YAMNet, Kaldi fbanks); otherwise Slaney's
    /// (linear below 1 kHz, librosa's default, PANNs).
    pub htk: bool,
}

/// What a backbone's `embed` produces; `None` fields take the model's own defaults.
#[derive(Debug, Clone, Default)]
pub struct EmbedOptions {
    /// Seconds between frame embeddings (OpenL3's window hop, for instance).
    pub hop: Option<f64>,
    /// Pad the signal so the first frame is centred on time 0, as the reference's `center`.
    pub center: Option<bool>,
    /// Hidden states to return, for models with several layers.
    pub layers: Layers,
}

/// Which hidden states of a layered model to return.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Layers {
    /// The model's own output (its last hidden state).
    #[default]
    Last,
    /// Every hidden state, input embeddings first, as transformers' `output_hidden_states`.
    All,
    /// One hidden state by index (0 = the input embeddings).
    Index(usize),
}

/// Time-stamped embeddings of one clip (the HEAR 2021 pair of timestamp and scene embeddings).
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// Frame embeddings, row-major in `shape`: (frames, dim), or (layers, frames, dim) for
    /// models that return several hidden states.
    pub frames: Vec<f32>,
    /// Shape of `frames`; the frame axis is the second to last.
    pub shape: Vec<usize>,
    /// Time in seconds of each frame, as the reference reports it (PANNs windows and PaSST:
    /// the centre; OpenL3: the window start, which is its centre when `center` padding is on).
    pub timestamps: Vec<f64>,
    /// Scene (clip) embedding: `shape` without the frame axis, row-major.
    pub scene: Vec<f32>,
}

impl Embeddings {
    /// Shape of `scene`.
    pub fn scene_shape(&self) -> Vec<usize> {
        let mut s = self.shape.clone();
        if s.len() >= 2 {
            s.remove(s.len() - 2);
        }
        s
    }

    /// Mean over frames, per layer: the usual pooled (scene) embedding of frame features.
    pub fn mean_over_frames(frames: &[f32], shape: &[usize]) -> Vec<f32> {
        let dim = *shape.last().unwrap_or(&0);
        let n = if shape.len() >= 2 {
            shape[shape.len() - 2]
        } else {
            1
        };
        let layers = shape.iter().rev().skip(2).product::<usize>().max(1);
        let mut out = vec![0f32; layers * dim];
        for l in 0..layers {
            let mut acc = vec![0f64; dim];
            for f in 0..n {
                let row = &frames[(l * n + f) * dim..(l * n + f + 1) * dim];
                acc.iter_mut().zip(row).for_each(|(a, &x)| *a += x as f64);
            }
            for (o, a) in out[l * dim..(l + 1) * dim].iter_mut().zip(acc) {
                *o = (a / n.max(1) as f64) as f32;
            }
        }
        out
    }
}

/// The `k` highest scores as (class index, score), highest first; ties keep the lower index first.
pub fn top_k(scores: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order.into_iter().take(k).map(|i| (i, scores[i])).collect()
}

/// A detected event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Start in seconds.
    pub onset: f64,
    /// End in seconds.
    pub offset: f64,
    /// Class index.
    pub class: usize,
    /// Highest (filtered) probability inside the event.
    pub score: f32,
}

/// Median filter along time for each class of a frames × classes matrix, window `size` frames,
/// with scipy.ndimage's default `reflect` edge mode (d c b a | a b c d | d c b a) and its rank
/// `size / 2` (the upper median for even sizes).
pub fn median_filter(matrix: &[f32], frames: usize, classes: usize, size: usize) -> Vec<f32> {
    if size <= 1 || frames == 0 {
        return matrix.to_vec();
    }
    let before = size / 2;
    let reflect = |i: isize| -> usize {
        let n = frames as isize;
        let mut i = i;
        // Repeated reflection covers windows longer than the signal.
        loop {
            if i < 0 {
                i = -i - 1;
            } else if i >= n {
                i = 2 * n - i - 1;
            } else {
                return i as usize;
            }
        }
    };
    let mut out = vec![0f32; matrix.len()];
    let mut window = Vec::with_capacity(size);
    for c in 0..classes {
        for t in 0..frames {
            window.clear();
            for k in 0..size {
                let src = reflect(t as isize - before as isize + k as isize);
                window.push(matrix[src * classes + c]);
            }
            window.sort_by(f32::total_cmp);
            out[t * classes + c] = window[size / 2];
        }
    }
    out
}

/// Contiguous runs of frames whose probability is at least the class threshold become events:
/// onset = first frame × hop, offset = (last frame + 1) × hop, cut at `duration`.
pub fn events(
    framewise: &[f32],
    frames: usize,
    classes: usize,
    thresholds: &[f32],
    frame_hop: f64,
    duration: f64,
) -> Vec<Event> {
    let mut out = Vec::new();
    for c in 0..classes {
        let threshold = thresholds[c.min(thresholds.len() - 1)];
        let mut start: Option<(usize, f32)> = None;
        for t in 0..=frames {
            let p = if t < frames {
                framewise[t * classes + c]
            } else {
                f32::NEG_INFINITY
            };
            match (&mut start, p >= threshold) {
                (None, true) => start = Some((t, p)),
                (Some((_, best)), true) => *best = best.max(p),
                (Some((t0, best)), false) => {
                    out.push(Event {
                        onset: *t0 as f64 * frame_hop,
                        offset: (t as f64 * frame_hop).min(duration),
                        class: c,
                        score: *best,
                    });
                    start = None;
                }
                (None, false) => {}
            }
        }
    }
    out.sort_by(|a, b| a.onset.total_cmp(&b.onset).then(a.class.cmp(&b.class)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_by_score_then_index() {
        assert_eq!(
            top_k(&[0.1, 0.9, 0.5, 0.9], 3),
            vec![(1, 0.9), (3, 0.9), (2, 0.5)]
        );
    }

    #[test]
    fn median_filter_reflects_at_edges() {
        // One class; scipy.ndimage.median_filter([1, 9, 2, 8, 3], size=3) = [1, 2, 8, 3, 3].
        let x = [1.0, 9.0, 2.0, 8.0, 3.0];
        assert_eq!(median_filter(&x, 5, 1, 3), vec![1.0, 2.0, 8.0, 3.0, 3.0]);
        // size=4: scipy gives [9, 2, 8, 8, 3]; two classes side by side are filtered apart.
        assert_eq!(median_filter(&x, 5, 1, 4), vec![9.0, 2.0, 8.0, 8.0, 3.0]);
        let two = [1.0, 5.0, 9.0, 4.0, 2.0, 3.0, 8.0, 2.0, 3.0, 1.0];
        assert_eq!(
            median_filter(&two, 5, 2, 4),
            vec![9.0, 5.0, 2.0, 5.0, 8.0, 4.0, 8.0, 3.0, 3.0, 2.0]
        );
    }

    #[test]
    fn events_are_runs_above_threshold() {
        // Two classes, six frames of 0.5 s.
        let f = [0.9, 0.1, 0.8, 0.1, 0.1, 0.7, 0.1, 0.7, 0.6, 0.1, 0.7, 0.1];
        let ev = events(&f, 6, 2, &[0.5], 0.5, 2.9);
        assert_eq!(
            ev,
            vec![
                Event {
                    onset: 0.0,
                    offset: 1.0,
                    class: 0,
                    score: 0.9
                },
                Event {
                    onset: 1.0,
                    offset: 2.0,
                    class: 1,
                    score: 0.7
                },
                Event {
                    onset: 2.0,
                    offset: 2.9,
                    class: 0,
                    score: 0.7
                },
            ]
        );
    }
}
