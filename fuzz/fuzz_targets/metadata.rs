//! Fuzz the dataset metadata loaders (AudioSet CSV/JSON/TSV, DCASE TSVs and score tables,
//! ESC-50, FSD50K, TAU, UrbanSound8K) on arbitrary bytes written to a file. Errors and issues are
//! the expected outcome; a panic or hang is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("earshot-fuzz-meta-{}.tsv", std::process::id()));
    if std::fs::write(&path, data).is_ok() {
        earshot_core::datasets::parse_with_every_loader(&path);
    }
});
