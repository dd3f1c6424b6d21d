//! Sharded and resumed runs: shards from a Slurm array's environment (and `--shard`), merged
//! with `earshot merge`, equal a single-process run; `--resume` redoes only what is missing, and
//! a run killed with SIGKILL leaves nothing a later run mistakes for a finished output.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn corpus() -> PathBuf {
    let dir = common::data_dir().join("datasets/esc50/audio");
    assert!(dir.is_dir(), "{}: run tests/gen_datasets.py", dir.display());
    dir
}

fn ckpt() -> String {
    common::data_dir()
        .join("panns/Cnn14.pth")
        .display()
        .to_string()
}

fn earshot_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = common::earshot_command();
    cmd.args(args);
    for k in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_MIN",
        "JOB_COMPLETION_INDEX",
        "EARSHOT_SHARDS",
    ] {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn tag_json(path: &Path) -> Vec<(String, Vec<f64>)> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["file"].as_str().unwrap().to_string(),
                r["scores"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn slurm_array_shards_merge_to_the_single_process_output() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = corpus();
    let c = ckpt();
    let single = tmp.path().join("single.json");
    let base = [
        "tag",
        "--checkpoint",
        c.as_str(),
        "--format",
        "json",
        "--all-scores",
        "--batch-size",
        "1",
        dir.to_str().unwrap(),
        "-o",
    ];
    let mut args = base.to_vec();
    args.push(single.to_str().unwrap());
    earshot_env(&args, &[]);
    // A Slurm array --array=1-3: task ids 1..3, minimum 1.
    let sharded = tmp.path().join("out.json");
    let mut args = base.to_vec();
    args.push(sharded.to_str().unwrap());
    for id in ["1", "2", "3"] {
        earshot_env(
            &args,
            &[
                ("SLURM_ARRAY_TASK_ID", id),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
            ],
        );
    }
    let shards: Vec<PathBuf> = (0..3)
        .map(|i| tmp.path().join(format!("out.shard-{i}-of-3.json")))
        .collect();
    let sizes: Vec<usize> = shards.iter().map(|s| tag_json(s).len()).collect();
    assert_eq!(sizes, vec![10, 10, 10]);
    let merged = tmp.path().join("merged.json");
    let mut args = vec!["merge", "-o", merged.to_str().unwrap()];
    args.extend(shards.iter().map(|s| s.to_str().unwrap()));
    earshot_env(&args, &[]);
    let (want, got) = (tag_json(&single), tag_json(&merged));
    assert_eq!(want.len(), 30);
    assert_eq!(
        want.iter().map(|r| &r.0).collect::<Vec<_>>(),
        got.iter().map(|r| &r.0).collect::<Vec<_>>(),
        "file order"
    );
    for ((f, a), (_, b)) in want.iter().zip(&got) {
        let d = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(d <= 1e-6, "{f}: {d}");
    }
    // A rerun of a finished shard with --resume does nothing.
    let mut args = base.to_vec();
    args.push(sharded.to_str().unwrap());
    args.extend(["--shard", "0/3", "--resume"]);
    let out = earshot_env(&args, &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to resume"));
}

#[test]
fn embed_npy_shards_stack_back_in_input_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = corpus();
    let c = ckpt();
    let single = tmp.path().join("single.npy");
    let sharded = tmp.path().join("emb.npy");
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "embed",
            "--checkpoint",
            c.as_str(),
            dir.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        earshot_env(&args, &[]);
    };
    run(&single, &[]);
    run(&sharded, &["--shard", "0/2"]);
    // Kubernetes Indexed Job: JOB_COMPLETION_INDEX of EARSHOT_SHARDS.
    let args = [
        "embed",
        "--checkpoint",
        c.as_str(),
        dir.to_str().unwrap(),
        "-o",
        sharded.to_str().unwrap(),
    ];
    earshot_env(
        &args,
        &[("JOB_COMPLETION_INDEX", "1"), ("EARSHOT_SHARDS", "2")],
    );
    let merged = tmp.path().join("merged.npy");
    earshot_env(
        &[
            "merge",
            "-o",
            merged.to_str().unwrap(),
            tmp.path().join("emb.shard-0-of-2.npy").to_str().unwrap(),
            tmp.path().join("emb.shard-1-of-2.npy").to_str().unwrap(),
        ],
        &[],
    );
    let a = earshot_core::npy::read(&single).unwrap();
    let b = earshot_core::npy::read(&merged).unwrap();
    assert_eq!(a.shape, vec![30, 2048]);
    assert_eq!(a.shape, b.shape);
    assert_eq!(a.descr, b.descr);
    let d = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    assert!(d <= 1e-5, "{d}");
    let names = |p: &Path| std::fs::read_to_string(p.with_extension("files.txt")).unwrap();
    assert_eq!(names(&single), names(&merged));
}

#[test]
fn resume_redoes_only_missing_outputs_and_survives_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = corpus();
    let c = ckpt();
    let out = tmp.path().join("emb");
    let args = [
        "embed",
        "--checkpoint",
        c.as_str(),
        dir.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    // Kill the first run as soon as some outputs exist.
    let mut child = common::earshot_command()
        .args(args)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let npz = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .map(|r| r.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        v.retain(|p| p.extension().is_some_and(|e| e == "npz"));
        v.sort();
        v
    };
    let start = std::time::Instant::now();
    while npz(&out).len() < 3 && start.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done = npz(&out);
    assert!(!done.is_empty());
    // Every output present is whole (temporaries are hidden `.NAME.partial-PID` files).
    for p in &done {
        let arrays = earshot_core::npy::read_npz(p).unwrap();
        assert_eq!(arrays.len(), 3, "{}", p.display());
    }
    let before: Vec<_> = done
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .collect();
    let mut resumed = args.to_vec();
    resumed.push("--resume");
    let o = earshot_env(&resumed, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    if done.len() < 30 {
        assert!(
            err.contains(&format!(
                "{} of 30 inputs already have their output",
                done.len()
            )),
            "{err}"
        );
    }
    assert_eq!(npz(&out).len(), 30);
    for (p, t) in done.iter().zip(before) {
        assert_eq!(
            std::fs::metadata(p).unwrap().modified().unwrap(),
            t,
            "{} redone",
            p.display()
        );
    }
    // Resumed outputs equal a clean run's.
    let clean = tmp.path().join("clean");
    let mut args2 = args.to_vec();
    args2[5] = clean.to_str().unwrap();
    earshot_env(&args2, &[]);
    for p in npz(&clean) {
        let a = earshot_core::npy::read_npz(&p).unwrap();
        let b = earshot_core::npy::read_npz(&out.join(p.file_name().unwrap())).unwrap();
        for ((na, xa), (nb, xb)) in a.iter().zip(&b) {
            assert_eq!(na, nb);
            let d = xa
                .data
                .iter()
                .zip(&xb.data)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            assert!(d <= 1e-5, "{}: {na}: {d}", p.display());
        }
    }
}

/// The model-free commands run in the front binary: they shard (and resume) the same way.
#[test]
fn decode_in_the_front_binary_takes_its_shard() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = corpus();
    let out = tmp.path().join("wav");
    let args = [
        "decode",
        "--sr",
        "16000",
        "--mono",
        "-o",
        out.to_str().unwrap(),
        dir.to_str().unwrap(),
    ];
    earshot_env(
        &args,
        &[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ],
    );
    let mut all: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    all.sort();
    let written = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(
        written,
        all.len() / 3,
        "shard 1 of 3 of {} files",
        all.len()
    );
    // --resume with every output present decodes nothing again.
    let mut again = args.to_vec();
    again.extend(["--shard", "1/3", "--resume"]);
    let before: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().modified().unwrap())
        .collect();
    earshot_env(&again, &[]);
    let after: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().modified().unwrap())
        .collect();
    assert_eq!(before, after);
}
