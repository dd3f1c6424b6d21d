//! `earshot detect` (arguments and writers: earshot-cli's `detect`): framewise probabilities of
//! a SED model, median-filtered and thresholded into events.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use earshot_cli::detect::{
    audacity_labels, label_file, parse_thresholds, raven_table, DetectArgs, DetectFormat,
    EmbedAudio, Labelled,
};
use earshot_cli::review::{Audio, Curve, ReviewEvent, ReviewFile};
use earshot_cli::tag::emit;
use earshot_cli::{expand_inputs, output, progress, report, shard, Cli};
use earshot_core::audio::encode::ogg_vorbis_bytes;
use earshot_core::audio::resample::resample;
use earshot_core::outputs::{top_k, ClipOutput, Event};
use earshot_core::wav::pcm16_bytes;
use earshot_models::tasks::for_each_clip;

/// Run `earshot detect`; returns the number of inputs that failed.
pub fn run(cli: &Cli, args: &DetectArgs) -> Result<usize> {
    // Audacity labels, and Raven tables into a folder, are one file per input.
    let per_input_dir = match (args.format, &args.output) {
        (DetectFormat::Audacity, Some(o)) => Some(o.clone()),
        (DetectFormat::Raven, Some(o)) if o.is_dir() || o.to_string_lossy().ends_with('/') => {
            Some(o.clone())
        }
        _ => None,
    };
    if let (Some(o), None) = (&args.output, &per_input_dir) {
        if shard::already_done(&shard::output_path(o)) {
            return Ok(0);
        }
    }
    let backbone = crate::load_backbone(cli, &args.detection.model)?;
    if !backbone.is_sed() {
        bail!(
            "model {} gives no framewise output; use a DecisionLevel model (cnn14-decisionlevelmax)",
            backbone.name
        );
    }
    let labels = backbone.labels()?;
    let files = expand_inputs(&args.detection.inputs);
    if args.format == DetectFormat::Audacity && args.output.is_none() && files.len() > 1 {
        bail!(
            "--format audacity writes one label track per input: give -o DIR for {} inputs",
            files.len()
        );
    }
    if args.plot.is_some() && files.len() != 1 {
        bail!("--plot draws one file; {} inputs given", files.len());
    }
    let bar = progress(files.len(), "detect");
    let mut pages: Vec<ReviewFile> = Vec::new();
    let mut results: Vec<(PathBuf, ClipOutput, Vec<Event>)> = Vec::new();
    let mut failed = 0;
    let mut thresholds: Option<Vec<f32>> = None;
    for_each_clip(files, backbone.sample_rate(), |path, wave| {
        let result = wave.and_then(|w| {
            let out = backbone.run(&w.samples)?;
            let th = match &thresholds {
                Some(t) => t.clone(),
                None => {
                    let t = parse_thresholds(&args.detection.threshold, labels, out.classes())?;
                    thresholds = Some(t.clone());
                    t
                }
            };
            let ev = out.events(&th, args.detection.median_filter);
            if let Some(plot) = &args.plot {
                let (mel, bins) = backbone.logmel(&w.samples)?;
                let title = path.display().to_string();
                let figure = earshot_cli::plot::DetectionPlot {
                    title: &title,
                    mel: &mel,
                    bins,
                    band: backbone.mel_band(),
                    out: &out,
                    events: &ev,
                    labels,
                    thresholds: &th,
                };
                earshot_cli::plot::detection_png(plot, &figure)?;
            }
            if let Some(page) = &args.report {
                pages.push(review_file(
                    &backbone, path, &w.samples, &out, &ev, &th, page, args,
                )?);
            }
            Ok((out, ev))
        });
        match result {
            Ok((out, ev)) => results.push((path.to_path_buf(), out, ev)),
            Err(e) => {
                bar.suspend(|| report(path, &format!("{e:#}")));
                failed += 1;
            }
        }
        bar.inc(1);
        Ok(())
    })?;
    bar.finish_and_clear();
    if let Some(page) = &args.report {
        earshot_cli::review::write(page, &backbone.name, &pages)?;
        if args.report_only {
            return Ok(failed);
        }
    }

    let name = |i: usize| labels.get(i).map_or("?", |l| l.name.as_str());
    let labelled = |ev: &[Event]| -> Vec<Labelled> {
        ev.iter()
            .map(|e| Labelled {
                onset: e.onset,
                offset: e.offset,
                label: name(e.class),
                score: e.score,
            })
            .collect()
    };
    let nyquist = backbone.sample_rate() as f64 / 2.0;
    if let Some(dir) = &per_input_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create the output folder", dir.display()))?;
        for (path, _, ev) in &results {
            let (file, text) = if args.format == DetectFormat::Audacity {
                (
                    label_file(dir, path, ".txt"),
                    audacity_labels(&labelled(ev)),
                )
            } else {
                let table = raven_table(&[(path.as_path(), labelled(ev))], nyquist);
                (label_file(dir, path, ".selections.txt"), table)
            };
            output::atomically(&file, |tmp| std::fs::write(tmp, &text))?;
        }
        return Ok(failed);
    }
    let mut buf = Vec::new();
    match args.format {
        DetectFormat::Audacity => {
            for (_, _, ev) in &results {
                buf.extend_from_slice(audacity_labels(&labelled(ev)).as_bytes());
            }
        }
        DetectFormat::Raven => {
            let files: Vec<(&std::path::Path, Vec<Labelled>)> = (results.iter())
                .map(|(path, _, ev)| (path.as_path(), labelled(ev)))
                .collect();
            buf.extend_from_slice(raven_table(&files, nyquist).as_bytes());
        }
        DetectFormat::Tsv => {
            writeln!(buf, "filename\tonset\toffset\tevent_label")?;
            for (path, _, ev) in &results {
                let file = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                for e in ev {
                    writeln!(
                        buf,
                        "{file}\t{:.3}\t{:.3}\t{}",
                        e.onset,
                        e.offset,
                        name(e.class)
                    )?;
                }
            }
        }
        DetectFormat::Json => {
            let items: Vec<FileEvents> = results
                .iter()
                .map(|(path, out, ev)| FileEvents {
                    file: path.display().to_string(),
                    duration: out.duration,
                    model: &backbone.name,
                    events: ev
                        .iter()
                        .map(|e| EventOut {
                            onset: e.onset,
                            offset: e.offset,
                            event_label: name(e.class),
                            mid: labels.get(e.class).map_or("?", |l| l.mid.as_str()),
                            index: e.class,
                            score: e.score,
                        })
                        .collect(),
                    frame_times: args.all_scores.then(|| {
                        (0..out.frames())
                            .map(|t| t as f64 * out.frame_hop)
                            .collect()
                    }),
                    framewise: args.all_scores.then(|| {
                        out.framewise
                            .as_deref()
                            .unwrap_or_default()
                            .chunks(out.classes())
                            .collect()
                    }),
                })
                .collect();
            serde_json::to_writer(&mut buf, &items)?;
            buf.push(b'\n');
        }
    }
    emit(args.output.as_deref(), &buf)?;
    Ok(failed)
}

#[derive(Serialize)]
struct EventOut<'a> {
    onset: f64,
    offset: f64,
    event_label: &'a str,
    mid: &'a str,
    index: usize,
    score: f32,
}

#[derive(Serialize)]
struct FileEvents<'a> {
    file: String,
    duration: f64,
    model: &'a str,
    events: Vec<EventOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frame_times: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    framewise: Option<Vec<&'a [f32]>>,
}

/// Classes drawn as score curves: those with events, then the best by clip score, five at most.
const REVIEW_CURVES: usize = 5;

/// One file's part of the review page.
#[allow(clippy::too_many_arguments)]
fn review_file(
    backbone: &earshot_models::tasks::LoadedModel,
    path: &Path,
    samples: &[f32],
    out: &ClipOutput,
    events: &[Event],
    thresholds: &[f32],
    page: &Path,
    args: &DetectArgs,
) -> Result<ReviewFile> {
    let labels = backbone.labels()?;
    let name = |i: usize| labels.get(i).map_or("?".to_string(), |l| l.name.clone());
    let (mel, bins) = backbone.logmel(samples)?;
    let mut shown: Vec<usize> = Vec::new();
    for e in events {
        if !shown.contains(&e.class) && shown.len() < REVIEW_CURVES {
            shown.push(e.class);
        }
    }
    for (c, _) in top_k(&out.clipwise, REVIEW_CURVES) {
        if !shown.contains(&c) && shown.len() < REVIEW_CURVES {
            shown.push(c);
        }
    }
    let framewise = out.framewise.as_deref().unwrap_or_default();
    let k = out.classes().max(1);
    let curves = (shown.iter())
        .map(|&c| Curve {
            label: name(c),
            scores: framewise.chunks(k).map(|row| row[c]).collect(),
            threshold: thresholds
                .get(c)
                .or(thresholds.first())
                .copied()
                .unwrap_or(0.5),
        })
        .collect();
    let audio = if args.page_audio.link_audio {
        Audio::Linked(relative_to(path, page.parent().unwrap_or(Path::new("."))))
    } else {
        match args.page_audio.embed_audio {
            EmbedAudio::Ogg => Audio::Embedded {
                mime: "audio/ogg",
                bytes: ogg_vorbis_bytes(samples, backbone.sample_rate(), REVIEW_OGG_QUALITY)
                    .with_context(|| format!("{}: the page's audio", path.display()))?,
            },
            EmbedAudio::Wav => {
                let speech_band = resample(samples, backbone.sample_rate(), REVIEW_RATE)?;
                Audio::Embedded {
                    mime: "audio/wav",
                    bytes: pcm16_bytes(&speech_band, REVIEW_RATE)?,
                }
            }
        }
    };
    Ok(ReviewFile {
        name: path.display().to_string(),
        duration: out.duration,
        frame_hop: out.frame_hop,
        mel_png: earshot_cli::plot::mel_png(&mel, bins, 1140, 4)?,
        mel_band: backbone.mel_band(),
        curves,
        events: (events.iter())
            .map(|e| ReviewEvent {
                onset: e.onset,
                offset: e.offset,
                label: name(e.class),
                score: e.score,
            })
            .collect(),
        audio,
    })
}

/// Sample rate of the WAV embedded in the review page (speech-band, a quarter of CD size).
const REVIEW_RATE: u32 = 16_000;

/// libvorbis quality of the review page's Ogg (`oggenc -q 3`, its default).
const REVIEW_OGG_QUALITY: f32 = 0.3;

/// `path` relative to the folder `dir`, as a URL path (`../` where needed).
fn relative_to(path: &Path, dir: &Path) -> String {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (path, dir) = (abs(path), abs(dir));
    let (p, d): (Vec<_>, Vec<_>) = (path.components().collect(), dir.components().collect());
    let common = p.iter().zip(&d).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); d.len() - common];
    parts.extend(
        p[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}
