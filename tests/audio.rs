//! Decode and resample parity with `librosa.load` for every generated file, format and rate.

use crate::common;

use earshot_core::audio::{self, LoadOptions};
use earshot_core::npy;

/// Tolerance per format: lossless data must come out bit-for-bit at the native rate, and
/// everything within 1e-4 of librosa after resampling or lossy decoding.
fn tolerance(format: &str, resampled: bool) -> f64 {
    match (format, resampled) {
        ("wav" | "flac", false) => 0.0,
        ("wav" | "flac", true) => 1e-6,
        _ => 1e-4,
    }
}

#[test]
fn decode_matches_librosa_load_for_every_file() {
    let manifest = common::manifest();
    let mut failures = Vec::new();
    let mut worst: std::collections::BTreeMap<String, f64> = Default::default();
    let files = manifest["files"].as_array().expect("files");
    assert!(files.len() >= 20, "the generator makes at least 20 files");
    for file in files {
        let path = common::data_path(file["path"].as_str().unwrap());
        let format = file["format"].as_str().unwrap();
        for r in file["refs"].as_array().unwrap() {
            let sr = r["sr"].as_u64().map(|v| v as u32);
            let mono = r["mono"].as_bool().unwrap();
            let reference = npy::read(&common::data_path(r["npy"].as_str().unwrap())).unwrap();
            let label = format!("{} sr={:?} mono={mono}", path.display(), sr);
            let wave = match audio::load(&path, LoadOptions::new(sr, mono)) {
                Ok(w) => w,
                Err(e) => {
                    failures.push(format!("{label}: {e}"));
                    continue;
                }
            };
            assert_eq!(
                wave.sample_rate as u64,
                r["out_sr"].as_u64().unwrap(),
                "{label}"
            );
            let got_shape: Vec<usize> = if mono {
                vec![wave.frames()]
            } else {
                vec![wave.channels, wave.frames()]
            };
            let ref_shape = if !mono && reference.shape.len() == 1 {
                vec![1, reference.shape[0]]
            } else {
                reference.shape.clone()
            };
            if got_shape != ref_shape {
                failures.push(format!(
                    "{label}: shape {got_shape:?}, librosa {ref_shape:?}"
                ));
                continue;
            }
            let diff = common::max_abs_diff(&wave.samples, &reference.data);
            let entry = worst
                .entry(format!(
                    "{format} {}",
                    if sr.is_some() { "resampled" } else { "native" }
                ))
                .or_default();
            *entry = entry.max(diff);
            if diff > tolerance(format, sr.is_some()) {
                failures.push(format!("{label}: max |diff| {diff:.3e}"));
            }
        }
    }
    eprintln!("max |earshot - librosa.load| per format:");
    for (k, v) in &worst {
        eprintln!("  {k:<16} {v:.3e}");
    }
    assert!(
        failures.is_empty(),
        "parity failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn streaming_equals_whole_file_load() {
    let manifest = common::manifest();
    let file = &manifest["files"][14]; // an MP3 at 44.1 kHz, stereo
    let path = common::data_path(file["path"].as_str().unwrap());
    let whole = audio::load(&path, LoadOptions::mono(32000)).unwrap();
    let mut stream = audio::AudioStream::open(&path, LoadOptions::mono(32000)).unwrap();
    let mut out = vec![Vec::new()];
    let mut pieces = 0;
    loop {
        let before = out[0].len();
        let more = stream.next_into(&mut out).unwrap();
        pieces += usize::from(out[0].len() > before);
        if !more {
            break;
        }
    }
    assert!(pieces >= 2, "output arrives in pieces ({pieces})");
    assert_eq!(out[0], whole.samples);
}

#[test]
fn probe_reports_header_facts() {
    let manifest = common::manifest();
    for file in manifest["files"].as_array().unwrap() {
        let path = common::data_path(file["path"].as_str().unwrap());
        let info = audio::probe(&path).unwrap();
        assert_eq!(
            info.sample_rate as u64,
            file["rate"].as_u64().unwrap(),
            "{}",
            path.display()
        );
        assert_eq!(
            info.channels as u64,
            file["channels"].as_u64().unwrap(),
            "{}",
            path.display()
        );
    }
}

#[test]
fn bad_inputs_give_typed_errors() {
    use earshot_core::audio::AudioError as E;
    type Check = fn(&E) -> bool;
    let cases: &[(&str, Check)] = &[
        ("missing", |e| matches!(e, E::Io(_))),
        ("directory", |e| matches!(e, E::IsDirectory)),
        ("empty", |e| matches!(e, E::Empty)),
        ("text", |e| matches!(e, E::UnknownFormat | E::Malformed(_))),
        ("truncated_wav", |e| matches!(e, E::Truncated { .. })),
        ("truncated_flac", |e| {
            matches!(e, E::Truncated { .. } | E::Malformed(_))
        }),
        ("truncated_mp3", |e| {
            matches!(e, E::Truncated { .. } | E::Malformed(_))
        }),
        ("zero_length", |e| matches!(e, E::NoSamples)),
        ("nan", |e| {
            matches!(
                e,
                E::NonFinite {
                    frame: 1234,
                    what: "NaN"
                }
            )
        }),
        ("inf", |e| {
            matches!(
                e,
                E::NonFinite {
                    frame: 777,
                    what: "infinite"
                }
            )
        }),
        ("unsupported_codec", |e| matches!(e, E::Unsupported(_))),
    ];
    for (key, ok) in cases {
        let path = common::bad(key);
        match audio::load(&path, LoadOptions::mono(32000)) {
            Ok(w) => panic!("{key}: decoded {} frames instead of failing", w.frames()),
            Err(e) => assert!(ok(&e), "{key}: unexpected error {e:?}"),
        }
    }
    for ext in ["wav", "mp3", "flac", "ogg", "m4a"] {
        let path = common::bad(&format!("random_{ext}"));
        assert!(
            audio::load(&path, LoadOptions::mono(32000)).is_err(),
            "random bytes .{ext} decoded"
        );
    }
}

#[test]
fn m4a_is_clipped_to_16_bits_like_librosa_unless_full_precision() {
    let path = common::data_path("audio/tones_m4a_48k_stereo.m4a");
    let compat = audio::load(&path, LoadOptions::new(None, false)).unwrap();
    let full = audio::load(
        &path,
        LoadOptions {
            full_precision: true,
            ..LoadOptions::new(None, false)
        },
    )
    .unwrap();
    let peak = |w: &audio::Waveform| w.samples.iter().fold(0f32, |m, v| m.max(v.abs()));
    // The encoder overshoots full scale on this clip: librosa (ffmpeg → s16) sees it clipped.
    assert!(peak(&full) > 1.0, "full-precision peak {}", peak(&full));
    assert!(peak(&compat) <= 1.0);
    assert!(
        compat.samples.iter().all(|v| (v * 32768.0).fract() == 0.0),
        "16-bit grid"
    );
    // Lossless formats are untouched by the option.
    let wav = common::data_path("audio/sweep_f32_32k.wav");
    let a = audio::load(&wav, LoadOptions::new(None, true)).unwrap();
    let b = audio::load(
        &wav,
        LoadOptions {
            full_precision: true,
            ..LoadOptions::new(None, true)
        },
    )
    .unwrap();
    assert_eq!(a, b);
}
