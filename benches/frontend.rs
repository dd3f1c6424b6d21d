//! Front-end throughput per preset (criterion): 30 s of the generated speech/tone mixture,
//! already at the front end's rate, through `Frontend::compute` (all cores, rayon) and through
//! a one-thread pool. Run `scripts/test.sh` (or tests/gen_reference.py) once before
//! `cargo bench --bench frontend`.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use earshot::audio::{self, LoadOptions};
use earshot::frontend::Preset;

fn signal(sr: u32, seconds: usize) -> Vec<f32> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/generated/audio/mix_flac24_48k_stereo.flac");
    let clip = audio::load(&path, LoadOptions::mono(sr))
        .unwrap_or_else(|e| panic!("{}: {e} (run tests/gen_reference.py first)", path.display()))
        .samples;
    clip.iter()
        .copied()
        .cycle()
        .take(seconds * sr as usize)
        .collect()
}

fn bench(c: &mut Criterion) {
    const SECONDS: usize = 30;
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    for (label, pool) in [("all_threads", None), ("one_thread", Some(&one_thread))] {
        let mut group = c.benchmark_group(format!("frontend_{label}"));
        // Throughput in audio milliseconds per second of wall time.
        group.throughput(Throughput::Elements((SECONDS * 1000) as u64));
        for preset in Preset::ALL {
            let frontend = preset.build();
            let wave = signal(frontend.sample_rate(), SECONDS);
            group.bench_function(preset.name(), |b| {
                b.iter(|| match pool {
                    Some(pool) => pool.install(|| frontend.compute(&wave).unwrap()),
                    None => frontend.compute(&wave).unwrap(),
                })
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
