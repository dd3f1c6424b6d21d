//! safetensors files (the `safetensors` crate validates the header and offsets), and writing them
//! for `earshot checkpoint convert`.

use std::collections::HashMap;
use std::path::Path;

use ::safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde_json::Value as Json;

use super::{Checkpoint, CheckpointError, DType, Format, RawTensor, Result};

/// Metadata key under which `convert` stores the source checkpoint's non-tensor content.
pub const METADATA_KEY: &str = "earshot.metadata";

fn from_st(dtype: Dtype) -> Result<DType> {
    Ok(match dtype {
        Dtype::BOOL => DType::Bool,
        Dtype::U8 => DType::U8,
        Dtype::I8 => DType::I8,
        Dtype::I16 => DType::I16,
        Dtype::I32 => DType::I32,
        Dtype::I64 => DType::I64,
        Dtype::U16 => DType::U16,
        Dtype::U32 => DType::U32,
        Dtype::U64 => DType::U64,
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        Dtype::F32 => DType::F32,
        Dtype::F64 => DType::F64,
        Dtype::C64 => DType::C64,
        other => {
            return Err(CheckpointError::Format(format!(
                "unsupported safetensors dtype {other:?}"
            )))
        }
    })
}

fn to_st(dtype: DType) -> Result<Dtype> {
    Ok(match dtype {
        DType::Bool => Dtype::BOOL,
        DType::U8 => Dtype::U8,
        DType::I8 => Dtype::I8,
        DType::I16 => Dtype::I16,
        DType::I32 => Dtype::I32,
        DType::I64 => Dtype::I64,
        DType::U16 => Dtype::U16,
        DType::U32 => Dtype::U32,
        DType::U64 => Dtype::U64,
        DType::F16 => Dtype::F16,
        DType::BF16 => Dtype::BF16,
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
        DType::C64 => Dtype::C64,
        DType::C128 => {
            return Err(CheckpointError::Format(
                "safetensors has no complex128".into(),
            ))
        }
    })
}

/// Parse safetensors bytes.
pub fn parse(bytes: &[u8]) -> Result<(Vec<(String, RawTensor)>, Json)> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| CheckpointError::Format(format!("invalid safetensors file: {e}")))?;
    // File order (by data offset), as Python's `load_file` gives it.
    let mut views: Vec<_> = st.iter().collect();
    views.sort_by_key(|(name, view)| (view.data().as_ptr() as usize, name.to_string()));
    let mut tensors = Vec::with_capacity(views.len());
    for (name, view) in views {
        tensors.push((
            name.to_string(),
            RawTensor {
                dtype: from_st(view.dtype())?,
                shape: view.shape().to_vec(),
                data: view.data().to_vec(),
            },
        ));
    }
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| CheckpointError::Format(format!("invalid safetensors file: {e}")))?;
    let metadata = match header.metadata() {
        Some(m) => match m.get(METADATA_KEY) {
            Some(text) => serde_json::from_str(text).unwrap_or(Json::String(text.clone())),
            None => Json::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                    .collect(),
            ),
        },
        None => Json::Null,
    };
    Ok((tensors, metadata))
}

/// Read a safetensors file.
pub fn load(path: &Path) -> Result<Checkpoint> {
    let bytes = std::fs::read(path)?;
    let (tensors, metadata) = parse(&bytes)?;
    Ok(Checkpoint {
        format: Format::Safetensors,
        tensors,
        metadata,
        opaque: Vec::new(),
    })
}

/// Write `ckpt`'s tensors (and its metadata as JSON under [`METADATA_KEY`]) to `path`.
pub fn save(ckpt: &Checkpoint, path: &Path) -> Result<()> {
    let views = ckpt
        .tensors
        .iter()
        .map(|(name, t)| {
            let view = TensorView::new(to_st(t.dtype)?, t.shape.clone(), &t.data)
                .map_err(|e| CheckpointError::Format(format!("{name}: {e}")))?;
            Ok((name.clone(), view))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut info = HashMap::new();
    if !ckpt.metadata.is_null() {
        info.insert(METADATA_KEY.to_string(), ckpt.metadata.to_string());
    }
    ::safetensors::tensor::serialize_to_file(views, Some(info), path)
        .map_err(|e| CheckpointError::Format(format!("cannot write safetensors: {e}")))
}
