//! Fuzz the audio decode path (probe, decode, downmix, resample) on arbitrary bytes. The first
//! byte picks the file extension, so every container's probe sees the data. Errors are the
//! expected outcome; a panic, hang or runaway allocation is a bug.
#![no_main]

use earshot_core::audio::{self, LoadOptions};
use libfuzzer_sys::fuzz_target;

const EXTENSIONS: &[&str] = &["wav", "flac", "mp3", "ogg", "m4a"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let ext = EXTENSIONS[pick as usize % EXTENSIONS.len()];
    let path = std::env::temp_dir().join(format!("earshot-fuzz-audio-{}.{ext}", std::process::id()));
    if std::fs::write(&path, body).is_ok() {
        let _ = audio::probe(&path);
        let _ = audio::load(&path, LoadOptions::mono(16000));
    }
});
