//! Parser robustness on every test run: replay the inputs `cargo fuzz` once crashed on
//! (fuzz/regressions/), then a bounded, seeded mutation pass over the generated checkpoints
//! (bit flips, byte overwrites, truncations, splices). Every reader must return (Ok or Err),
//! never panic. The long-running fuzzing is `cargo fuzz run checkpoint` (fuzz/README.md).

use crate::common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use earshot_core::checkpoint::pickle::{StorageLayout, Unpickler};
use earshot_core::checkpoint::{safetensors, torch};

fn exercise(data: &[u8]) {
    let _ = Unpickler::new(data, StorageLayout::Zip).load();
    let _ = Unpickler::new(data, StorageLayout::Legacy).load();
    let _ = torch::read_legacy(data);
    let _ = torch::read_zip(std::io::Cursor::new(data));
    let _ = safetensors::parse(data);
}

/// xorshift64: the same mutations on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// One to four bit flips, byte overwrites, truncations, huge length-like values or splices from
/// another seed, applied to a random seed.
fn mutate(seeds: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
    let mut data = seeds[rng.next() as usize % seeds.len()].clone();
    for _ in 0..1 + rng.next() % 4 {
        if data.is_empty() {
            break;
        }
        let at = rng.next() as usize % data.len();
        match rng.next() % 5 {
            0 => data[at] ^= 1 << (rng.next() % 8),
            1 => data[at] = rng.next() as u8,
            2 => data.truncate(at),
            3 => {
                // Overwrite with a length-like value, the classic way to claim huge sizes.
                let v = (rng.next() as u32 | 0x8000_0000).to_le_bytes();
                let end = (at + 4).min(data.len());
                data[at..end].copy_from_slice(&v[..end - at]);
            }
            _ => {
                let other = &seeds[rng.next() as usize % seeds.len()];
                let from = rng.next() as usize % other.len().max(1);
                let len = (rng.next() as usize % 64).min(other.len().saturating_sub(from));
                data.splice(at..at, other[from..from + len].iter().copied());
            }
        }
    }
    data
}

/// Small files under `dir` (recursively) as seeds, sorted.
fn seeds_under(dir: &Path, max_len: u64, out: &mut Vec<Vec<u8>>) {
    for entry in std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e} — run scripts/test.sh", dir.display()))
    {
        let p = entry.unwrap().path();
        if p.is_dir() {
            seeds_under(&p, max_len, out);
        } else if std::fs::metadata(&p).unwrap().len() < max_len {
            out.push(std::fs::read(&p).unwrap());
        }
    }
    out.sort();
}

/// Run `f` on `data` written to a file with extension `ext`; a panic fails the test with the
/// input saved.
fn check_file(label: &str, ext: &str, data: &[u8], f: impl Fn(&Path)) {
    let dir = std::env::temp_dir();
    let path = dir.join(format!("earshot-fuzz-{}-{label}.{ext}", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let ok = catch_unwind(AssertUnwindSafe(|| f(&path))).is_ok();
    if ok {
        std::fs::remove_file(&path).unwrap();
    } else {
        panic!("{label}: panicked; input kept at {}", path.display());
    }
}

#[test]
fn seeded_mutations_of_dataset_metadata_never_panic() {
    let mut seeds = Vec::new();
    seeds_under(&common::data_dir().join("datasets"), 1 << 16, &mut seeds);
    seeds_under(&common::data_dir().join("metrics"), 1 << 16, &mut seeds);
    seeds.retain(|s| std::str::from_utf8(s).is_ok());
    assert!(seeds.len() >= 20, "seed corpus");
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for round in 0..3000 {
        let data = mutate(&seeds, &mut rng);
        check_file(&format!("meta{round}"), "tsv", &data, |p| {
            earshot_core::datasets::parse_with_every_loader(p)
        });
    }
}

#[test]
fn seeded_mutations_of_audio_files_never_panic() {
    let mut seeds = Vec::new();
    seeds_under(&common::data_dir().join("audio"), 1 << 17, &mut seeds);
    assert!(seeds.len() >= 8, "seed corpus");
    let exts = ["wav", "flac", "mp3", "ogg", "m4a"];
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for round in 0..600 {
        let data = mutate(&seeds, &mut rng);
        let ext = exts[rng.next() as usize % exts.len()];
        check_file(&format!("audio{round}"), ext, &data, |p| {
            let _ = earshot_core::audio::probe(p);
            let _ = earshot_core::audio::load(p, earshot_core::audio::LoadOptions::mono(16000));
        });
    }
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
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..20000 {
        let data = mutate(&seeds, &mut rng);
        check(&format!("round{round}"), &data);
    }
}
