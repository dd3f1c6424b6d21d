//! earshot-core: everything earshot does without libtorch, so that the `earshot` binary, the
//! metrics and the Python package's fast paths never load it.
//!
//! The pipeline flows one way: [`audio`] (file → waveform) → [`frontend`] (waveform → the
//! features a backbone's reference front end computes) → backbones (the `earshot-models` crate)
//! → [`outputs`] (clip scores, frames, embeddings, events) → [`metrics`]. [`checkpoint`] reads
//! every published checkpoint format into plain tensors without executing code; [`registry`]
//! holds the model cards and their labels ([`labels`]); [`datasets`] reads AudioSet and DCASE
//! metadata; [`npy`], [`parquet_table`] and [`wav`] write the arrays, tables and audio the field
//! exchanges.

pub mod audio;
pub mod checkpoint;
pub mod ctc;
pub mod datasets;
pub mod device;
pub mod embedding_cache;
pub mod frontend;
pub mod inputs;
pub mod labels;
pub mod metrics;
pub mod npy;
pub mod outputs;
pub mod parquet_table;
pub mod registry;
pub mod wav;
