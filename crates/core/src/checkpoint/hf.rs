//! Hugging Face model folders: `config.json` (and `preprocessor_config.json`) beside the weights,
//! which are `model.safetensors` or `pytorch_model.bin`, or shards listed in
//! `model.safetensors.index.json` / `pytorch_model.bin.index.json` (`weight_map`: name → file).
//! Safetensors is preferred when both are present, as `from_pretrained` does.

use std::path::Path;

use serde_json::{Map, Value as Json};

use super::{Checkpoint, CheckpointError, Format, Result};

fn read_json(path: &Path) -> Result<Option<Json>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| CheckpointError::Format(format!("{}: invalid JSON: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn load_weight_file(path: &Path) -> Result<Checkpoint> {
    super::load(path).map_err(|e| CheckpointError::Format(format!("{}: {e}", path.display())))
}

/// Read a Hugging Face model folder.
pub fn load_folder(dir: &Path) -> Result<Checkpoint> {
    let mut metadata = Map::new();
    for name in ["config.json", "preprocessor_config.json"] {
        if let Some(j) = read_json(&dir.join(name))? {
            metadata.insert(name.trim_end_matches(".json").to_string(), j);
        }
    }
    let single = ["model.safetensors", "pytorch_model.bin"]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file());
    let index = [
        "model.safetensors.index.json",
        "pytorch_model.bin.index.json",
    ]
    .into_iter()
    .map(|n| dir.join(n))
    .find(|p| p.is_file());
    let tensors = match (single, index) {
        (Some(file), _) => load_weight_file(&file)?.tensors,
        (None, Some(index_path)) => {
            let index = read_json(&index_path)?.unwrap_or(Json::Null);
            let map = index["weight_map"].as_object().ok_or_else(|| {
                CheckpointError::Format(format!("{}: no weight_map", index_path.display()))
            })?;
            let mut shards: Vec<&str> = map.values().filter_map(Json::as_str).collect();
            shards.sort_unstable();
            shards.dedup();
            let mut tensors = Vec::new();
            for shard in shards {
                if shard.contains('/') || shard.contains("..") {
                    return Err(CheckpointError::Format(format!(
                        "shard name {shard:?} leaves the folder"
                    )));
                }
                tensors.extend(load_weight_file(&dir.join(shard))?.tensors);
            }
            let missing: Vec<&String> = map
                .keys()
                .filter(|k| !tensors.iter().any(|(n, _)| n == *k))
                .collect();
            if !missing.is_empty() {
                return Err(CheckpointError::Format(format!(
                    "{} lists {} tensors that no shard holds, e.g. {}",
                    index_path.display(),
                    missing.len(),
                    missing[0]
                )));
            }
            tensors
        }
        (None, None) => {
            return Err(CheckpointError::Format(format!(
                "{}: a folder without model.safetensors, pytorch_model.bin or a shard index",
                dir.display()
            )))
        }
    };
    Ok(Checkpoint {
        format: Format::HuggingFace,
        tensors,
        metadata: Json::Object(metadata),
        opaque: Vec::new(),
    })
}
