//! Shared plumbing of `tag`, `detect` and `embed`: choosing and loading a model, and feeding it
//! decoded clips while the next files decode on another thread.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::{bail, Context, Result};
use clap::Args;
use tch::Tensor;

use super::Input;
use crate::audio::{self, LoadOptions, Waveform};
use crate::models::panns;
use crate::tasks::ClipOutput;

/// Which model, from which file.
#[derive(Debug, Args, Clone)]
pub struct ModelArgs {
    /// Model name (`earshot models list`): cnn14, cnn14-16k, cnn14-8k, cnn10, cnn6, resnet22,
    /// resnet38, resnet54, mobilenetv1, mobilenetv2, wavegram-logmel-cnn14,
    /// cnn14-decisionlevelmax, cnn14-decisionlevelatt.
    #[arg(long, default_value = "cnn14")]
    pub model: String,
    /// Checkpoint file in the authors' format (e.g. `Cnn14_mAP=0.431.pth`); default: the cached
    /// download of the model (`earshot models fetch NAME`).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
}

/// A loaded backbone ready to run clips.
pub struct Backbone {
    /// Registry name.
    pub name: String,
    model: panns::Loaded,
    device: tch::Device,
}

impl Backbone {
    /// Resolve the model name and checkpoint, then load it strictly.
    pub fn load(args: &ModelArgs, device: tch::Device) -> Result<Backbone> {
        let name = args.model.to_ascii_lowercase();
        let cfg = panns::Config::preset(&name).with_context(|| {
            format!(
                "unknown model {:?} (known: {})",
                args.model,
                panns::Config::PRESETS.join(", ")
            )
        })?;
        let path = match &args.checkpoint {
            Some(p) => p.clone(),
            None => crate::models::registry::resolve_checkpoint(&name)?,
        };
        let model =
            panns::load(&path, &cfg, device).with_context(|| format!("{}", path.display()))?;
        Ok(Backbone {
            name,
            model,
            device,
        })
    }

    /// The model's input rate.
    pub fn sample_rate(&self) -> u32 {
        self.model.model.config().sample_rate
    }

    /// Seconds between framewise outputs.
    pub fn frame_hop(&self) -> f64 {
        let cfg = self.model.model.config();
        cfg.hop_size as f64 / cfg.sample_rate as f64
    }

    /// The smallest input the model accepts (the reflect padding needs more than n_fft/2).
    fn min_samples(&self) -> usize {
        self.model.model.config().window_size as usize / 2 + 1
    }

    /// Run one clip (mono, at [`Backbone::sample_rate`]) as the reference does: one forward pass
    /// over the whole clip.
    pub fn run(&self, samples: &[f32]) -> Result<ClipOutput> {
        let mut outs = self.run_batch(&[samples])?;
        Ok(outs.pop().expect("one output per clip"))
    }

    /// Run clips of equal length as one batch.
    pub fn run_batch(&self, clips: &[&[f32]]) -> Result<Vec<ClipOutput>> {
        let len = clips.first().map_or(0, |c| c.len());
        if clips.iter().any(|c| c.len() != len) {
            bail!("clips in a batch must have equal lengths");
        }
        if len < self.min_samples() {
            bail!(
                "too short: {len} samples, the model needs at least {}",
                self.min_samples()
            );
        }
        let wave = Tensor::stack(
            &clips
                .iter()
                .map(|c| Tensor::from_slice(c))
                .collect::<Vec<_>>(),
            0,
        )
        .to_device(self.device);
        let out = tch::no_grad(|| self.model.model.forward(&wave));
        let rows = |t: &Tensor| -> Result<Vec<Vec<f32>>> {
            let t = t.to_device(tch::Device::Cpu).to_kind(tch::Kind::Float);
            (0..clips.len() as i64)
                .map(|i| Ok(Vec::<f32>::try_from(t.get(i).flatten(0, -1))?))
                .collect()
        };
        let clipwise = rows(&out.clipwise)?;
        let mut embedding = out
            .embedding
            .as_ref()
            .map(rows)
            .transpose()?
            .map(Vec::into_iter);
        let mut framewise = out
            .framewise
            .as_ref()
            .map(rows)
            .transpose()?
            .map(Vec::into_iter);
        Ok(clipwise
            .into_iter()
            .map(|clipwise| ClipOutput {
                duration: len as f64 / self.sample_rate() as f64,
                clipwise,
                embedding: embedding.as_mut().and_then(Iterator::next),
                framewise: framewise.as_mut().and_then(Iterator::next),
                frame_hop: self.frame_hop(),
            })
            .collect())
    }

    /// Whether the model gives framewise output.
    pub fn is_sed(&self) -> bool {
        self.model.model.config().arch.is_sed()
    }

    /// Log-mel spectrogram (frames × mel, dB) of a clip, for plots.
    pub fn logmel(&self, samples: &[f32]) -> Result<(Vec<f32>, usize)> {
        let wave = Tensor::from_slice(samples)
            .unsqueeze(0)
            .to_device(self.device);
        let mel = tch::no_grad(|| self.model.model.logmel(&wave)).squeeze_dim(0);
        let bins = mel.size()[1] as usize;
        Ok((
            Vec::<f32>::try_from(mel.to_device(tch::Device::Cpu).flatten(0, -1))?,
            bins,
        ))
    }
}

/// Decode `files` (from [`expand_inputs`]) at `sample_rate`, mono, on a background thread that
/// stays up to two clips ahead, and hand each (path, result) to `each` in input order.
pub fn for_each_clip(
    files: Vec<Input>,
    sample_rate: u32,
    mut each: impl FnMut(&Path, Result<Waveform>) -> Result<()>,
) -> Result<()> {
    let (tx, rx) = mpsc::sync_channel::<(PathBuf, Result<Waveform>)>(2);
    let producer = std::thread::spawn(move || {
        for (path, problem) in files {
            let item = match problem {
                Some(problem) => Err(anyhow::anyhow!(problem)),
                None => {
                    audio::load(&path, LoadOptions::mono(sample_rate)).map_err(anyhow::Error::from)
                }
            };
            if tx.send((path, item)).is_err() {
                break;
            }
        }
    });
    let mut result = Ok(());
    for (path, item) in rx {
        if let Err(e) = each(&path, item) {
            result = Err(e);
            break;
        }
    }
    drop(producer.join());
    result
}

/// Decode `files` and run the model on them, up to `batch_size` consecutive clips of equal length
/// per forward pass (10-s clips from a dataset batch fully; mixed lengths run one by one).
/// `each` gets every input in order, with its output or its error.
pub fn run_batched(
    backbone: &Backbone,
    files: Vec<Input>,
    batch_size: usize,
    mut each: impl FnMut(&Path, Result<ClipOutput>),
) -> Result<()> {
    let mut pending: Vec<(PathBuf, Vec<f32>)> = Vec::new();
    let flush = |pending: &mut Vec<(PathBuf, Vec<f32>)>,
                 each: &mut dyn FnMut(&Path, Result<ClipOutput>)| {
        if pending.is_empty() {
            return;
        }
        let clips: Vec<&[f32]> = pending.iter().map(|(_, s)| s.as_slice()).collect();
        match backbone.run_batch(&clips) {
            Ok(outs) => pending
                .iter()
                .zip(outs)
                .for_each(|((p, _), o)| each(p, Ok(o))),
            // Attribute a failure to its own clip.
            Err(_) => pending.iter().for_each(|(p, s)| each(p, backbone.run(s))),
        }
        pending.clear();
    };
    for_each_clip(files, backbone.sample_rate(), |path, wave| {
        match wave {
            Err(e) => {
                flush(&mut pending, &mut each);
                each(path, Err(e));
            }
            Ok(w) => {
                if pending
                    .first()
                    .is_some_and(|(_, s)| s.len() != w.samples.len())
                    || pending.len() >= batch_size.max(1)
                {
                    flush(&mut pending, &mut each);
                }
                pending.push((path.to_path_buf(), w.samples));
            }
        }
        Ok(())
    })?;
    flush(&mut pending, &mut each);
    Ok(())
}
