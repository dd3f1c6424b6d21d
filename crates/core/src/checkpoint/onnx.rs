//! ONNX model files: the graph (nodes with their attributes) and the initializers (weights),
//! decoded by `prost` from the message definitions of `onnx/onnx.proto` (IR version 11). Only the
//! fields earshot reads are declared, with the field numbers of `onnx.proto`; protobuf skips the
//! others (types, docs, training info).
//!
//! Initializers may live in external data files (`data_location = EXTERNAL`, `external_data`
//! with `location`, `offset`, `length`), as exporters write models over 2 GB and as Qualcomm AI
//! Hub writes YAMNet (`model.onnx` + `model.data`). A location must name a file inside the
//! model's folder: absolute paths, `..` and links that lead out are refused, and every
//! offset and length is checked against the file before anything is read.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use prost::Message;

use super::{CheckpointError, DType, RawTensor, Result};

/// `ModelProto`.
#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(int64, tag = "1")]
    ir_version: i64,
    #[prost(message, repeated, tag = "8")]
    opset_import: Vec<OperatorSetIdProto>,
    #[prost(string, tag = "2")]
    producer_name: String,
    #[prost(string, tag = "3")]
    producer_version: String,
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
}

/// `OperatorSetIdProto`.
#[derive(Clone, PartialEq, Message)]
struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    domain: String,
    #[prost(int64, tag = "2")]
    version: i64,
}

/// `GraphProto`.
#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeProto>,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    output: Vec<ValueInfoProto>,
}

/// `ValueInfoProto` (its `type` is not read).
#[derive(Clone, PartialEq, Message)]
struct ValueInfoProto {
    #[prost(string, tag = "1")]
    name: String,
}

/// `NodeProto`.
#[derive(Clone, PartialEq, Message)]
struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    output: Vec<String>,
    #[prost(string, tag = "3")]
    name: String,
    #[prost(string, tag = "4")]
    op_type: String,
    #[prost(string, tag = "7")]
    domain: String,
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<AttributeProto>,
}

/// `AttributeProto` (graph- and tensor-valued attributes are not read).
#[derive(Clone, PartialEq, Message)]
struct AttributeProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(float, tag = "2")]
    f: f32,
    #[prost(int64, tag = "3")]
    i: i64,
    #[prost(bytes = "vec", tag = "4")]
    s: Vec<u8>,
    #[prost(float, repeated, tag = "7")]
    floats: Vec<f32>,
    #[prost(int64, repeated, tag = "8")]
    ints: Vec<i64>,
    /// `AttributeType`: FLOAT 1, INT 2, STRING 3, FLOATS 6, INTS 7.
    #[prost(int32, tag = "20")]
    r#type: i32,
}

/// `TensorProto`.
#[derive(Clone, PartialEq, Message)]
struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    data_type: i32,
    #[prost(float, repeated, tag = "4")]
    float_data: Vec<f32>,
    #[prost(int32, repeated, tag = "5")]
    int32_data: Vec<i32>,
    #[prost(int64, repeated, tag = "7")]
    int64_data: Vec<i64>,
    #[prost(string, tag = "8")]
    name: String,
    #[prost(bytes = "vec", tag = "9")]
    raw_data: Vec<u8>,
    #[prost(double, repeated, tag = "10")]
    double_data: Vec<f64>,
    #[prost(uint64, repeated, tag = "11")]
    uint64_data: Vec<u64>,
    #[prost(message, repeated, tag = "13")]
    external_data: Vec<StringStringEntryProto>,
    /// `DataLocation`: DEFAULT 0, EXTERNAL 1.
    #[prost(int32, tag = "14")]
    data_location: i32,
}

/// `StringStringEntryProto`.
#[derive(Clone, PartialEq, Message)]
struct StringStringEntryProto {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(string, tag = "2")]
    value: String,
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attribute {
    /// FLOAT.
    Float(f32),
    /// INT.
    Int(i64),
    /// STRING.
    Str(Vec<u8>),
    /// FLOATS.
    Floats(Vec<f32>),
    /// INTS.
    Ints(Vec<i64>),
    /// Any other kind (tensor, graph, ...), not read.
    Other,
}

/// One node of the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Operator (`Conv`, `QuantizeLinear`, ...).
    pub op_type: String,
    /// Operator domain (empty = the default `ai.onnx`).
    pub domain: String,
    /// Node name.
    pub name: String,
    /// Input value names (empty string = an omitted optional input).
    pub inputs: Vec<String>,
    /// Output value names.
    pub outputs: Vec<String>,
    /// Attributes by name.
    pub attributes: Vec<(String, Attribute)>,
}

impl Node {
    /// The attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a)
    }

    /// An INTS attribute, or `default` when absent.
    pub fn ints(&self, name: &str, default: &[i64]) -> Vec<i64> {
        match self.attribute(name) {
            Some(Attribute::Ints(v)) => v.clone(),
            _ => default.to_vec(),
        }
    }

    /// An INT attribute, or `default` when absent.
    pub fn int(&self, name: &str, default: i64) -> i64 {
        match self.attribute(name) {
            Some(Attribute::Int(v)) => *v,
            _ => default,
        }
    }
}

/// A decoded ONNX model.
#[derive(Debug, Clone)]
pub struct OnnxModel {
    /// `producer_name producer_version`.
    pub producer: String,
    /// The default domain's opset version.
    pub opset: i64,
    /// Nodes in graph (topological) order.
    pub nodes: Vec<Node>,
    /// Initializers in file order.
    pub initializers: Vec<(String, RawTensor)>,
    /// Graph input names that are not initializers.
    pub inputs: Vec<String>,
    /// Graph output names.
    pub outputs: Vec<String>,
}

impl OnnxModel {
    /// The initializer called `name`.
    pub fn initializer(&self, name: &str) -> Option<&RawTensor> {
        self.initializers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
    }

    /// The node whose outputs include `value`.
    pub fn producer_of(&self, value: &str) -> Option<&Node> {
        self.nodes
            .iter()
            .find(|n| n.outputs.iter().any(|o| o == value))
    }
}

fn format_err(msg: impl Into<String>) -> CheckpointError {
    CheckpointError::Format(msg.into())
}

/// Read an ONNX file, resolving external data relative to its folder.
pub fn load(path: &Path) -> Result<OnnxModel> {
    let bytes = std::fs::read(path)?;
    let model = ModelProto::decode(bytes.as_slice())
        .map_err(|e| format_err(format!("not a valid ONNX file: {e}")))?;
    let graph = model
        .graph
        .ok_or_else(|| format_err("ONNX file without a graph"))?;
    let opset = (model.opset_import.iter())
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(0, |o| o.version);
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut external = ExternalFiles::new(folder);
    let initializers = (graph.initializer.iter())
        .map(|t| Ok((t.name.clone(), tensor(t, &mut external)?)))
        .collect::<Result<Vec<_>>>()?;
    let nodes = graph.node.into_iter().map(node).collect();
    let is_initializer = |n: &str| initializers.iter().any(|(i, _)| i == n);
    Ok(OnnxModel {
        producer: format!("{} {}", model.producer_name, model.producer_version)
            .trim()
            .to_string(),
        opset,
        nodes,
        inputs: (graph.input.into_iter())
            .map(|v| v.name)
            .filter(|n| !is_initializer(n))
            .collect(),
        outputs: graph.output.into_iter().map(|v| v.name).collect(),
        initializers,
    })
}

fn node(n: NodeProto) -> Node {
    let attributes = (n.attribute.into_iter())
        .map(|a| {
            let value = match a.r#type {
                1 => Attribute::Float(a.f),
                2 => Attribute::Int(a.i),
                3 => Attribute::Str(a.s),
                6 => Attribute::Floats(a.floats),
                7 => Attribute::Ints(a.ints),
                _ => Attribute::Other,
            };
            (a.name, value)
        })
        .collect();
    Node {
        op_type: n.op_type,
        domain: n.domain,
        name: n.name,
        inputs: n.input,
        outputs: n.output,
        attributes,
    }
}

/// `TensorProto.DataType` → element type.
fn data_type(code: i32) -> Option<DType> {
    Some(match code {
        1 => DType::F32,
        2 => DType::U8,
        3 => DType::I8,
        4 => DType::U16,
        5 => DType::I16,
        6 => DType::I32,
        7 => DType::I64,
        9 => DType::Bool,
        10 => DType::F16,
        11 => DType::F64,
        12 => DType::U32,
        13 => DType::U64,
        14 => DType::C64,
        15 => DType::C128,
        16 => DType::BF16,
        _ => return None,
    })
}

fn tensor(t: &TensorProto, external: &mut ExternalFiles) -> Result<RawTensor> {
    let what = |msg: &str| format_err(format!("initializer {}: {msg}", t.name));
    let dtype = data_type(t.data_type)
        .ok_or_else(|| what(&format!("unsupported data type {}", t.data_type)))?;
    let shape = (t.dims.iter())
        .map(|&d| usize::try_from(d).map_err(|_| what("negative dimension")))
        .collect::<Result<Vec<usize>>>()?;
    let numel = (shape.iter())
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| what("too many elements"))?;
    let nbytes = numel
        .checked_mul(dtype.size())
        .ok_or_else(|| what("too many elements"))?;
    let data = if t.data_location == 1 {
        external.read(&t.name, &t.external_data, nbytes)?
    } else if !t.raw_data.is_empty() || nbytes == 0 {
        t.raw_data.clone()
    } else {
        typed_data(t, dtype).ok_or_else(|| what("no data"))?
    };
    if data.len() != nbytes {
        return Err(what(&format!(
            "{} bytes of data for shape {shape:?} of {}",
            data.len(),
            dtype.name()
        )));
    }
    Ok(RawTensor { dtype, shape, data })
}

/// The typed repeated fields (`float_data`, `int32_data` for the small integer types, ...) as
/// little-endian bytes.
fn typed_data(t: &TensorProto, dtype: DType) -> Option<Vec<u8>> {
    Some(match dtype {
        DType::F32 if !t.float_data.is_empty() => {
            t.float_data.iter().flat_map(|v| v.to_le_bytes()).collect()
        }
        DType::F64 if !t.double_data.is_empty() => {
            t.double_data.iter().flat_map(|v| v.to_le_bytes()).collect()
        }
        DType::I64 if !t.int64_data.is_empty() => {
            t.int64_data.iter().flat_map(|v| v.to_le_bytes()).collect()
        }
        DType::U32 | DType::U64 if !t.uint64_data.is_empty() => {
            let width = dtype.size();
            (t.uint64_data.iter())
                .flat_map(|v| v.to_le_bytes()[..width].to_vec())
                .collect()
        }
        // int32_data holds every type of 32 bits or fewer, one value per entry.
        DType::I32
        | DType::I16
        | DType::U16
        | DType::I8
        | DType::U8
        | DType::Bool
        | DType::F16
        | DType::BF16
            if !t.int32_data.is_empty() =>
        {
            let width = dtype.size();
            (t.int32_data.iter())
                .flat_map(|v| v.to_le_bytes()[..width].to_vec())
                .collect()
        }
        _ => return None,
    })
}

/// External data files of one model, each read once.
struct ExternalFiles {
    folder: PathBuf,
    files: HashMap<String, Vec<u8>>,
}

impl ExternalFiles {
    fn new(folder: &Path) -> Self {
        ExternalFiles {
            folder: folder.to_path_buf(),
            files: HashMap::new(),
        }
    }

    fn read(
        &mut self,
        name: &str,
        entries: &[StringStringEntryProto],
        nbytes: usize,
    ) -> Result<Vec<u8>> {
        let what = |msg: String| format_err(format!("initializer {name}: {msg}"));
        let get = |key: &str| {
            entries
                .iter()
                .find(|e| e.key == key)
                .map(|e| e.value.as_str())
        };
        let location =
            get("location").ok_or_else(|| what("external data without a location".into()))?;
        let number = |key: &str| -> Result<Option<usize>> {
            get(key)
                .map(|v| {
                    v.parse::<usize>()
                        .map_err(|_| what(format!("external data {key} {v:?}")))
                })
                .transpose()
        };
        let offset = number("offset")?.unwrap_or(0);
        let length = number("length")?.unwrap_or(nbytes);
        if !self.files.contains_key(location) {
            let path = self.resolve(location).map_err(what)?;
            let bytes = std::fs::read(&path)
                .map_err(|e| what(format!("external data {}: {e}", path.display())))?;
            self.files.insert(location.to_string(), bytes);
        }
        let file = &self.files[location];
        let end = offset.checked_add(length).filter(|&e| e <= file.len()).ok_or_else(|| {
            what(format!(
                "external data {location} has {} bytes, the tensor needs {offset}..{offset}+{length}",
                file.len()
            ))
        })?;
        Ok(file[offset..end].to_vec())
    }

    /// `location` inside the model's folder, or why not.
    fn resolve(&self, location: &str) -> std::result::Result<PathBuf, String> {
        let rel = Path::new(location);
        let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
        if !plain || location.is_empty() {
            return Err(format!(
                "external data location {location:?} leaves the model's folder"
            ));
        }
        let path = self.folder.join(rel);
        let folder = self.folder.canonicalize().map_err(|e| e.to_string())?;
        let real = path
            .canonicalize()
            .map_err(|e| format!("external data {}: {e}", path.display()))?;
        if !real.starts_with(&folder) {
            return Err(format!(
                "external data location {location:?} links out of the model's folder"
            ));
        }
        Ok(real)
    }
}
