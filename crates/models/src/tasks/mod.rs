//! The tasks over a loaded backbone: loading a model from its card ([`LoadedModel::load`]), and
//! feeding it decoded clips — whole, batched, or as windows of a long file — while the next
//! files decode on another thread ([`for_each_clip`], [`run_batched`], [`stream_windows`]);
//! a long file tagged or embedded window by window, pooled ([`tag_windows`], [`embed_windows`]).
//! The CLI's `tag`, `detect`, `embed`, `transcribe` and `eval run` are built on these.

pub mod head;
pub mod probe;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::device::{slow_precision, Autocast, Precision};
use crate::{openl3, panns, passt, wav2vec2, yamnet, AudioModel, EmbedOptions};
use earshot_core::audio::{self, LoadOptions, Waveform};
use earshot_core::inputs::Input;
use earshot_core::labels::{Labels, VOCABULARIES};
use earshot_core::outputs::{ClipOutput, Embeddings};
use earshot_core::registry;

/// Which model, from which file, run how: what the CLI's model flags resolve to.
#[derive(Debug, Clone)]
pub struct ModelRequest {
    /// Model card name (`earshot models list`).
    pub name: String,
    /// Checkpoint file (or Hugging Face folder) in the authors' format; `None`: the cached
    /// download of the card's checkpoint.
    pub checkpoint: Option<PathBuf>,
    /// Precision of the model passes.
    pub precision: Precision,
    /// Run a QDQ ONNX export as written (YAMNet only).
    pub quantized: bool,
}

/// Where a run's time went, for `--timings`: nanoseconds and counts, summed over threads.
pub struct Timings {
    load_ns: AtomicU64,
    decode_ns: AtomicU64,
    decoded: AtomicU64,
    model_ns: AtomicU64,
    clips: AtomicU64,
    passes: AtomicU64,
}

pub static TIMINGS: Timings = Timings {
    load_ns: AtomicU64::new(0),
    decode_ns: AtomicU64::new(0),
    decoded: AtomicU64::new(0),
    model_ns: AtomicU64::new(0),
    clips: AtomicU64::new(0),
    passes: AtomicU64::new(0),
};

/// How window scores pool into one clip score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowPool {
    /// Average over windows.
    Mean,
    /// Maximum over windows.
    Max,
}

/// Tag a file window by window as it decodes (`window` seconds every `hop`, default the window)
/// and pool the window scores (embeddings are averaged): memory holds one window, not the file,
/// so an archive's multi-hour recordings tag in bounded memory.
pub fn tag_windows(
    model: &LoadedModel,
    path: &Path,
    window: f64,
    hop: Option<f64>,
    pool: WindowPool,
) -> Result<ClipOutput> {
    let sr = model.sample_rate();
    let mut pooled: Option<ClipOutput> = None;
    let mut count = 0usize;
    let total = stream_windows(path, sr, window, hop, |samples, _| {
        let out = model.run(&model.padded_window(samples))?;
        pooled = Some(match pooled.take() {
            None => out,
            Some(mut acc) => {
                for (a, b) in acc.clipwise.iter_mut().zip(&out.clipwise) {
                    *a = match pool {
                        WindowPool::Mean => *a + b,
                        WindowPool::Max => a.max(*b),
                    };
                }
                if let (Some(a), Some(b)) = (acc.embedding.as_mut(), out.embedding.as_ref()) {
                    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                }
                acc
            }
        });
        count += 1;
        Ok(())
    })?;
    let mut out = pooled.expect("at least one window");
    if pool == WindowPool::Mean {
        out.clipwise.iter_mut().for_each(|v| *v /= count as f32);
    }
    if let Some(e) = out.embedding.as_mut() {
        e.iter_mut().for_each(|v| *v /= count as f32);
    }
    out.duration = total as f64 / f64::from(sr);
    out.framewise = None;
    Ok(out)
}

/// One embedding frame per `--window` of the file, streamed (one window in memory), stamped
/// at the window's centre; the scene embedding is their mean.
pub fn embed_windows(
    model: &LoadedModel,
    path: &Path,
    window: f64,
    hop: Option<f64>,
    options: &EmbedOptions,
) -> Result<Embeddings> {
    let sr = f64::from(model.sample_rate());
    let mut frames = Vec::new();
    let mut timestamps = Vec::new();
    let mut scene_shape = Vec::new();
    stream_windows(path, model.sample_rate(), window, hop, |samples, start| {
        let e = model.embed(&model.padded_window(samples), options)?;
        frames.extend_from_slice(&e.scene);
        timestamps.push((2 * start + samples.len()) as f64 / 2.0 / sr);
        scene_shape = e.scene_shape();
        Ok(())
    })?;
    // Frames are (windows, ...scene shape); move the window axis next to the last.
    let n = timestamps.len();
    let dim = *scene_shape.last().unwrap_or(&0);
    let layers = frames.len() / (n * dim).max(1);
    let mut shape = scene_shape[..scene_shape.len().saturating_sub(1)].to_vec();
    shape.extend([n, dim]);
    let mut reordered = vec![0f32; frames.len()];
    for w in 0..n {
        for l in 0..layers {
            let src = (w * layers + l) * dim;
            let dst = (l * n + w) * dim;
            reordered[dst..dst + dim].copy_from_slice(&frames[src..src + dim]);
        }
    }
    let scene = Embeddings::mean_over_frames(&reordered, &shape);
    Ok(Embeddings {
        frames: reordered,
        shape,
        timestamps,
        scene,
    })
}

/// What `run` makes of an input's file, or the input's own problem as the error.
pub fn run_input<T>(input: &Input, run: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    run(input.ready()?)
}

/// Run `f`, adding its wall time to `ns` (and `n` to `count`).
fn timed<T>(ns: &AtomicU64, count: Option<(&AtomicU64, usize)>, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    ns.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
    if let Some((c, n)) = count {
        c.fetch_add(n as u64, Ordering::Relaxed);
    }
    out
}

impl Timings {
    /// One line per stage that ran, for stderr.
    pub fn report(&self) -> String {
        let secs = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64 * 1e-9;
        let mut lines = Vec::new();
        if secs(&self.load_ns) > 0.0 {
            lines.push(format!("timings: model load {:.2} s", secs(&self.load_ns)));
        }
        let decoded = self.decoded.load(Ordering::Relaxed);
        if decoded > 0 {
            let t = secs(&self.decode_ns);
            lines.push(format!(
                "timings: decode + resample {t:.2} s for {decoded} files ({:.1} ms each, on the \
                 prefetch thread)",
                t * 1e3 / decoded as f64
            ));
        }
        let clips = self.clips.load(Ordering::Relaxed);
        if clips > 0 {
            let t = secs(&self.model_ns);
            lines.push(format!(
                "timings: model {t:.2} s for {clips} clips in {} passes ({:.1} ms per clip)",
                self.passes.load(Ordering::Relaxed),
                t * 1e3 / clips as f64
            ));
        }
        lines.join("\n")
    }
}

/// A model loaded from its card, ready to run clips: the backbone with its head (if any), the
/// card's name and label vocabulary, and the device and precision it runs at.
pub struct LoadedModel {
    /// Registry name.
    pub name: String,
    /// The card's `labels`: the vocabulary of the head (`audioset`, `fsd50k`, ...).
    pub label_set: String,
    /// That vocabulary, in head order, for heads that tag (`None` for `librispeech-chars`,
    /// `none`); a trained model's own labels.
    labels: Option<Cow<'static, Labels>>,
    model: Box<dyn AudioModel>,
    device: tch::Device,
    precision: Precision,
}

/// The card's `sample_rate` is the rate the model built from it runs at. A speech model from a
/// given checkpoint brings its own configuration (its preprocessor's `sampling_rate`), which
/// the card does not describe.
fn check_card_rate(spec: &registry::ModelSpec, model: &dyn AudioModel, given: bool) -> Result<()> {
    let speech = wav2vec2::Family::parse(&spec.family).is_some();
    if !(given && speech) && model.sample_rate() != spec.sample_rate {
        bail!(
            "model {}: its card says {} Hz, the model built from it runs at {} Hz",
            spec.name,
            spec.sample_rate,
            model.sample_rate()
        );
    }
    Ok(())
}

/// The vocabulary the card names for its head, checked against the head's size: a card whose
/// vocabulary is unknown, or whose head does not have one output per class, is refused at load.
fn head_labels(spec: &registry::ModelSpec, outputs: usize) -> Result<Option<&'static Labels>> {
    if !VOCABULARIES.contains(&spec.labels.as_str()) {
        return Ok(None);
    }
    let labels = Labels::named(&spec.labels).with_context(|| format!("model {}", spec.name))?;
    if labels.len() != outputs {
        bail!(
            "model {}: the head has {outputs} outputs, but its card's {} vocabulary has {} classes",
            spec.name,
            spec.labels,
            labels.len()
        );
    }
    Ok(Some(labels))
}

/// Load the backbone of `spec`'s family from `path`; `given`: the file was named by the user
/// (it brings its own configuration), not the card's download.
pub fn load_family(
    spec: &registry::ModelSpec,
    path: &Path,
    given: bool,
    quantized: bool,
    device: tch::Device,
) -> Result<Box<dyn AudioModel>> {
    let name = &spec.name;
    let at = || path.display().to_string();
    if quantized && spec.family != "yamnet" {
        bail!(
            "--quantized runs QDQ ONNX exports of YAMNet; model {name} is {}",
            spec.family
        );
    }
    Ok(match spec.family.as_str() {
        "panns" => {
            let cfg = panns::Config::from_spec(spec)?;
            Box::new(panns::load(path, &cfg, device).with_context(at)?)
        }
        "openl3" => {
            let cfg = openl3::Config::from_spec(spec)?;
            Box::new(openl3::load(path, &cfg, device).with_context(at)?)
        }
        "wav2vec2" | "hubert" | "wavlm" => {
            let family = wav2vec2::Family::parse(&spec.family).expect("a speech family");
            // The card's arguments describe its own download only; a given checkpoint
            // brings its configuration (config.json, fairseq args/cfg).
            let card = serde_json::to_value(&spec.arguments)?;
            let card = (!given).then_some(&card);
            Box::new(wav2vec2::load(path, family, card, device).with_context(at)?)
        }
        "passt" => {
            let cfg = passt::Config::from_spec(spec)?;
            Box::new(passt::load(path, &cfg, device).with_context(at)?)
        }
        "yamnet" => Box::new(yamnet::load(path, device, quantized).with_context(at)?),
        family => bail!("model {name}: the {family} family cannot run yet"),
    })
}

impl LoadedModel {
    /// Resolve the checkpoint, then load it strictly.
    pub fn load(args: &ModelRequest, device: tch::Device) -> Result<LoadedModel> {
        if let Some(why) = slow_precision(args.precision, device) {
            eprintln!("warning: --precision {}: {why}", args.precision);
        }
        timed(&TIMINGS.load_ns, None, || Self::load_untimed(args, device))
    }

    fn load_untimed(args: &ModelRequest, device: tch::Device) -> Result<LoadedModel> {
        if let Some(dir) = registry::trained::find(&args.name) {
            return Self::load_trained(&dir, args, device);
        }
        let name = args.name.clone();
        let spec = registry::spec(&name)?;
        let path = match &args.checkpoint {
            Some(p) => p.clone(),
            None => registry::resolve_checkpoint(&name)?,
        };
        let model = load_family(
            spec,
            &path,
            args.checkpoint.is_some(),
            args.quantized,
            device,
        )?;
        check_card_rate(spec, model.as_ref(), args.checkpoint.is_some())?;
        let labels = head_labels(spec, model.classes())?;
        Ok(LoadedModel {
            name,
            label_set: spec.labels.clone(),
            labels: labels.map(Cow::Borrowed),
            model,
            device,
            precision: args.precision,
        })
    }

    /// A trained model's folder: its backbone from the checkpoint it was trained on (a file whose
    /// sha256 differs is refused), with its head.
    fn load_trained(dir: &Path, args: &ModelRequest, device: tch::Device) -> Result<LoadedModel> {
        let card = registry::trained::TrainedCard::read(dir)?;
        let spec = registry::spec(&card.backbone.model)?;
        let given = args.checkpoint.clone().or(card.backbone.checkpoint.clone());
        let path = match &given {
            Some(p) => p.clone(),
            None => registry::resolve_checkpoint(&spec.name)?,
        };
        let sha = earshot_core::embedding_cache::content_sha256(&path)
            .with_context(|| format!("{}", path.display()))?;
        if !card.backbone.sha256.is_empty() && sha != card.backbone.sha256 {
            bail!(
                "{}: its backbone checkpoint {} has changed since training (sha256 {}, trained on {}); pass --checkpoint with the original file, or train again",
                dir.display(),
                path.display(),
                &sha[..12],
                &card.backbone.sha256[..card.backbone.sha256.len().min(12)]
            );
        }
        let backbone = load_family(spec, &path, given.is_some(), args.quantized, device)?;
        check_card_rate(spec, backbone.as_ref(), given.is_some())?;
        let model = crate::trained::TrainedModel::new(dir, &card, backbone)?;
        Ok(LoadedModel {
            name: card.name.clone(),
            label_set: format!("trained ({} classes)", card.labels.len()),
            labels: Some(Cow::Owned(Labels::from_names(&card.labels))),
            model: Box::new(model),
            device,
            precision: args.precision,
        })
    }

    /// The model's input rate.
    pub fn sample_rate(&self) -> u32 {
        self.model.sample_rate()
    }

    /// A window for [`stream_windows`]' callers: the file's last window, cut short at its end,
    /// zero-padded to the model's shortest input when it is shorter.
    pub fn padded_window<'a>(&self, samples: &'a [f32]) -> std::borrow::Cow<'a, [f32]> {
        if samples.is_empty() {
            return samples.into();
        }
        crate::pad_to(samples, self.model.min_samples())
    }

    /// Number of classes of the classifier head (0 for embedding-only models).
    pub fn classes(&self) -> usize {
        self.model.classes()
    }

    /// The class names of the head's outputs, from the model card's vocabulary.
    pub fn labels(&self) -> Result<&Labels> {
        self.labels.as_deref().with_context(|| {
            format!(
                "model {}: its outputs ({}) are not classes to tag",
                self.name, self.label_set
            )
        })
    }

    /// Run one clip (mono, at [`LoadedModel::sample_rate`]) as the reference does: one forward pass
    /// over the whole clip.
    pub fn run(&self, samples: &[f32]) -> Result<ClipOutput> {
        let mut outs = self.run_batch(&[samples])?;
        Ok(outs.pop().expect("one output per clip"))
    }

    /// Run clips of equal length as one batch.
    pub fn run_batch(&self, clips: &[&[f32]]) -> Result<Vec<ClipOutput>> {
        let outs = self.timed(clips.len(), || self.model.run_batch(clips))?;
        self.finite(outs.iter().flat_map(|o| {
            [
                Some(&o.clipwise),
                o.embedding.as_ref(),
                o.framewise.as_ref(),
            ]
            .into_iter()
            .flatten()
        }))?;
        Ok(outs)
    }

    /// Reduced precision can overflow (fp16 tops out at 65504) where float32 does not; say so
    /// rather than write NaN scores.
    fn finite<'a>(&self, values: impl Iterator<Item = &'a Vec<f32>>) -> Result<()> {
        if self.precision != Precision::Fp32 && values.flatten().any(|v| !v.is_finite()) {
            bail!(
                "the model gave non-finite outputs at --precision {} (overflow); use bf16 or fp32",
                self.precision
            );
        }
        Ok(())
    }

    /// Run a model pass over `clips` clips at the chosen precision, counted in [`TIMINGS`].
    fn timed<T>(&self, clips: usize, f: impl FnOnce() -> T) -> T {
        TIMINGS.passes.fetch_add(1, Ordering::Relaxed);
        let _autocast = Autocast::new(self.device, self.precision);
        timed(&TIMINGS.model_ns, Some((&TIMINGS.clips, clips)), f)
    }

    /// Time-stamped and scene embeddings of one clip.
    pub fn embed(&self, samples: &[f32], options: &EmbedOptions) -> Result<Embeddings> {
        let out = self.timed(1, || self.model.embed(samples, options))?;
        self.finite([&out.frames, &out.scene].into_iter())?;
        Ok(out)
    }

    /// [`LoadedModel::embed`] for several clips in one pass where the model can (padding with
    /// attention masks, or equal lengths).
    pub fn embed_batch(&self, clips: &[&[f32]], options: &EmbedOptions) -> Result<Vec<Embeddings>> {
        let outs = self.timed(clips.len(), || self.model.embed_batch(clips, options))?;
        self.finite(outs.iter().flat_map(|o| [&o.frames, &o.scene]))?;
        Ok(outs)
    }

    /// A trained head's input rows for one clip: the frame embeddings, or one per window
    /// ([`crate::trained::clip_rows`]).
    pub fn clip_rows(
        &self,
        samples: &[f32],
        options: &EmbedOptions,
        window: Option<(f64, Option<f64>)>,
    ) -> Result<earshot_core::embedding_cache::Cached> {
        let rows = self.timed(1, || {
            crate::trained::clip_rows(self.model.as_ref(), samples, options, window)
        })?;
        self.finite(std::iter::once(&rows.frames))?;
        Ok(rows)
    }

    /// Whether the model gives framewise output.
    pub fn is_sed(&self) -> bool {
        self.model.is_sed()
    }

    /// Lowest and highest frequency (Hz) of the log-mel's bands, when known.
    pub fn mel_band(&self) -> Option<earshot_core::outputs::MelBand> {
        self.model.mel_band()
    }

    /// Log-mel spectrogram (frames × mel, dB) of a clip, for plots.
    pub fn logmel(&self, samples: &[f32]) -> Result<(Vec<f32>, usize)> {
        Ok(self.model.logmel(samples)?)
    }
}

/// Stream `path` (mono, at `sample_rate`) through fixed windows of `window` seconds every `hop`
/// (default: `window`), the last one cut at the end of the file, calling `each(window, start
/// sample)` in order. Only one window (plus a decoded block) is held, whatever the file's length.
/// Returns the file's length in samples.
pub fn stream_windows(
    path: &Path,
    sample_rate: u32,
    window: f64,
    hop: Option<f64>,
    mut each: impl FnMut(&[f32], usize) -> Result<()>,
) -> Result<usize> {
    let sr = f64::from(sample_rate);
    let win = ((window * sr).round() as usize).max(1);
    let step = ((hop.unwrap_or(window) * sr).round() as usize).max(1);
    let mut stream = audio::AudioStream::open(path, LoadOptions::mono(sample_rate))?;
    // Audio from the current window's start on; samples still to drop before it (a hop longer
    // than the window); samples read; the window's start.
    let mut buf = vec![Vec::new()];
    let (mut skip, mut total, mut start, mut eof) = (0usize, 0usize, 0usize, false);
    loop {
        while !eof && buf[0].len() < win + skip {
            let before = buf[0].len();
            eof = !stream.next_into(&mut buf)?;
            total += buf[0].len() - before;
        }
        let dropped = skip.min(buf[0].len());
        buf[0].drain(..dropped);
        if start > 0 && buf[0].is_empty() {
            break; // a hop longer than the window stepped past the end
        }
        let end = win.min(buf[0].len());
        each(&buf[0][..end], start)?;
        if eof && buf[0].len() <= win {
            break;
        }
        let dropped = step.min(buf[0].len());
        buf[0].drain(..dropped);
        skip = step - dropped;
        start += step;
    }
    Ok(total)
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
        for input in files {
            let item = timed(&TIMINGS.decode_ns, Some((&TIMINGS.decoded, 1)), || {
                run_input(&input, |path| {
                    Ok(audio::load(path, LoadOptions::mono(sample_rate))?)
                })
            });
            if tx.send((input.path, item)).is_err() {
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
    backbone: &LoadedModel,
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

#[cfg(test)]
mod card_tests {
    use super::*;

    /// A model that only says its rate.
    struct AtRate(u32);

    impl AudioModel for AtRate {
        fn sample_rate(&self) -> u32 {
            self.0
        }
        fn min_samples(&self) -> usize {
            1
        }
        fn run_batch(&self, _: &[&[f32]]) -> crate::Result<Vec<ClipOutput>> {
            Ok(Vec::new())
        }
        fn classes(&self) -> usize {
            0
        }
    }

    #[test]
    fn a_model_off_its_cards_rate_is_refused_unless_a_speech_checkpoint_brings_its_own() {
        let cnn14 = registry::spec("cnn14").unwrap();
        assert!(check_card_rate(cnn14, &AtRate(32_000), false).is_ok());
        let e = check_card_rate(cnn14, &AtRate(16_000), true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "model cnn14: its card says 32000 Hz, the model built from it runs at 16000 Hz"
        );
        let speech = registry::spec("wav2vec2-base").unwrap();
        assert!(check_card_rate(speech, &AtRate(8_000), false).is_err());
        assert!(check_card_rate(speech, &AtRate(8_000), true).is_ok());
    }
}
