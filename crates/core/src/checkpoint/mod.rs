//! Checkpoint files → named tensors, read natively in Rust with no Python at run time.
//!
//! Formats, sniffed from content rather than extension:
//! - PyTorch `torch.save` in the zip format (torch ≥ 1.6: `*/data.pkl` + `*/data/N`) and the
//!   legacy format (magic number, protocol, system info, pickle, storage keys, raw storages),
//!   through a restricted pickle machine that never executes anything ([`pickle`]);
//! - safetensors ([`safetensors`]);
//! - Hugging Face folders: `config.json` with `model.safetensors` / `pytorch_model.bin`, single or
//!   sharded through `*.index.json` ([`hf`]);
//! - fairseq `.pt` (a torch zip pickle whose `args`/`cfg` objects are kept as data);
//! - Keras HDF5 weights (`.h5`, as OpenL3 publishes them) ([`keras`]);
//! - ONNX models (`.onnx`, external data resolved inside the model's folder): the initializers
//!   as tensors, the graph summarised in the metadata ([`onnx`]).
//!
//! Every format gives one [`Checkpoint`]: an ordered map name → [`RawTensor`] (dtype kept, bytes
//! little-endian and C-contiguous) plus the non-tensor content as JSON. Nested dicts flatten with
//! `.`; [`Checkpoint::select`] takes a sub-dict such as `model.`. Turning tensors into libtorch's
//! and loading them strictly into a model is the `earshot-models` crate's part.

pub mod hf;
pub mod keras;
pub mod onnx;
pub mod pickle;
pub mod safetensors;
pub mod torch;

use std::path::Path;

use serde_json::{Map, Value as Json};

/// Why a checkpoint could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The file is none of the supported formats.
    #[error("not a checkpoint earshot can read (PyTorch .pt/.pth, safetensors, Hugging Face folder, Keras .h5, ONNX .onnx)")]
    UnknownFormat,
    /// The container is damaged or inconsistent.
    #[error("{0}")]
    Format(String),
    /// The pickle stream is malformed.
    #[error("malformed pickle: {0}")]
    Pickle(String),
    /// The pickle names a callable that exists to run code; nothing was executed.
    #[error("refusing to load: the pickle calls {0}, which could run code (nothing was executed)")]
    Hostile(String),
    /// A tensor reaches past the end of its storage.
    #[error("tensor {name} needs {needed} bytes of storage {storage}, which has {available}")]
    StorageTooShort {
        /// Tensor name.
        name: String,
        /// Storage key.
        storage: String,
        /// Bytes the view needs.
        needed: u64,
        /// Bytes the storage has.
        available: u64,
    },
    /// A tensor name was asked for that the checkpoint lacks.
    #[error("no tensor named {0}")]
    Missing(String),
    /// Strict loading found differences between the checkpoint and the model.
    #[error("{0}")]
    Mismatch(String),
}

/// `Result` with [`CheckpointError`].
pub type Result<T> = std::result::Result<T, CheckpointError>;

/// Element types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// bool (one byte).
    Bool,
    /// uint8.
    U8,
    /// int8.
    I8,
    /// int16.
    I16,
    /// int32.
    I32,
    /// int64.
    I64,
    /// uint16 (no libtorch kind: widened to int32 on the way to libtorch).
    U16,
    /// uint32 (widened to int64 on the way to libtorch).
    U32,
    /// uint64 (to libtorch as int64 when every value fits).
    U64,
    /// IEEE half.
    F16,
    /// bfloat16.
    BF16,
    /// float32.
    F32,
    /// float64.
    F64,
    /// complex64.
    C64,
    /// complex128.
    C128,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::U8 | DType::I8 => 1,
            DType::I16 | DType::U16 | DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 | DType::C64 => 8,
            DType::C128 => 16,
        }
    }

    /// Size of the scalar unit that byte swapping acts on (complex: each half).
    fn swap_unit(self) -> usize {
        match self {
            DType::C64 => 4,
            DType::C128 => 8,
            other => other.size(),
        }
    }

    /// The name torch prints (`float32`, `int64`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "uint8",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::U16 => "uint16",
            DType::U32 => "uint32",
            DType::U64 => "uint64",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::C64 => "complex64",
            DType::C128 => "complex128",
        }
    }
}

/// A tensor's bytes: C-contiguous, little-endian.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTensor {
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub shape: Vec<usize>,
    /// `numel × dtype.size()` bytes.
    pub data: Vec<u8>,
}

impl RawTensor {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Which format a checkpoint came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// `torch.save`, zip format.
    TorchZip,
    /// `torch.save`, legacy (pre-1.6) format.
    TorchLegacy,
    /// A safetensors file.
    Safetensors,
    /// A Hugging Face model folder.
    HuggingFace,
    /// Keras HDF5 weights.
    KerasH5,
    /// An ONNX model.
    Onnx,
}

impl Format {
    /// Human-readable name.
    pub fn describe(self) -> &'static str {
        match self {
            Format::TorchZip => "PyTorch (zip)",
            Format::TorchLegacy => "PyTorch (legacy, pre-1.6)",
            Format::Safetensors => "safetensors",
            Format::HuggingFace => "Hugging Face folder",
            Format::KerasH5 => "Keras HDF5",
            Format::Onnx => "ONNX",
        }
    }
}

/// A checkpoint's tensors and the rest of its content.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Where it came from.
    pub format: Format,
    /// Tensors in file order, by flattened name.
    pub tensors: Vec<(String, RawTensor)>,
    /// Everything that is not a tensor, as JSON (dict structure kept).
    pub metadata: Json,
    /// Values in the metadata whose type earshot keeps only as a description (numpy strings,
    /// datetimes, object arrays, `longdouble`): `name: what it is`. They never stop the tensors
    /// from loading; `checkpoint inspect` lists them.
    pub opaque: Vec<String>,
}

impl Checkpoint {
    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Option<&RawTensor> {
        self.tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// Only the tensors under `prefix` (e.g. `model.`), with the prefix removed.
    pub fn select(&self, prefix: &str) -> Checkpoint {
        Checkpoint {
            format: self.format,
            tensors: self
                .tensors
                .iter()
                .filter_map(|(n, t)| {
                    n.strip_prefix(prefix)
                        .map(|rest| (rest.to_string(), t.clone()))
                })
                .collect(),
            metadata: self.metadata.clone(),
            opaque: self.opaque.clone(),
        }
    }

    /// Total bytes of tensor data.
    pub fn nbytes(&self) -> usize {
        self.tensors.iter().map(|(_, t)| t.data.len()).sum()
    }
}

/// Read a checkpoint file or Hugging Face folder, whatever its format.
pub fn load(path: &Path) -> Result<Checkpoint> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return hf::load_folder(path);
    }
    if meta.len() == 0 {
        return Err(CheckpointError::Format("file is empty".into()));
    }
    // Protobuf has no magic number: ONNX goes by its extension.
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
    {
        let model = onnx::load(path)?;
        let mut ops: Vec<(String, usize)> = Vec::new();
        for n in &model.nodes {
            match ops.iter_mut().find(|(op, _)| *op == n.op_type) {
                Some((_, count)) => *count += 1,
                None => ops.push((n.op_type.clone(), 1)),
            }
        }
        let mut metadata = Map::new();
        metadata.insert("producer".into(), Json::String(model.producer.clone()));
        metadata.insert("opset".into(), Json::from(model.opset));
        metadata.insert("inputs".into(), Json::from(model.inputs.clone()));
        metadata.insert("outputs".into(), Json::from(model.outputs.clone()));
        let ops = ops.into_iter().map(|(op, n)| (op, Json::from(n))).collect();
        metadata.insert("nodes".into(), Json::Object(ops));
        return Ok(Checkpoint {
            format: Format::Onnx,
            tensors: model.initializers,
            metadata: Json::Object(metadata),
            opaque: Vec::new(),
        });
    }
    let mut head = [0u8; 8];
    {
        use std::io::Read;
        let mut f = std::fs::File::open(path)?;
        let n = f.read(&mut head)?;
        if n < 8 {
            return Err(CheckpointError::UnknownFormat);
        }
    }
    if &head[..4] == b"PK\x03\x04" {
        return torch::load_zip(path);
    }
    if &head == b"\x89HDF\r\n\x1a\n" {
        return keras::load_h5(path);
    }
    if head[0] == 0x80 && head[1] <= 5 {
        return torch::load_legacy(path);
    }
    // safetensors: u64 header length, then a JSON object.
    let header_len = u64::from_le_bytes(head);
    if header_len > 1 && header_len < meta.len() {
        return safetensors::load(path);
    }
    Err(CheckpointError::UnknownFormat)
}

/// What [`flatten`] collects besides the JSON.
#[derive(Default)]
pub(crate) struct Flat {
    /// Tensors by flattened name, in pickle order.
    pub tensors: Vec<(String, RawTensor)>,
    /// See [`Checkpoint::opaque`].
    pub opaque: Vec<String>,
}

/// Flatten a pickled value into tensors (dicts joined with `.`, lists by index) and JSON for the
/// rest. `resolve` turns a tensor view into bytes.
pub(crate) fn flatten(
    value: &pickle::Value,
    resolve: &mut dyn FnMut(&str, &pickle::TensorSpec) -> Result<RawTensor>,
) -> Result<(Flat, Json)> {
    let mut flat = Flat::default();
    let meta = flatten_into(value, "", 0, resolve, &mut flat)?;
    Ok((flat, meta.unwrap_or(Json::Null)))
}

const MAX_NESTING: usize = 256;

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn key_string(k: &pickle::Value) -> String {
    match k {
        pickle::Value::Str(s) => s.clone(),
        pickle::Value::Int(i) => i.to_string(),
        pickle::Value::Bool(b) => b.to_string(),
        pickle::Value::Float(f) => f.to_string(),
        other => format!("{:?}", json_scalar(other).unwrap_or(Json::Null)),
    }
}

fn json_scalar(v: &pickle::Value) -> Option<Json> {
    use pickle::Value as V;
    Some(match v {
        V::None => Json::Null,
        V::Bool(b) => Json::Bool(*b),
        V::Int(i) => Json::from(*i),
        V::BigInt(b) => Json::String(format!(
            "0x{}",
            b.iter()
                .rev()
                .map(|x| format!("{x:02x}"))
                .collect::<String>()
        )),
        V::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Json::String(f.to_string()), Json::Number)
        }
        V::Str(s) => Json::String(s.clone()),
        V::Bytes(b) => Json::String(format!("<{} bytes>", b.len())),
        V::Global(g) => Json::String(format!("{}.{}", g.0, g.1)),
        _ => return None,
    })
}

/// Convert a pickled numpy array to a little-endian C-order tensor.
fn numpy_tensor(a: &pickle::NumpyArray) -> RawTensor {
    let shape: Vec<usize> = a.shape.iter().map(|&d| d as usize).collect();
    let mut data = a.data.clone();
    if a.big_endian {
        swap_bytes(&mut data, a.dtype);
    }
    if a.fortran_order && shape.len() > 1 {
        let size = a.dtype.size();
        let mut f_strides = vec![1usize; shape.len()];
        for axis in 1..shape.len() {
            f_strides[axis] = f_strides[axis - 1] * shape[axis - 1];
        }
        let c_shape: Vec<u64> = a.shape.clone();
        let f: Vec<u64> = f_strides.iter().map(|&s| s as u64).collect();
        data = gather(&data, size, 0, &c_shape, &f);
    }
    RawTensor {
        dtype: a.dtype,
        shape,
        data,
    }
}

/// Swap each element's bytes (big-endian → little-endian).
pub(crate) fn swap_bytes(data: &mut [u8], dtype: DType) {
    let unit = dtype.swap_unit();
    if unit > 1 {
        for chunk in data.chunks_exact_mut(unit) {
            chunk.reverse();
        }
    }
}

/// Copy a strided view out of `storage` into C order. Bounds are checked by the caller.
pub(crate) fn gather(
    storage: &[u8],
    elem: usize,
    offset: u64,
    shape: &[u64],
    stride: &[u64],
) -> Vec<u8> {
    let numel: u64 = shape.iter().product();
    let mut out = Vec::with_capacity(numel as usize * elem);
    if numel == 0 {
        return out;
    }
    // Contiguous fast path.
    let mut expected = 1u64;
    let mut contiguous = true;
    for (&d, &s) in shape.iter().zip(stride).rev() {
        if d != 1 && s != expected {
            contiguous = false;
            break;
        }
        expected *= d;
    }
    if contiguous {
        let start = offset as usize * elem;
        out.extend_from_slice(&storage[start..start + numel as usize * elem]);
        return out;
    }
    let mut index = vec![0u64; shape.len()];
    for _ in 0..numel {
        let pos = offset + index.iter().zip(stride).map(|(i, s)| i * s).sum::<u64>();
        let start = pos as usize * elem;
        out.extend_from_slice(&storage[start..start + elem]);
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    out
}

fn flatten_into(
    value: &pickle::Value,
    prefix: &str,
    depth: usize,
    resolve: &mut dyn FnMut(&str, &pickle::TensorSpec) -> Result<RawTensor>,
    flat: &mut Flat,
) -> Result<Option<Json>> {
    use pickle::Value as V;
    if depth > MAX_NESTING {
        return Err(CheckpointError::Format("values nested too deeply".into()));
    }
    Ok(match value {
        V::Tensor(spec) => {
            let name = if prefix.is_empty() { "tensor" } else { prefix };
            flat.tensors.push((name.to_string(), resolve(name, spec)?));
            None
        }
        V::Numpy(a) => {
            let name = if prefix.is_empty() { "array" } else { prefix };
            flat.tensors.push((name.to_string(), numpy_tensor(a)));
            None
        }
        V::NumpyOther(a) => {
            let what = format!(
                "numpy {} of dtype '{}'{}, kept as opaque metadata",
                if a.shape.is_empty() {
                    "scalar"
                } else {
                    "array"
                },
                a.descr,
                if a.shape.is_empty() {
                    String::new()
                } else {
                    format!(" shape {:?}", a.shape)
                },
            );
            let name = if prefix.is_empty() { "array" } else { prefix };
            flat.opaque.push(format!("{name}: {what}"));
            Some(Json::String(format!("<{what}>")))
        }
        V::Dict(d) => {
            let mut map = Map::new();
            for (k, v) in d.borrow().iter() {
                let key = key_string(k);
                if let Some(j) = flatten_into(v, &join(prefix, &key), depth + 1, resolve, flat)? {
                    map.insert(key, j);
                }
            }
            (!map.is_empty() || d.borrow().is_empty()).then_some(Json::Object(map))
        }
        V::List(_) | V::Tuple(_) | V::Set(_) => {
            let items: Vec<V> = match value {
                V::List(l) | V::Set(l) => l.borrow().clone(),
                V::Tuple(t) => t.to_vec(),
                _ => unreachable!(),
            };
            let mut out = Vec::new();
            let mut any_tensor = false;
            for (i, v) in items.iter().enumerate() {
                let before = flat.tensors.len();
                let j = flatten_into(v, &join(prefix, &i.to_string()), depth + 1, resolve, flat)?;
                any_tensor |= flat.tensors.len() > before;
                out.push(j.unwrap_or(Json::Null));
            }
            (!any_tensor || out.iter().any(|j| !j.is_null())).then_some(Json::Array(out))
        }
        V::Object(o) => {
            let o = o.borrow();
            let mut map = Map::new();
            map.insert(
                "__class__".into(),
                Json::String(format!("{}.{}", o.class.0, o.class.1)),
            );
            if !o.args.is_empty() {
                let args = V::Tuple(std::rc::Rc::new(o.args.clone()));
                if let Some(j) =
                    flatten_into(&args, &join(prefix, "args"), depth + 1, resolve, flat)?
                {
                    map.insert("args".into(), j);
                }
            }
            if let Some(state) = &o.state {
                // Attribute dicts (argparse.Namespace and most classes) read as plain mappings.
                match flatten_into(state, prefix, depth + 1, resolve, flat)? {
                    Some(Json::Object(attrs)) => map.extend(attrs),
                    Some(other) => {
                        map.insert("state".into(), other);
                    }
                    None => {}
                }
            }
            for (k, v) in &o.items {
                let key = key_string(k);
                if let Some(j) = flatten_into(v, &join(prefix, &key), depth + 1, resolve, flat)? {
                    map.insert(key, j);
                }
            }
            Some(Json::Object(map))
        }
        V::Storage(s) => Some(Json::String(format!(
            "<storage {} {}>",
            s.key,
            s.dtype.name()
        ))),
        V::NumpyDType(d) => Some(Json::String(format!("<numpy dtype {}>", d.borrow().0))),
        other => json_scalar(other),
    })
}
