//! Parser robustness on every test run: replay the inputs `cargo fuzz` once crashed on
//! (fuzz/regressions/), then a bounded, seeded mutation pass over the generated checkpoints
//! (bit flips, byte overwrites, truncations, splices). Every reader must return (Ok or Err),
//! never panic. The long-running fuzzing is `cargo fuzz run checkpoint` (fuzz/README.md).

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use earshot::checkpoint::pickle::{StorageLayout, Unpickler};
use earshot::checkpoint::{safetensors, torch};

fn exercise(data: &[u8]) {
    let _ = Unpickler::new(data, StorageLayout::Zip).load();
    let _ = Unpickler::new(data, StorageLayout::Legacy).load();
    let _ = torch::read_legacy(data);
    let _ = torch::read_zip(std::io::Cursor::new(data));
    let _ = safetensors::parse(data);
}

fn check(label: &str, data: &[u8]) {
    if catch_unwind(AssertUnwindSafe(|| exercise(data))).is_err() {
        let dump = std::env::temp_dir().join(format!("earshot-fuzz-{label}.bin"));
        std::fs::write(&dump, data).unwrap();
        panic!(
            "{label}: a reader panicked; input saved to {}",
            dump.display()
        );
    }
}

#[test]
fn saved_crashes_stay_fixed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/checkpoint");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            check(
                &path.file_name().unwrap().to_string_lossy(),
                &std::fs::read(&path).unwrap(),
            );
        }
    }
}

#[test]
fn seeded_mutations_of_real_checkpoints_never_panic() {
    let dir = common::data_dir().join("checkpoints");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} — run scripts/test.sh", dir.display()))
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.is_file() && std::fs::metadata(&p).ok()?.len() < 1 << 20)
                .then(|| std::fs::read(&p).ok())?
        })
        .collect();
    assert!(seeds.len() >= 15, "seed corpus");
    seeds.sort();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let rounds = 20000;
    for round in 0..rounds {
        let seed = &seeds[rand() as usize % seeds.len()];
        let mut data = seed.clone();
        for _ in 0..1 + rand() % 4 {
            if data.is_empty() {
                break;
            }
            let at = rand() as usize % data.len();
            match rand() % 5 {
                0 => data[at] ^= 1 << (rand() % 8),
                1 => data[at] = rand() as u8,
                2 => data.truncate(at),
                3 => {
                    // Overwrite with a length-like value, the classic way to claim huge sizes.
                    let v = (rand() as u32 | 0x8000_0000).to_le_bytes();
                    let end = (at + 4).min(data.len());
                    data[at..end].copy_from_slice(&v[..end - at]);
                }
                _ => {
                    let other = &seeds[rand() as usize % seeds.len()];
                    let from = rand() as usize % other.len().max(1);
                    let len = (rand() as usize % 64).min(other.len().saturating_sub(from));
                    data.splice(at..at, other[from..from + len].iter().copied());
                }
            }
        }
        check(&format!("round{round}"), &data);
    }
}
