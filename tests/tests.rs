//! The test suite as one binary, as ripgrep's `tests/tests.rs`: each file below is a module
//! sharing `common` (the generated data, the reference manifests, the binary runner), so
//! libtorch and the crates are linked once, not once per file.
//!
//! Run one part with its module path: `cargo test --release --test tests panns_seeded::`.

mod common;

mod audio;
mod checkpoint;
mod cli;
mod cli_eval;
mod datasets;
mod eval_run;
mod frontend;
mod fuzz_regressions;
mod metrics;
mod models;
mod openl3;
mod panns;
mod panns_seeded;
mod passt;
mod review;
mod sed_eval;
mod shard;
mod speech;
mod train;
mod yamnet;
