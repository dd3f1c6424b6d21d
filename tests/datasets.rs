//! Loaders on small datasets in each official layout, written by `tests/gen_metrics.py`; what
//! they read must equal what pandas / Python's csv read, and injected metadata problems must
//! come back as issues with the right line, never as a crash.

use crate::common;

use common::{metrics_dir, metrics_manifest};
use earshot_core::datasets::{audioset, dcase, esc50, fsd50k, tau, urbansound8k, IssueKind};

#[test]
fn audioset_class_labels_ontology_segments_strong() {
    let m = metrics_manifest();
    let l = &m["loaders"];
    let labels = audioset::read_class_labels(
        &metrics_dir().join(l["class_labels"]["path"].as_str().unwrap()),
    )
    .unwrap();
    let want = l["class_labels"]["rows"].as_array().unwrap();
    assert_eq!(labels.len(), want.len());
    for (got, w) in labels.iter().zip(want) {
        assert_eq!(got.index as u64, w[0].as_u64().unwrap());
        assert_eq!(got.mid, w[1].as_str().unwrap());
        assert_eq!(
            got.name,
            w[2].as_str().unwrap(),
            "quoted display names with commas"
        );
    }
    let (onto, issues) =
        audioset::read_ontology(&metrics_dir().join(l["ontology"]["path"].as_str().unwrap()))
            .unwrap();
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(
        onto.nodes.len() as u64,
        l["ontology"]["n"].as_u64().unwrap()
    );
    let roots: Vec<&str> = onto.roots().iter().map(|n| n.id.as_str()).collect();
    let want_roots: Vec<&str> = l["ontology"]["roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(roots, want_roots);

    let seg_path = metrics_dir().join(l["segments"]["path"].as_str().unwrap());
    let (segments, issues) = audioset::read_segments(&seg_path, Some(&labels)).unwrap();
    let want = l["segments"]["rows"].as_array().unwrap();
    assert_eq!(segments.len(), want.len());
    for (s, w) in segments.iter().zip(want) {
        assert_eq!(
            s.ytid,
            w["ytid"].as_str().unwrap(),
            "YTIDs starting with '-' survive"
        );
        assert_eq!(s.start, w["start"].as_f64().unwrap());
        assert_eq!(s.end, w["end"].as_f64().unwrap());
        let labels: Vec<&str> = w["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(s.labels, labels);
        assert_eq!(s.line as u64, w["line"].as_u64().unwrap());
    }
    let unknown: Vec<usize> = issues
        .iter()
        .filter(|i| i.kind == IssueKind::UnknownLabel)
        .filter_map(|i| i.line)
        .collect();
    let want_unknown: Vec<usize> = l["segments"]["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["line"].as_u64().unwrap() as usize)
        .collect();
    assert_eq!(unknown, want_unknown);
    let targets = audioset::targets(&segments, &labels);
    assert_eq!(targets.len(), segments.len());

    let dir = metrics_dir().join(l["local"]["dir"].as_str().unwrap());
    let (local, issues) = audioset::match_local_files(&seg_path, &segments, &dir).unwrap();
    let found: Vec<(usize, String)> = local
        .found
        .iter()
        .map(|(i, p)| (*i, p.file_name().unwrap().to_string_lossy().into_owned()))
        .collect();
    let mut want_found: Vec<(usize, String)> = l["local"]["found"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.parse().unwrap(), v.as_str().unwrap().to_string()))
        .collect();
    want_found.sort();
    assert_eq!(found, want_found, "PANNs and DESED file names both found");
    let missing: Vec<usize> = l["local"]["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(local.missing, missing);
    assert_eq!(issues.len(), missing.len());
    assert!(issues
        .iter()
        .all(|i| i.kind == IssueKind::MissingFile && i.line.is_some()));

    let (strong, issues) =
        audioset::read_strong_segments(&metrics_dir().join(l["strong"]["path"].as_str().unwrap()))
            .unwrap();
    assert!(issues.is_empty(), "{issues:?}");
    let want = l["strong"]["rows"].as_array().unwrap();
    assert_eq!(strong.len(), want.len());
    for (s, w) in strong.iter().zip(want) {
        assert_eq!(s.segment_id, w[0].as_str().unwrap());
        assert_eq!(s.onset, w[1].as_f64().unwrap());
        assert_eq!(s.offset, w[2].as_f64().unwrap());
        assert_eq!(s.label, w[3].as_str().unwrap());
        assert_eq!(format!("{}_{}", s.ytid, s.clip_start_ms), s.segment_id);
    }
}

#[test]
fn desed_metadata_with_problems_loads_and_reports_lines() {
    let m = metrics_manifest();
    let d = &m["loaders"]["desed"];
    let path = metrics_dir().join(d["path"].as_str().unwrap());
    let (gt, mut issues) = dcase::read_strong(&path).unwrap();
    let events: Vec<(String, f64, f64, String, usize)> = gt
        .clips
        .iter()
        .flat_map(|c| {
            c.events
                .iter()
                .zip(&c.lines)
                .map(move |(e, l)| (c.filename.clone(), e.onset, e.offset, e.label.clone(), *l))
        })
        .collect();
    let want: Vec<(String, f64, f64, String, usize)> = d["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w[0].as_str().unwrap().into(),
                w[1].as_f64().unwrap(),
                w[2].as_f64().unwrap(),
                w[3].as_str().unwrap().into(),
                w[4].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(events, want);
    let mut files: Vec<&str> = gt.clips.iter().map(|c| c.filename.as_str()).collect();
    files.sort();
    let want_files: Vec<&str> = d["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(files, want_files, "clips without events are kept");
    let (dur, dur_issues) =
        dcase::read_durations(&metrics_dir().join(d["durations"].as_str().unwrap())).unwrap();
    assert!(dur_issues.is_empty());
    issues.extend(gt.check_events());
    issues.extend(gt.check_durations(&dur));
    let classes: Vec<String> = dcase::DESED_CLASSES.iter().map(|s| s.to_string()).collect();
    issues.extend(gt.check_labels(&classes));
    let lines = |kind: IssueKind| -> Vec<usize> {
        let mut v: Vec<usize> = issues
            .iter()
            .filter(|i| i.kind == kind)
            .filter_map(|i| i.line)
            .collect();
        v.sort();
        v
    };
    let want_lines = |k: &str| -> Vec<usize> {
        d["issue_lines"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect()
    };
    assert_eq!(lines(IssueKind::Overlap), want_lines("overlap"));
    assert_eq!(lines(IssueKind::PastEnd), want_lines("past_end"));
    assert_eq!(lines(IssueKind::EmptyRow), want_lines("empty_row"));
    assert_eq!(lines(IssueKind::UnknownLabel), want_lines("unknown_label"));
    assert_eq!(lines(IssueKind::Malformed), want_lines("malformed"));
    assert_eq!(lines(IssueKind::BadInterval), want_lines("bad_interval"));
    for i in &issues {
        assert!(
            i.to_string().starts_with(&path.display().to_string()),
            "{i}"
        );
    }
    let (weak, issues) =
        dcase::read_weak(&metrics_dir().join(d["weak"].as_str().unwrap())).unwrap();
    assert!(issues.is_empty());
    assert_eq!(
        weak.clips[0].1,
        vec!["Alarm_bell_ringing".to_string(), "Speech".to_string()]
    );
}

#[test]
fn tau_esc50_urbansound8k_fsd50k() {
    let m = metrics_manifest();
    let l = &m["loaders"];
    let (items, issues) =
        tau::read_meta(&metrics_dir().join(l["tau"]["meta"].as_str().unwrap())).unwrap();
    assert!(issues.is_empty());
    let want = l["tau"]["rows"].as_array().unwrap();
    assert_eq!(items.len(), want.len());
    for (it, w) in items.iter().zip(want) {
        assert_eq!(
            [
                it.filename.as_str(),
                &it.scene_label,
                &it.identifier,
                &it.source_label
            ],
            [0, 1, 2, 3].map(|k| w[k].as_str().unwrap())
        );
    }
    let root = metrics_dir().join(l["tau"]["root"].as_str().unwrap());
    for split in ["train", "evaluate", "test"] {
        let (fold, issues) = tau::read_meta(&tau::fold_path(&root, 1, split)).unwrap();
        assert!(issues.is_empty(), "{split}");
        assert!(!fold.is_empty());
    }

    let (clips, issues) =
        esc50::read_meta(&metrics_dir().join(l["esc50"]["path"].as_str().unwrap())).unwrap();
    assert!(issues.is_empty());
    for (c, w) in clips.iter().zip(l["esc50"]["rows"].as_array().unwrap()) {
        assert_eq!(c.filename, w[0].as_str().unwrap());
        assert_eq!(c.fold as u64, w[1].as_u64().unwrap());
        assert_eq!(c.target as u64, w[2].as_u64().unwrap());
        assert_eq!(c.category, w[3].as_str().unwrap());
        assert_eq!(c.esc10, w[4].as_bool().unwrap());
    }

    let (slices, issues) =
        urbansound8k::read_meta(&metrics_dir().join(l["urbansound8k"]["path"].as_str().unwrap()))
            .unwrap();
    assert!(issues.is_empty());
    for (s, w) in slices
        .iter()
        .zip(l["urbansound8k"]["rows"].as_array().unwrap())
    {
        assert_eq!(s.slice_file_name, w[0].as_str().unwrap());
        assert_eq!(s.start, w[1].as_f64().unwrap());
        assert_eq!(s.end, w[2].as_f64().unwrap());
        assert_eq!(s.fold as u64, w[3].as_u64().unwrap());
        assert_eq!(s.class_id as u64, w[4].as_u64().unwrap());
        assert_eq!(s.class, w[5].as_str().unwrap());
    }

    let (clips, issues) =
        fsd50k::read_ground_truth(&metrics_dir().join(l["fsd50k"]["path"].as_str().unwrap()))
            .unwrap();
    assert!(issues.is_empty());
    let want = l["fsd50k"]["rows"].as_array().unwrap();
    assert_eq!(clips.len(), want.len());
    for (c, w) in clips.iter().zip(want) {
        assert_eq!(c.fname, w[0].as_str().unwrap());
        let labels: Vec<&str> = w[1]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(c.labels, labels, "quoted comma-separated label lists");
        assert_eq!(c.split, w[3].as_str().unwrap());
    }
    let vocab =
        fsd50k::read_vocabulary(&metrics_dir().join(l["fsd50k"]["vocabulary"].as_str().unwrap()))
            .unwrap();
    assert_eq!(vocab.len(), 3);
}

#[test]
fn missing_and_malformed_files_are_errors_not_panics() {
    let missing = metrics_dir().join("no/such/file.tsv");
    let e = dcase::read_strong(&missing).unwrap_err();
    assert_eq!(e.path(), missing.as_path());
    let m = metrics_manifest();
    // A durations table is not a strong-label table: a format error naming the file.
    let dur = metrics_dir().join(m["loaders"]["desed"]["durations"].as_str().unwrap());
    let e = dcase::read_strong(&dur).unwrap_err();
    assert!(e.to_string().contains("no column"), "{e}");
    assert!(audioset::read_ontology(&dur).is_err());
}
