//! A trained model (`earshot train`'s output folder) as an [`AudioModel`]: the backbone its card
//! names, loaded from the checkpoint it was trained on (checked by sha256), with the head on top.
//!
//! What the head sees is what it was trained on ([`clip_rows`]): the backbone's frame
//! embeddings of the clip, or, for a model trained on `--window`s, one embedding per window
//! (the mean of that window's frames). Tagging scores the mean of those rows (windows: the mean
//! of the windows' probabilities); detection scores each row, so a backbone with frames (YAMNet
//! every 0.48 s, OpenL3 every 0.1 s, wav2vec 2.0 every 20 ms) or a windowed model gives events.
//! `embed` is the backbone's own.

use std::path::Path;

use earshot_core::embedding_cache::Cached;
use earshot_core::outputs::{ClipOutput, EmbedOptions, Embeddings, Layers};
use earshot_core::registry::trained::{TrainedCard, HEAD_FILE};

use crate::tasks::head::{Head, HeadKind};
use crate::{AudioModel, ModelError, Result};

/// The head's input rows for one clip (see the module notes).
pub fn clip_rows(
    backbone: &dyn AudioModel,
    samples: &[f32],
    options: &EmbedOptions,
    window: Option<(f64, Option<f64>)>,
) -> Result<Cached> {
    let Some((window, hop)) = window else {
        let e = backbone.embed(samples, options)?;
        return frames_of(&e);
    };
    let sr = f64::from(backbone.sample_rate());
    let win = ((window * sr).round() as usize).max(1);
    let step = ((hop.unwrap_or(window) * sr).round() as usize).max(1);
    let mut out = Cached {
        frames: Vec::new(),
        dim: 0,
        timestamps: Vec::new(),
    };
    let mut start = 0;
    loop {
        let end = (start + win).min(samples.len());
        let w = crate::pad_to(&samples[start..end], backbone.min_samples());
        let e = backbone.embed(&w, options)?;
        let scene = e.scene;
        out.dim = scene.len();
        out.frames.extend_from_slice(&scene);
        out.timestamps.push((start + end) as f64 / 2.0 / sr);
        if end >= samples.len() {
            break;
        }
        start += step;
    }
    Ok(out)
}

/// An [`Embeddings`]' frames as rows (one hidden state only).
fn frames_of(e: &Embeddings) -> Result<Cached> {
    if e.shape.len() != 2 {
        return Err(ModelError::Unsupported(format!(
            "a head takes one hidden state; the backbone gave shape {:?} (use --layer last or N)",
            e.shape
        )));
    }
    Ok(Cached {
        frames: e.frames.clone(),
        dim: e.shape[1],
        timestamps: e.timestamps.clone(),
    })
}

/// A card's `layer` (`last` or an index) as [`Layers`].
pub fn parse_layer(layer: &str) -> Option<Layers> {
    match layer {
        "last" => Some(Layers::Last),
        n => n.parse().ok().map(Layers::Index),
    }
}

/// A backbone with a trained head.
pub struct TrainedModel {
    backbone: Box<dyn AudioModel>,
    head: Head,
    options: EmbedOptions,
    window: Option<(f64, Option<f64>)>,
}

impl TrainedModel {
    /// Put the head of the model folder `dir` (its card already read) on `backbone`.
    pub fn new(dir: &Path, card: &TrainedCard, backbone: Box<dyn AudioModel>) -> Result<Self> {
        let bad = |why: String| ModelError::Unsupported(format!("{}: {why}", dir.display()));
        let kind = match (card.head.kind.as_str(), card.head.hidden) {
            ("linear", _) => HeadKind::Linear,
            ("mlp", Some(h)) if h > 0 => HeadKind::Mlp(h),
            (kind, _) => return Err(bad(format!("head kind {kind:?} (hidden units needed)"))),
        };
        let layers = parse_layer(&card.backbone.layer)
            .ok_or_else(|| bad(format!("layer {:?}", card.backbone.layer)))?;
        let head = Head::load(
            &dir.join(HEAD_FILE),
            kind,
            card.backbone.embedding_dim,
            card.labels.len(),
            card.head.multi_label,
        )
        .map_err(|e| bad(format!("{HEAD_FILE}: {e}")))?;
        Ok(TrainedModel {
            backbone,
            head,
            options: EmbedOptions {
                layers,
                ..EmbedOptions::default()
            },
            window: card.backbone.window.map(|w| (w, card.backbone.hop)),
        })
    }

    fn run_one(&self, samples: &[f32]) -> Result<ClipOutput> {
        let rows = clip_rows(self.backbone.as_ref(), samples, &self.options, self.window)?;
        if rows.dim != self.head.dim() {
            return Err(ModelError::Unsupported(format!(
                "the backbone gives {}-d embeddings; the head takes {}",
                rows.dim,
                self.head.dim()
            )));
        }
        let per_row: Vec<Vec<f32>> = rows.frames.chunks(rows.dim).map(<[f32]>::to_vec).collect();
        let framewise = self.head.predict(&per_row).map_err(head_err)?;
        let mean = rows.mean();
        let clipwise = if self.window.is_some() {
            let k = self.head.classes();
            let mut acc = vec![0f32; k];
            framewise
                .iter()
                .for_each(|p| acc.iter_mut().zip(p).for_each(|(a, v)| *a += v));
            acc.iter_mut().for_each(|a| *a /= framewise.len() as f32);
            acc
        } else {
            self.head
                .predict(std::slice::from_ref(&mean))
                .map_err(head_err)?
                .remove(0)
        };
        let ts = &rows.timestamps;
        let frame_hop = if ts.len() >= 2 {
            ts[1] - ts[0]
        } else {
            samples.len() as f64 / f64::from(self.sample_rate())
        };
        Ok(ClipOutput {
            duration: samples.len() as f64 / f64::from(self.sample_rate()),
            clipwise,
            embedding: Some(mean),
            framewise: Some(framewise.concat()),
            frame_hop,
        })
    }
}

fn head_err(e: crate::tasks::head::HeadError) -> ModelError {
    ModelError::Unsupported(format!("head: {e}"))
}

impl AudioModel for TrainedModel {
    fn sample_rate(&self) -> u32 {
        self.backbone.sample_rate()
    }

    fn min_samples(&self) -> usize {
        self.backbone.min_samples()
    }

    fn run_batch(&self, clips: &[&[f32]]) -> Result<Vec<ClipOutput>> {
        clips.iter().map(|c| self.run_one(c)).collect()
    }

    fn classes(&self) -> usize {
        self.head.classes()
    }

    fn embed(&self, samples: &[f32], options: &EmbedOptions) -> Result<Embeddings> {
        self.backbone.embed(samples, options)
    }

    fn embed_batch(&self, clips: &[&[f32]], options: &EmbedOptions) -> Result<Vec<Embeddings>> {
        self.backbone.embed_batch(clips, options)
    }

    fn is_sed(&self) -> bool {
        true
    }

    fn frame_hop(&self) -> f64 {
        self.window
            .map_or(self.backbone.frame_hop(), |(w, h)| h.unwrap_or(w))
    }

    fn mel_band(&self) -> Option<earshot_core::outputs::MelBand> {
        self.backbone.mel_band()
    }

    fn logmel(&self, samples: &[f32]) -> Result<(Vec<f32>, usize)> {
        self.backbone.logmel(samples)
    }
}
