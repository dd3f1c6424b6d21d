//! `torch.save` files: the zip format (torch ≥ 1.6) and the legacy format.
//!
//! Zip: `<archive>/data.pkl` is the pickle; each storage is the entry `<archive>/data/<key>`
//! (stored, raw bytes); `<archive>/byteorder` says `little` or `big` (absent means little).
//! The persistent id of a storage is `('storage', torch.<Type>Storage, key, location, numel)`.
//!
//! Legacy (`_use_new_zipfile_serialization=False`, and every file from torch < 1.6, such as the
//! PANNs checkpoints): five things back to back — the pickled magic number
//! 0x1950a86a20f9469cfc6c, the protocol version 1001, a system-info dict (with
//! `little_endian`), the object pickle whose persistent ids are
//! `('storage', type, root_key, location, numel, view_metadata)`, the pickled sorted list of
//! storage keys — then for each key in that order an int64 element count and the raw bytes.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;

use super::pickle::{StorageLayout, TensorSpec, Unpickler, Value};
use super::{flatten, gather, swap_bytes, Checkpoint, CheckpointError, Format, RawTensor, Result};

/// Materialise a view, checking it lies inside its storage.
fn view(name: &str, spec: &TensorSpec, storage: &[u8], big_endian: bool) -> Result<RawTensor> {
    let elem = spec.dtype.size() as u64;
    let declared = spec.storage_numel.checked_mul(elem);
    if declared != Some(storage.len() as u64) {
        return Err(CheckpointError::StorageTooShort {
            name: name.to_string(),
            storage: spec.storage_key.clone(),
            needed: declared.unwrap_or(u64::MAX),
            available: storage.len() as u64,
        });
    }
    let numel = spec.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
    // Index of the last element the view touches (empty views touch nothing).
    let last = if numel == Some(0) {
        Some(0)
    } else {
        spec.shape
            .iter()
            .zip(&spec.stride)
            .try_fold(spec.offset, |acc, (&d, &s)| {
                d.checked_sub(1)
                    .and_then(|d1| d1.checked_mul(s))
                    .and_then(|x| acc.checked_add(x))
            })
    };
    let fits = match (numel, last) {
        (Some(0), _) => true,
        (Some(_), Some(last)) => last < spec.storage_numel,
        _ => false,
    };
    if !fits {
        return Err(CheckpointError::StorageTooShort {
            name: name.to_string(),
            storage: spec.storage_key.clone(),
            needed: last
                .and_then(|l| (l + 1).checked_mul(elem))
                .unwrap_or(u64::MAX),
            available: storage.len() as u64,
        });
    }
    let mut data = gather(
        storage,
        elem as usize,
        spec.offset,
        &spec.shape,
        &spec.stride,
    );
    if big_endian {
        swap_bytes(&mut data, spec.dtype);
    }
    Ok(RawTensor {
        dtype: spec.dtype,
        shape: spec.shape.iter().map(|&d| d as usize).collect(),
        data,
    })
}

fn zip_error(e: zip::result::ZipError) -> CheckpointError {
    match e {
        zip::result::ZipError::Io(e) => CheckpointError::Io(e),
        other => CheckpointError::Format(format!("damaged zip archive: {other}")),
    }
}

/// Whether a view is the whole storage in C order.
fn covers_whole_storage(spec: &TensorSpec) -> bool {
    let numel: u64 = spec.shape.iter().product();
    let mut expected = 1u64;
    let contiguous = spec.shape.iter().zip(&spec.stride).rev().all(|(&d, &st)| {
        let ok = d == 1 || st == expected;
        expected *= d;
        ok
    });
    spec.offset == 0 && numel == spec.storage_numel && contiguous
}

/// Read a zip-format `torch.save` file.
pub fn load_zip(path: &Path) -> Result<Checkpoint> {
    read_zip(File::open(path)?)
}

/// Read a zip-format `torch.save` archive from any seekable reader.
pub fn read_zip<R: Read + Seek>(reader: R) -> Result<Checkpoint> {
    let mut archive = zip::ZipArchive::new(reader).map_err(zip_error)?;
    let pkl_name = archive
        .file_names()
        .filter(|n| *n == "data.pkl" || n.ends_with("/data.pkl"))
        .min_by_key(|n| n.len())
        .map(str::to_string)
        .ok_or_else(|| {
            CheckpointError::Format("zip archive has no data.pkl: not a torch.save file".into())
        })?;
    let prefix = pkl_name.strip_suffix("data.pkl").unwrap_or("").to_string();

    let read_entry = |archive: &mut zip::ZipArchive<R>, name: &str| -> Result<Vec<u8>> {
        let mut entry = archive.by_name(name).map_err(zip_error)?;
        // The size comes from the archive directory; read at most that much.
        let mut buf = Vec::with_capacity(entry.size().min(1 << 30) as usize);
        entry.read_to_end(&mut buf)?;
        Ok(buf)
    };

    let big_endian = match read_entry(&mut archive, &format!("{prefix}byteorder")) {
        Ok(b) => b.trim_ascii() == b"big",
        Err(_) => false,
    };
    let pkl = read_entry(&mut archive, &pkl_name)?;
    let value = Unpickler::new(&pkl, StorageLayout::Zip).load()?;

    let mut usage = HashMap::new();
    storage_usage(&value, &mut usage, 0);
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    let mut resolve = |name: &str, spec: &TensorSpec| -> Result<RawTensor> {
        let bytes = match storages.remove(&spec.storage_key) {
            Some(bytes) => bytes,
            None => {
                let entry = format!("{prefix}data/{}", spec.storage_key);
                read_entry(&mut archive, &entry).map_err(|e| match e {
                    CheckpointError::Format(_) => CheckpointError::Format(format!(
                        "storage {entry} is missing from the archive"
                    )),
                    other => other,
                })?
            }
        };
        let only_user = usage.get(&spec.storage_key).is_some_and(|u| u.1 == 1);
        let full_size = bytes.len() as u64 == spec.storage_numel * spec.dtype.size() as u64;
        if only_user && !big_endian && full_size && covers_whole_storage(spec) {
            // The common case (one tensor per storage): hand the bytes over without a copy.
            let shape = spec.shape.iter().map(|&d| d as usize).collect();
            return Ok(RawTensor {
                dtype: spec.dtype,
                shape,
                data: bytes,
            });
        }
        let tensor = view(name, spec, &bytes, big_endian);
        storages.insert(spec.storage_key.clone(), bytes);
        tensor
    };
    let (flat, metadata) = flatten(&value, &mut resolve)?;
    Ok(Checkpoint {
        format: Format::TorchZip,
        tensors: flat.tensors,
        metadata,
        opaque: flat.opaque,
    })
}

/// Read a legacy-format `torch.save` file.
pub fn load_legacy(path: &Path) -> Result<Checkpoint> {
    let file = File::open(path)?;
    // SAFETY: the map is read-only and lives only while this function reads it; a file changed
    // underneath us could give wrong numbers but not memory unsafety in the slices we copy.
    let map = unsafe { memmap2::Mmap::map(&file)? };
    read_legacy(&map)
}

/// Read legacy-format `torch.save` bytes.
pub fn read_legacy(data: &[u8]) -> Result<Checkpoint> {
    let mut pos = 0usize;
    let mut next = |layout: StorageLayout| -> Result<Value> {
        let mut u = Unpickler::new(&data[pos..], layout);
        let v = u.load()?;
        pos += u.position();
        Ok(v)
    };
    let magic = next(StorageLayout::Legacy)?;
    let is_magic = matches!(&magic, Value::BigInt(b) if b.as_slice() == [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);
    if !is_magic {
        return Err(CheckpointError::Format(
            "pickle file without torch's magic number: not a torch.save file".into(),
        ));
    }
    match next(StorageLayout::Legacy)? {
        Value::Int(1001) => {}
        other => {
            return Err(CheckpointError::Format(format!(
                "unsupported legacy protocol version {other:?}"
            )))
        }
    }
    let sys_info = next(StorageLayout::Legacy)?;
    let little_endian = match &sys_info {
        Value::Dict(d) => !d.borrow().iter().any(
            |(k, v)| matches!((k, v), (Value::Str(k), Value::Bool(false)) if k == "little_endian"),
        ),
        _ => true,
    };
    let value = next(StorageLayout::Legacy)?;
    let keys = match next(StorageLayout::Legacy)? {
        Value::List(l) => l
            .borrow()
            .iter()
            .map(|k| match k {
                Value::Str(s) => Ok(s.clone()),
                Value::Int(i) => Ok(i.to_string()),
                _ => Err(CheckpointError::Format(
                    "storage key is not a string".into(),
                )),
            })
            .collect::<Result<Vec<_>>>()?,
        _ => return Err(CheckpointError::Format("missing storage key list".into())),
    };

    // Storage element sizes come from the tensors that use them; collect them first.
    let mut usage = HashMap::new();
    storage_usage(&value, &mut usage, 0);

    let mut storages: HashMap<String, (usize, usize)> = HashMap::new(); // key -> (start, len)
    for key in &keys {
        if pos + 8 > data.len() {
            return Err(CheckpointError::Format(format!(
                "file ends before storage {key}"
            )));
        }
        let count = i64::from_le_bytes(data[pos..pos + 8].try_into().unwrap());
        pos += 8;
        let elem = usage.get(key).map_or(1, |u| u.0);
        let len = u64::try_from(count)
            .ok()
            .and_then(|c| c.checked_mul(elem as u64))
            .filter(|&l| l <= (data.len() - pos) as u64)
            .ok_or_else(|| {
                CheckpointError::Format(format!(
                    "storage {key} claims {count} elements, more than the file holds"
                ))
            })?;
        storages.insert(key.clone(), (pos, len as usize));
        pos += len as usize;
    }
    let mut resolve = |name: &str, spec: &TensorSpec| -> Result<RawTensor> {
        let (start, len) = *storages.get(&spec.storage_key).ok_or_else(|| {
            CheckpointError::Format(format!("storage {} is not in the file", spec.storage_key))
        })?;
        view(name, spec, &data[start..start + len], !little_endian)
    };
    let (flat, metadata) = flatten(&value, &mut resolve)?;
    Ok(Checkpoint {
        format: Format::TorchLegacy,
        tensors: flat.tensors,
        metadata,
        opaque: flat.opaque,
    })
}

/// Element size and number of tensor views of each storage the pickle refers to.
fn storage_usage(v: &Value, out: &mut HashMap<String, (usize, usize)>, depth: usize) {
    if depth > 256 {
        return;
    }
    match v {
        Value::Tensor(t) => {
            let entry = out
                .entry(t.storage_key.clone())
                .or_insert((t.storage_elem_size, 0));
            entry.1 += 1;
        }
        Value::Storage(s) => {
            // A bare storage (not through a tensor) still fixes the element size.
            out.entry(s.key.clone()).or_insert((s.dtype.size(), 2));
        }
        Value::Dict(d) => d
            .borrow()
            .iter()
            .for_each(|(_, x)| storage_usage(x, out, depth + 1)),
        Value::List(l) | Value::Set(l) => l
            .borrow()
            .iter()
            .for_each(|x| storage_usage(x, out, depth + 1)),
        Value::Tuple(t) => t.iter().for_each(|x| storage_usage(x, out, depth + 1)),
        Value::Object(o) => {
            let o = o.borrow();
            o.args.iter().for_each(|x| storage_usage(x, out, depth + 1));
            if let Some(s) = &o.state {
                storage_usage(s, out, depth + 1);
            }
            o.items
                .iter()
                .for_each(|(_, x)| storage_usage(x, out, depth + 1));
        }
        _ => {}
    }
}
