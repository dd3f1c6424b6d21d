//! Keras HDF5 weight files (`model.save_weights` / `model.save`), as OpenL3 publishes them.
//!
//! Layout (Keras 2): the weights live at the root or under `model_weights/`; each layer is a
//! group (`conv2d_1`), its weights datasets at `<layer>/<weight name>` such as
//! `conv2d_1/conv2d_1/kernel:0` or `batch_normalization_1/batch_normalization_1/gamma:0`. Tensor
//! names here are those paths, relative to the weights root, as stored; a model family maps them
//! to its own names (and transposes Keras' HWIO kernels) in one place. Read through the system
//! libhdf5 (`hdf5-metno`).

use std::path::Path;

use hdf5_metno as hdf5;
use hdf5_metno::types::{FloatSize, IntSize, TypeDescriptor};
use serde_json::{Map, Value as Json};

use super::{Checkpoint, CheckpointError, DType, Format, RawTensor, Result};

fn h5_err(e: hdf5::Error) -> CheckpointError {
    CheckpointError::Format(format!("HDF5: {e}"))
}

fn bytes_of<T: Copy>(values: Vec<T>) -> Vec<u8> {
    let len = std::mem::size_of_val(values.as_slice());
    // SAFETY: T is a plain numeric type (f32/f64/i32/...), so its bytes are initialised.
    let bytes = unsafe { std::slice::from_raw_parts(values.as_ptr() as *const u8, len) };
    bytes.to_vec()
}

fn read_dataset(ds: &hdf5::Dataset) -> Result<RawTensor> {
    let shape = ds.shape();
    let desc = ds.dtype().and_then(|t| t.to_descriptor()).map_err(h5_err)?;
    let (dtype, data) = match desc {
        TypeDescriptor::Float(FloatSize::U4) => {
            (DType::F32, bytes_of(ds.read_raw::<f32>().map_err(h5_err)?))
        }
        TypeDescriptor::Float(FloatSize::U8) => {
            (DType::F64, bytes_of(ds.read_raw::<f64>().map_err(h5_err)?))
        }
        TypeDescriptor::Integer(IntSize::U4) => {
            (DType::I32, bytes_of(ds.read_raw::<i32>().map_err(h5_err)?))
        }
        TypeDescriptor::Integer(IntSize::U8) => {
            (DType::I64, bytes_of(ds.read_raw::<i64>().map_err(h5_err)?))
        }
        TypeDescriptor::Unsigned(IntSize::U1) => (DType::U8, ds.read_raw::<u8>().map_err(h5_err)?),
        other => {
            return Err(CheckpointError::Format(format!(
                "{}: unsupported HDF5 type {other:?}",
                ds.name()
            )))
        }
    };
    Ok(RawTensor { dtype, shape, data })
}

fn walk(
    group: &hdf5::Group,
    prefix: &str,
    depth: usize,
    out: &mut Vec<(String, RawTensor)>,
) -> Result<()> {
    if depth > 16 {
        return Err(CheckpointError::Format(
            "HDF5 groups nested too deeply".into(),
        ));
    }
    let mut names = group.member_names().map_err(h5_err)?;
    names.sort_by_key(|n| natural_key(n));
    for name in names {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        match group.loc_type_by_name(&name).map_err(h5_err)? {
            hdf5::LocationType::Group => {
                walk(&group.group(&name).map_err(h5_err)?, &path, depth + 1, out)?
            }
            hdf5::LocationType::Dataset => {
                out.push((path, read_dataset(&group.dataset(&name).map_err(h5_err)?)?))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Sort `conv2d_2` before `conv2d_10`.
fn natural_key(s: &str) -> (String, u64, String) {
    let digits_at = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
    let rest = &s[digits_at..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    (
        s[..digits_at].to_string(),
        rest[..end].parse().unwrap_or(0),
        rest[end..].to_string(),
    )
}

fn string_attr(loc: &hdf5::Group, name: &str) -> Option<String> {
    let attr = loc.attr(name).ok()?;
    if let Ok(s) = attr.read_scalar::<hdf5::types::VarLenUnicode>() {
        return Some(s.as_str().to_string());
    }
    if let Ok(s) = attr.read_scalar::<hdf5::types::VarLenAscii>() {
        return Some(s.as_str().to_string());
    }
    // h5py stores `bytes` attributes as fixed-length strings of their own length; reading into a
    // longer fixed string is a "soft" HDF5 conversion.
    let reader = attr.as_reader().conversion(hdf5::Conversion::Soft);
    reader
        .read_scalar::<hdf5::types::FixedAscii<1024>>()
        .ok()
        .map(|s| s.as_str().to_string())
}

/// Read a Keras `.h5` weight file.
pub fn load_h5(path: &Path) -> Result<Checkpoint> {
    let file = hdf5::File::open(path).map_err(h5_err)?;
    let root: hdf5::Group = if file.link_exists("model_weights") {
        file.group("model_weights").map_err(h5_err)?
    } else {
        file.group("/").map_err(h5_err)?
    };
    let mut tensors = Vec::new();
    walk(&root, "", 0, &mut tensors)?;
    let mut metadata = Map::new();
    for key in ["keras_version", "backend"] {
        if let Some(v) = string_attr(&root, key).or_else(|| string_attr(&file, key)) {
            metadata.insert(key.into(), Json::String(v));
        }
    }
    Ok(Checkpoint {
        format: Format::KerasH5,
        tensors,
        metadata: Json::Object(metadata),
        opaque: Vec::new(),
    })
}
