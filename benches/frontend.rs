//! Front-end throughput per preset (criterion): 30 s of the generated speech/tone mixture,
//! already at the front end's rate, through `Frontend::compute` (all cores, rayon) and through
//! a one-thread pool. Run `scripts/test.sh` (or tests/gen_reference.py) once before
//! `cargo bench --bench frontend`.
//!
//! `cargo bench --bench frontend -- --cpu` instead prints, per preset and thread count, audio
//! seconds per CPU second and per wall second (benches/frontend_vs_python.py reads it): on a
//! shared machine CPU time is the figure that does not depend on the neighbours.

use criterion::{criterion_group, Criterion, Throughput};
use earshot_core::audio::{self, LoadOptions};
use earshot_core::frontend::Preset;

#[path = "../tests/common/generated.rs"]
mod generated;

fn signal(sr: u32, seconds: usize) -> Vec<f32> {
    let path = generated::generated_dir().join("audio/mix_flac24_48k_stereo.flac");
    let clip = audio::load(&path, LoadOptions::mono(sr))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
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

/// This process's CPU time (all threads), from /proc/self/stat (Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ
}

fn cpu_report() {
    const SECONDS: usize = 30;
    println!("preset threads cpu_xrt wall_xrt");
    for preset in Preset::ALL {
        let frontend = preset.build();
        let wave = signal(frontend.sample_rate(), SECONDS);
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| frontend.compute(&wave).unwrap());
            let (cpu0, wall0) = (cpu_seconds(), std::time::Instant::now());
            let mut runs = 0;
            while cpu_seconds() - cpu0 < 2.0 || runs < 3 {
                std::hint::black_box(pool.install(|| frontend.compute(&wave).unwrap()));
                runs += 1;
            }
            let audio = (runs * SECONDS) as f64;
            let (cpu, wall) = (cpu_seconds() - cpu0, wall0.elapsed().as_secs_f64());
            println!(
                "{} {threads} {:.1} {:.1}",
                preset.name(),
                audio / cpu,
                audio / wall
            );
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}

fn main() {
    if std::env::args().any(|a| a == "--cpu") {
        cpu_report();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
