//! earshot: sound event tagging, detection, audio and speech embeddings, and AudioSet/DCASE
//! evaluation, with numbers that agree with the Python reference packages.
//!
//! The pipeline flows one way: [`audio`] (file → waveform) → front ends → backbones → tasks →
//! metrics. [`cli`] turns command lines into runs of that pipeline; [`npy`] and [`wav`] write
//! the arrays and audio the field exchanges.

pub mod audio;
pub mod checkpoint;
pub mod cli;
pub mod datasets;
pub mod device;
pub mod frontend;
pub mod metrics;
pub mod models;
pub mod npy;
pub mod parquet_table;
pub mod tasks;
pub mod wav;
