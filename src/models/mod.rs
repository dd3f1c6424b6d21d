//! Model backbones and what describes them.
//!
//! [`registry`] is the list of published checkpoints (timm's `default_cfgs`): one [`ModelSpec`]
//! per model card under `models/`, embedded in the binary. [`labels`] is the AudioSet class list
//! that tagging checkpoints' outputs are indexed by. [`fetch`] downloads a card's checkpoint
//! into the local cache, resumably and with its checksum verified. The families' networks live
//! beside them, one file per family (`panns.rs`, `passt.rs`, `openl3.rs`, `wav2vec2.rs`).
//!
//! [`ModelSpec`]: registry::ModelSpec

pub mod fetch;
pub mod labels;
pub mod panns;
pub mod registry;
