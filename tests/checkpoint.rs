//! Native checkpoint reading against what torch.load / safetensors / h5py read from the same
//! files (tests/gen_checkpoints.py): every tensor bit for bit, metadata, hostile and damaged files.

use crate::common;

use std::path::PathBuf;

use earshot_core::checkpoint::{self, CheckpointError};
use earshot_models::tensor::ToTch;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn dir() -> PathBuf {
    common::data_dir().join("checkpoints")
}

fn expected() -> Value {
    let path = dir().join("expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} — run scripts/test.sh (tests/gen_checkpoints.py)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Look a dotted path up in nested JSON objects.
fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    // Keys may themselves contain dots (`__class__` does not); walk greedily.
    path.split('.').try_fold(v, |node, key| {
        (node.get(key)).or_else(|| key.parse::<usize>().ok().and_then(|i| node.get(i)))
    })
}

#[test]
fn every_tensor_equals_the_reference_loader_bit_for_bit() {
    let exp = expected();
    let files = exp["files"].as_object().unwrap();
    assert!(files.len() >= 10);
    let mut report = Vec::new();
    for (name, want) in files {
        let ckpt = checkpoint::load(&dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            serde_json::to_value(ckpt.format).unwrap(),
            want["format"],
            "{name}: format"
        );
        let mut got: Vec<(String, String, Vec<usize>, String)> = ckpt
            .tensors
            .iter()
            .map(|(n, t)| {
                (
                    n.clone(),
                    t.dtype.name().to_string(),
                    t.shape.clone(),
                    hex(&Sha256::digest(&t.data)),
                )
            })
            .collect();
        let mut want_rows: Vec<(String, String, Vec<usize>, String)> = want["tensors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_string(),
                    t["dtype"].as_str().unwrap().to_string(),
                    t["shape"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|d| d.as_u64().unwrap() as usize)
                        .collect(),
                    t["sha256"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        if want["format"] != "hugging-face" {
            // torch.save and h5 keep the file's order.
            let names = |rows: &[(String, String, Vec<usize>, String)]| {
                rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>()
            };
            assert_eq!(names(&got), names(&want_rows), "{name}: tensor order");
        }
        got.sort();
        want_rows.sort();
        assert_eq!(got.len(), want_rows.len(), "{name}: tensor count");
        for (g, w) in got.iter().zip(&want_rows) {
            assert_eq!(g, w, "{name}: tensor differs from the reference");
        }
        for (path, value) in want["metadata"].as_object().unwrap() {
            assert_eq!(
                lookup(&ckpt.metadata, path),
                Some(value),
                "{name}: metadata {path} in {}",
                ckpt.metadata
            );
        }
        report.push(format!("{name}: {} tensors identical", got.len()));
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn hostile_pickles_are_refused_and_run_nothing() {
    let exp = expected();
    for (name, marker) in exp["hostile"].as_object().unwrap() {
        let marker = dir().join(marker.as_str().unwrap());
        let _ = std::fs::remove_file(&marker);
        match checkpoint::load(&dir().join(name)) {
            Err(CheckpointError::Hostile(what)) => assert!(!what.is_empty()),
            other => panic!("{name}: expected a refusal, got {other:?}"),
        }
        assert!(!marker.exists(), "{name}: the payload ran");
        // Through the CLI too: one clean line, non-zero exit.
        let out = common::earshot(&["checkpoint", "inspect", dir().join(name).to_str().unwrap()]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("error: ") && err.contains("refusing to load"),
            "{err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1);
        assert!(!marker.exists(), "{name}: the payload ran through the CLI");
    }
}

#[test]
fn damaged_files_give_clear_errors_without_huge_allocations() {
    let exp = expected();
    for (name, what) in exp["bad"].as_object().unwrap() {
        let path = dir().join(name);
        let err = match checkpoint::load(&path) {
            Ok(c) => panic!("{name} ({what}): loaded {} tensors", c.tensors.len()),
            Err(e) => e,
        };
        let ok = match name.as_str() {
            "bad_huge_storage_claim.pt" | "bad_huge_view.pt" | "bad_short_storage.pt" => {
                matches!(err, CheckpointError::StorageTooShort { .. })
            }
            "bad_unknown_dtype.pt" => err.to_string().contains("unknown storage type"),
            "bad_magic.pth" => err.to_string().contains("magic number"),
            "bad_random.pt" => matches!(err, CheckpointError::UnknownFormat),
            _ => matches!(err, CheckpointError::Format(_) | CheckpointError::Pickle(_)),
        };
        assert!(ok, "{name} ({what}): unexpected error {err:?}");
        let out = common::earshot(&["checkpoint", "inspect", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.starts_with(&format!("error: {}: ", path.display())),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn convert_to_safetensors_round_trips_and_select_strips_the_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("model.safetensors");
    let src = dir().join("nested_legacy.pth");
    let run = common::earshot(&[
        "checkpoint",
        "convert",
        src.to_str().unwrap(),
        out.to_str().unwrap(),
        "--select",
        "model.",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let original = checkpoint::load(&src).unwrap().select("model.");
    let converted = checkpoint::load(&out).unwrap();
    assert_eq!(converted.format, checkpoint::Format::Safetensors);
    let mut a = original.tensors.clone();
    let mut b = converted.tensors.clone();
    // complex64 survives; the order is safetensors' own.
    a.sort_by(|x, y| x.0.cmp(&y.0));
    b.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(a, b);
    assert!(b.iter().all(|(n, _)| !n.starts_with("model.")));
    assert_eq!(
        converted.metadata["iteration"], 660000,
        "metadata travels in the safetensors header"
    );

    let json = common::earshot(&[
        "checkpoint",
        "inspect",
        "--json",
        dir().join("hf_sharded").to_str().unwrap(),
    ]);
    assert!(json.status.success());
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["format"], "hugging-face");
    assert_eq!(v["metadata"]["config"]["hidden_size"], 32);
    let bad_target = common::earshot(&[
        "checkpoint",
        "convert",
        src.to_str().unwrap(),
        tmp.path().join("x.bin").to_str().unwrap(),
    ]);
    assert!(!bad_target.status.success());
}

#[test]
fn strict_loading_names_missing_unexpected_and_misshaped_keys() {
    use tch::nn;
    let ckpt = checkpoint::load(&dir().join("flat_state_dict.bin")).unwrap();
    // The module the file came from: Conv2d(1,4,3), BatchNorm2d(4), Linear(4,2).
    let build = |linear_out: i64| {
        let mut vs = nn::VarStore::new(tch::Device::Cpu);
        let root = vs.root();
        let _c = nn::conv2d(&root / "0", 1, 4, 3, Default::default());
        let _b = nn::batch_norm2d(&root / "1", 4, Default::default());
        let _l = nn::linear(&root / "2", 4, linear_out, Default::default());
        vs.set_kind(tch::Kind::Float);
        vs
    };
    let mut vs = build(2);
    let err = earshot_models::strict::load_into(&mut vs, &ckpt, &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("1.num_batches_tracked"),
        "unused keys are listed: {err}"
    );
    earshot_models::strict::load_into(&mut vs, &ckpt, &["*.num_batches_tracked"]).unwrap();
    let w = vs.variables()["0.weight"].copy();
    let want = ckpt.get("0.weight").unwrap().to_tch().unwrap();
    assert!(w.equal(&want));

    let mut wrong = build(3);
    let err = earshot_models::strict::load_into(&mut wrong, &ckpt, &["*.num_batches_tracked"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("shape mismatches") && err.contains("2.weight"),
        "{err}"
    );

    let mut extra = build(2);
    let _ = nn::linear(&extra.root() / "head", 2, 2, Default::default());
    let err = earshot_models::strict::load_into(&mut extra, &ckpt, &["*.num_batches_tracked"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing from the checkpoint") && err.contains("head.weight"),
        "{err}"
    );
}

#[test]
fn training_checkpoints_load_every_numeric_numpy_dtype_and_keep_the_rest_as_metadata() {
    let exp = expected();
    let mut checked = 0;
    for (name, want) in exp["files"].as_object().unwrap() {
        let Some(opaque) = want.get("opaque") else {
            continue;
        };
        let path = dir().join(name);
        let ckpt = checkpoint::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut got: Vec<&str> = ckpt
            .opaque
            .iter()
            .map(|o| o.split(": ").next().unwrap())
            .collect();
        let mut want: Vec<&str> = opaque
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{name}: values kept as opaque metadata");
        assert!(
            ckpt.metadata["not_numbers"]["dates"]
                .as_str()
                .is_some_and(|s| s.contains("kept as opaque metadata")),
            "{name}: {}",
            ckpt.metadata["not_numbers"]
        );

        // RandomState's key array reaches libtorch widened without loss; a uint64 beyond
        // int64 is refused rather than wrapped.
        let state = ckpt.get("rng_state.1").expect("RandomState key array");
        assert_eq!(state.dtype.name(), "uint32");
        let t = state.to_tch().unwrap();
        assert_eq!(t.kind(), tch::Kind::Int64);
        let first = u32::from_le_bytes(state.data[..4].try_into().unwrap());
        assert_eq!(t.int64_value(&[0]), i64::from(first));
        assert_eq!(t.max().int64_value(&[]), {
            let max = state
                .data
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap()));
            i64::from(max.max().unwrap())
        });
        let big = ckpt.get("scalars.u64").unwrap();
        assert!(big.to_tch().is_err(), "{name}: 2^63+5 does not fit int64");

        // The CLI says what it kept as metadata, and the model's tensors still load.
        let out = common::earshot_ok(&["checkpoint", "inspect", path.to_str().unwrap()]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.lines()
                .any(|l| l.starts_with("opaque: not_numbers.objects: numpy array of dtype 'O")),
            "{text}"
        );
        let json = common::earshot_ok(&["checkpoint", "inspect", "--json", path.to_str().unwrap()]);
        let v: Value = serde_json::from_slice(&json.stdout).unwrap();
        assert_eq!(v["opaque"].as_array().unwrap().len(), want.len());
        let dtype = |name: &str| {
            let rows = v["tensors"].as_array().unwrap();
            let row = rows.iter().find(|t| t["name"] == name);
            row.map(|t| t["dtype"].as_str().unwrap().to_string())
        };
        assert_eq!(dtype("rng_state.1").as_deref(), Some("uint32"));
        assert_eq!(dtype("numpy.u2_be").as_deref(), Some("uint16"));
        assert_eq!(dtype("numpy.c16_be").as_deref(), Some("complex128"));
        assert_eq!(dtype("not_numbers.strings"), None);
        checked += 1;
    }
    assert_eq!(checked, 2, "the zip and legacy training checkpoints");
}
