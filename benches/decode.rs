//! Decode + resample throughput per format (criterion), on the files `tests/gen_reference.py`
//! generates. Run `scripts/test.sh` (or the generator) once before `cargo bench --bench decode`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use earshot_core::audio::{self, LoadOptions};

#[path = "../tests/common/generated.rs"]
mod generated;

const FILES: &[&str] = &[
    "tones_s16_44k_stereo.wav",
    "mix_flac24_48k_stereo.flac",
    "mix_mp3_44k_stereo.mp3",
    "mix_ogg_44k_stereo.ogg",
    "mix_m4a_44k_stereo.m4a",
];

fn bench(c: &mut Criterion) {
    let dir = generated::generated_dir().join("audio");
    let mut group = c.benchmark_group("decode_resample_32k_mono");
    for name in FILES {
        let path = dir.join(name);
        let seconds = audio::load(&path, LoadOptions::new(None, true))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .duration();
        // Throughput in audio milliseconds per second of wall time.
        group.throughput(Throughput::Elements((seconds * 1000.0) as u64));
        group.bench_function(*name, |b| {
            b.iter(|| audio::load(&path, LoadOptions::mono(32000)).unwrap())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
