//! A restricted Python pickle machine (protocols 0–5) that reads `torch.save` data without
//! executing anything.
//!
//! Python's unpickler imports `module.name` for every GLOBAL and calls it on REDUCE; a hostile
//! file can therefore run `os.system`. Here a GLOBAL is only a name. A small set of callables is
//! *interpreted* (never called): `collections.OrderedDict`, torch's tensor and parameter rebuild
//! functions, numpy's array/dtype/scalar reconstruction and `_codecs.encode`. Any other
//! class or function yields an opaque [`Value::Object`] holding its arguments and state, so
//! configuration objects (argparse `Namespace`, omegaconf `DictConfig`, enums) survive as data.
//! Names from modules that exist to run code (`os`, `subprocess`, `builtins.eval`, …) are refused
//! outright so a hostile file is reported as such instead of being silently kept.
//!
//! Every length read from the stream is checked against the bytes that remain before anything is
//! allocated, and the stack, memo and nesting depth are bounded.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::{CheckpointError, DType, Result};

/// A shared, mutable container (pickle's memo aliases objects that are filled after creation).
pub type Shared<T> = Rc<RefCell<T>>;

/// A tensor as `torch._utils._rebuild_tensor_v2` describes it: a view into a storage.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    /// Key of the storage in the archive (`data/<key>`) or in the legacy storage table.
    pub storage_key: String,
    /// Element type of the storage.
    pub dtype: DType,
    /// Number of elements the storage declares.
    pub storage_numel: u64,
    /// Bytes per element in the storage's own declaration: the tensor's element size, or 1 for
    /// an `UntypedStorage` (legacy files count such a storage in bytes).
    pub storage_elem_size: usize,
    /// First element of the view.
    pub offset: u64,
    /// Shape of the view.
    pub shape: Vec<u64>,
    /// Strides of the view, in elements.
    pub stride: Vec<u64>,
}

/// A numpy array rebuilt from `numpy.core.multiarray._reconstruct` + BUILD state.
#[derive(Debug, Clone, PartialEq)]
pub struct NumpyArray {
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub shape: Vec<u64>,
    /// Raw element bytes in the stated order.
    pub data: Vec<u8>,
    /// Whether the bytes are big-endian.
    pub big_endian: bool,
    /// Whether the bytes are in Fortran (column-major) order.
    pub fortran_order: bool,
}

/// A value produced by the machine.
#[derive(Debug, Clone)]
pub enum Value {
    /// `None`.
    None,
    /// `True`/`False`.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A larger integer: little-endian two's-complement bytes.
    BigInt(Vec<u8>),
    /// A float.
    Float(f64),
    /// A text string.
    Str(String),
    /// A bytes object.
    Bytes(Vec<u8>),
    /// A list.
    List(Shared<Vec<Value>>),
    /// A tuple.
    Tuple(Rc<Vec<Value>>),
    /// A dict (insertion ordered).
    Dict(Shared<Vec<(Value, Value)>>),
    /// A set or frozenset.
    Set(Shared<Vec<Value>>),
    /// A reference to a module attribute that was never imported.
    Global(Rc<(String, String)>),
    /// An instance of a class the machine does not interpret.
    Object(Shared<Object>),
    /// A storage named by a persistent id.
    Storage(Rc<StorageRef>),
    /// A tensor view.
    Tensor(Rc<TensorSpec>),
    /// A numpy array or scalar.
    Numpy(Rc<NumpyArray>),
    /// A numpy array or scalar of a type that is not a number (strings, datetimes, objects,
    /// records, `longdouble`): kept as a description, never as a tensor.
    NumpyOther(Rc<OtherArray>),
    /// A numpy dtype description (`numpy.dtype` + its BUILD state).
    NumpyDType(Shared<(String, String)>),
}

/// A numpy value whose type earshot does not turn into a tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct OtherArray {
    /// The dtype as pickled (`U5`, `M8`, `O8`, `f16` for longdouble, ...).
    pub descr: String,
    /// Shape (empty for a scalar).
    pub shape: Vec<u64>,
}

/// A storage named by a persistent id.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageRef {
    /// The storage's key.
    pub key: String,
    /// Element type (from the storage class name).
    pub dtype: DType,
    /// Declared number of elements.
    pub numel: u64,
}

/// An opaque instance: its class, the arguments it was built with, and its BUILD state.
#[derive(Debug, Clone)]
pub struct Object {
    /// `(module, name)` of the class or function.
    pub class: (String, String),
    /// Arguments passed on REDUCE/NEWOBJ.
    pub args: Vec<Value>,
    /// State from BUILD, if any.
    pub state: Option<Value>,
    /// Items appended (list subclasses) or set (dict subclasses).
    pub items: Vec<(Value, Value)>,
}

/// Which persistent-id tuples mean storages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageLayout {
    /// Zip archives: `('storage', type, key, location, numel)`.
    Zip,
    /// Legacy files: `('storage', type, root_key, location, numel, view_metadata)`.
    Legacy,
}

const MAX_STACK: usize = 1 << 20;
const MAX_MEMO: usize = 1 << 22;
const MAX_DEPTH: usize = 512;

/// Modules (or `module.name`s) whose only purpose in a pickle is to run code.
fn is_dangerous(module: &str, name: &str) -> bool {
    const MODULES: &[&str] = &[
        "os",
        "posix",
        "nt",
        "subprocess",
        "sys",
        "shutil",
        "socket",
        "importlib",
        "runpy",
        "pty",
        "code",
        "codeop",
        "pickle",
        "_pickle",
        "marshal",
        "ctypes",
        "webbrowser",
        "multiprocessing",
        "asyncio",
        "threading",
        "signal",
        "tempfile",
        "pathlib",
        "io",
        "commands",
        "popen2",
        "timeit",
        "pdb",
        "platform",
        "operator",
        "functools",
        "inspect",
    ];
    const BUILTINS: &[&str] = &[
        "eval",
        "exec",
        "compile",
        "__import__",
        "open",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "input",
        "breakpoint",
        "apply",
        "execfile",
        "file",
        "reload",
        "__builtins__",
    ];
    let root = module.split('.').next().unwrap_or(module);
    MODULES.contains(&root)
        || ((module == "builtins" || module == "__builtin__") && BUILTINS.contains(&name))
        || (module == "torch" && (name == "load" || name == "jit"))
        || module.starts_with("torch.jit")
        || module.starts_with("torch._dynamo")
        || module.starts_with("torch.hub")
        || module.starts_with("numpy.f2py")
        || module.starts_with("numpy.testing")
        || (module.starts_with("numpy") && name == "load")
}

/// Element type of a torch storage class (`FloatStorage`, `HalfStorage`, ...).
pub fn storage_dtype(name: &str) -> Option<DType> {
    Some(match name {
        "FloatStorage" => DType::F32,
        "DoubleStorage" => DType::F64,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "LongStorage" => DType::I64,
        "IntStorage" => DType::I32,
        "ShortStorage" => DType::I16,
        "CharStorage" => DType::I8,
        "ByteStorage" | "UntypedStorage" => DType::U8,
        "BoolStorage" => DType::Bool,
        "UInt16Storage" => DType::U16,
        "UInt32Storage" => DType::U32,
        "UInt64Storage" => DType::U64,
        "ComplexFloatStorage" => DType::C64,
        "ComplexDoubleStorage" => DType::C128,
        _ => return None,
    })
}

/// Element type of a `torch.<dtype>` name, as `_rebuild_tensor_v3` passes it.
fn torch_dtype(name: &str) -> Option<DType> {
    Some(match name {
        "float32" | "float" => DType::F32,
        "float64" | "double" => DType::F64,
        "float16" | "half" => DType::F16,
        "bfloat16" => DType::BF16,
        "int64" | "long" => DType::I64,
        "int32" | "int" => DType::I32,
        "int16" | "short" => DType::I16,
        "int8" => DType::I8,
        "uint8" => DType::U8,
        "uint16" => DType::U16,
        "uint32" => DType::U32,
        "uint64" => DType::U64,
        "bool" => DType::Bool,
        "complex64" | "cfloat" => DType::C64,
        "complex128" | "cdouble" => DType::C128,
        _ => return None,
    })
}

/// What a numpy dtype description (`u4`, `<f8`, `uint32`, `?`, `U5`, ...) holds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NumpyKind {
    /// A bool, integer, float or complex type earshot keeps as a tensor.
    Numeric(DType),
    /// Anything else (strings, datetimes, objects, records, and `longdouble`, whose bytes mean
    /// x87 80-bit extended on x86-64 but IEEE quad elsewhere, so no reader can tell which).
    Other,
}

/// Element type of a numpy dtype string with its byte order (`true` = big-endian). numpy pickles
/// a dtype as its kind letter and item size (`dtype.__reduce__` gives `('u4', False, True)`)
/// with the byte order in the BUILD state; other writers use names or one-letter type codes
/// (numpy's `sctypeDict`, as on x86-64 Linux: `l`/`L` are 64-bit).
fn numpy_dtype(descr: &str, order: &str) -> (NumpyKind, bool) {
    let (order_char, code) = match descr.chars().next() {
        Some(c @ ('<' | '>' | '|' | '=')) => (c, &descr[1..]),
        _ => (order.chars().next().unwrap_or('<'), descr),
    };
    let big_endian = order_char == '>';
    let named = match code {
        "bool" | "bool_" | "?" | "b1" => Some(DType::Bool),
        "int8" | "byte" | "b" | "i1" => Some(DType::I8),
        "uint8" | "ubyte" | "B" | "u1" => Some(DType::U8),
        "int16" | "short" | "h" => Some(DType::I16),
        "uint16" | "ushort" | "H" => Some(DType::U16),
        "int32" | "intc" | "i" => Some(DType::I32),
        "uint32" | "uintc" | "I" => Some(DType::U32),
        "int64" | "long" | "longlong" | "intp" | "l" | "q" | "p" => Some(DType::I64),
        "uint64" | "ulong" | "ulonglong" | "uintp" | "L" | "Q" | "P" => Some(DType::U64),
        "float16" | "half" | "e" => Some(DType::F16),
        "float32" | "single" | "f" => Some(DType::F32),
        "float64" | "double" | "float" | "d" => Some(DType::F64),
        "complex64" | "csingle" | "F" => Some(DType::C64),
        "complex128" | "cdouble" | "complex" | "D" => Some(DType::C128),
        _ => None,
    };
    if let Some(dtype) = named {
        return (NumpyKind::Numeric(dtype), big_endian);
    }
    let kind = code.chars().next().unwrap_or(' ');
    let dtype = match (kind, code[kind.len_utf8().min(code.len())..].parse::<u32>()) {
        ('i', Ok(2)) => DType::I16,
        ('i', Ok(4)) => DType::I32,
        ('i', Ok(8)) => DType::I64,
        ('u', Ok(2)) => DType::U16,
        ('u', Ok(4)) => DType::U32,
        ('u', Ok(8)) => DType::U64,
        ('f', Ok(2)) => DType::F16,
        ('f', Ok(4)) => DType::F32,
        ('f', Ok(8)) => DType::F64,
        ('c', Ok(8)) => DType::C64,
        ('c', Ok(16)) => DType::C128,
        _ => return (NumpyKind::Other, big_endian),
    };
    (NumpyKind::Numeric(dtype), big_endian)
}

/// The dtype of a `numpy.dtype` value, or `None` for something else.
fn dtype_of(v: Option<&Value>) -> Option<(NumpyKind, bool, String)> {
    match v {
        Some(Value::NumpyDType(d)) => {
            let d = d.borrow();
            let (kind, big_endian) = numpy_dtype(&d.0, &d.1);
            Some((kind, big_endian, d.0.clone()))
        }
        _ => None,
    }
}

/// The pickle opcodes this machine runs, by their names in CPython's `pickletools.opcodes`
/// (protocols 0–5). Anything else is an unknown opcode and an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `PROTO: protocol version` (`\x80`).
    Proto,
    /// `FRAME: a length hint for the framed protocol 4` (`\x95`).
    Frame,
    /// `STOP: the end; the top of the stack is the result` (`.`).
    Stop,
    /// `MARK` (`(`).
    Mark,
    /// `POP` (`0`).
    Pop,
    /// `POP_MARK` (`1`).
    PopMark,
    /// `DUP` (`2`).
    Dup,
    /// `NONE` (`N`).
    None,
    /// `NEWTRUE` (`\x88`).
    NewTrue,
    /// `NEWFALSE` (`\x89`).
    NewFalse,
    /// `BININT: 4-byte signed` (`J`).
    BinInt,
    /// `BININT1: 1-byte unsigned` (`K`).
    BinInt1,
    /// `BININT2: 2-byte unsigned` (`M`).
    BinInt2,
    /// `LONG1` (`\x8a`).
    Long1,
    /// `LONG4` (`\x8b`).
    Long4,
    /// `INT: decimal text` (`I`).
    Int,
    /// `LONG: decimal text` (`L`).
    Long,
    /// `BINFLOAT: 8-byte big-endian` (`G`).
    BinFloat,
    /// `FLOAT: text` (`F`).
    Float,
    /// `BINUNICODE` (`X`).
    BinUnicode,
    /// `SHORT_BINUNICODE` (`\x8c`).
    ShortBinUnicode,
    /// `BINUNICODE8` (`\x8d`).
    BinUnicode8,
    /// `UNICODE: raw-unicode-escape text` (`V`).
    Unicode,
    /// `STRING: quoted text` (`S`).
    String,
    /// `BINSTRING` (`T`).
    BinString,
    /// `SHORT_BINSTRING` (`U`).
    ShortBinString,
    /// `BINBYTES` (`B`).
    BinBytes,
    /// `SHORT_BINBYTES` (`C`).
    ShortBinBytes,
    /// `BINBYTES8` (`\x8e`).
    BinBytes8,
    /// `BYTEARRAY8` (`\x96`).
    ByteArray8,
    /// `NEXT_BUFFER` (`\x97`).
    NextBuffer,
    /// `READONLY_BUFFER` (`\x98`).
    ReadonlyBuffer,
    /// `EMPTY_LIST` (`]`).
    EmptyList,
    /// `EMPTY_TUPLE` (`)`).
    EmptyTuple,
    /// `EMPTY_DICT` (`}`).
    EmptyDict,
    /// `EMPTY_SET` (`\x8f`).
    EmptySet,
    /// `LIST` (`l`).
    List,
    /// `TUPLE` (`t`).
    Tuple,
    /// `TUPLE1` (`\x85`).
    Tuple1,
    /// `TUPLE2` (`\x86`).
    Tuple2,
    /// `TUPLE3` (`\x87`).
    Tuple3,
    /// `DICT` (`d`).
    Dict,
    /// `FROZENSET` (`\x91`).
    FrozenSet,
    /// `APPEND` (`a`).
    Append,
    /// `APPENDS` (`e`).
    Appends,
    /// `SETITEM` (`s`).
    SetItem,
    /// `SETITEMS` (`u`).
    SetItems,
    /// `ADDITEMS` (`\x90`).
    AddItems,
    /// `PUT: decimal memo key` (`p`).
    Put,
    /// `BINPUT` (`q`).
    BinPut,
    /// `LONG_BINPUT` (`r`).
    LongBinPut,
    /// `MEMOIZE` (`\x94`).
    Memoize,
    /// `GET: decimal memo key` (`g`).
    Get,
    /// `BINGET` (`h`).
    BinGet,
    /// `LONG_BINGET` (`j`).
    LongBinGet,
    /// `GLOBAL: module and name as text lines` (`c`).
    Global,
    /// `STACK_GLOBAL` (`\x93`).
    StackGlobal,
    /// `REDUCE` (`R`).
    Reduce,
    /// `NEWOBJ` (`\x81`).
    NewObj,
    /// `NEWOBJ_EX` (`\x92`).
    NewObjEx,
    /// `INST` (`i`).
    Inst,
    /// `OBJ` (`o`).
    Obj,
    /// `BUILD` (`b`).
    Build,
    /// `BINPERSID` (`Q`).
    BinPersId,
    /// `PERSID` (`P`).
    PersId,
}

impl Op {
    /// The opcode a byte stands for.
    fn from_byte(byte: u8) -> Option<Op> {
        Some(match byte {
            b'\x80' => Op::Proto,
            b'\x95' => Op::Frame,
            b'.' => Op::Stop,
            b'(' => Op::Mark,
            b'0' => Op::Pop,
            b'1' => Op::PopMark,
            b'2' => Op::Dup,
            b'N' => Op::None,
            b'\x88' => Op::NewTrue,
            b'\x89' => Op::NewFalse,
            b'J' => Op::BinInt,
            b'K' => Op::BinInt1,
            b'M' => Op::BinInt2,
            b'\x8a' => Op::Long1,
            b'\x8b' => Op::Long4,
            b'I' => Op::Int,
            b'L' => Op::Long,
            b'G' => Op::BinFloat,
            b'F' => Op::Float,
            b'X' => Op::BinUnicode,
            b'\x8c' => Op::ShortBinUnicode,
            b'\x8d' => Op::BinUnicode8,
            b'V' => Op::Unicode,
            b'S' => Op::String,
            b'T' => Op::BinString,
            b'U' => Op::ShortBinString,
            b'B' => Op::BinBytes,
            b'C' => Op::ShortBinBytes,
            b'\x8e' => Op::BinBytes8,
            b'\x96' => Op::ByteArray8,
            b'\x97' => Op::NextBuffer,
            b'\x98' => Op::ReadonlyBuffer,
            b']' => Op::EmptyList,
            b')' => Op::EmptyTuple,
            b'}' => Op::EmptyDict,
            b'\x8f' => Op::EmptySet,
            b'l' => Op::List,
            b't' => Op::Tuple,
            b'\x85' => Op::Tuple1,
            b'\x86' => Op::Tuple2,
            b'\x87' => Op::Tuple3,
            b'd' => Op::Dict,
            b'\x91' => Op::FrozenSet,
            b'a' => Op::Append,
            b'e' => Op::Appends,
            b's' => Op::SetItem,
            b'u' => Op::SetItems,
            b'\x90' => Op::AddItems,
            b'p' => Op::Put,
            b'q' => Op::BinPut,
            b'r' => Op::LongBinPut,
            b'\x94' => Op::Memoize,
            b'g' => Op::Get,
            b'h' => Op::BinGet,
            b'j' => Op::LongBinGet,
            b'c' => Op::Global,
            b'\x93' => Op::StackGlobal,
            b'R' => Op::Reduce,
            b'\x81' => Op::NewObj,
            b'\x92' => Op::NewObjEx,
            b'i' => Op::Inst,
            b'o' => Op::Obj,
            b'b' => Op::Build,
            b'Q' => Op::BinPersId,
            b'P' => Op::PersId,
            _ => return None,
        })
    }
}

/// The machine.
pub struct Unpickler<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u64, Value>,
    layout: StorageLayout,
}

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(CheckpointError::Pickle(msg.into()))
}

impl<'a> Unpickler<'a> {
    /// A machine over `data`, resolving persistent ids as storages in `layout`.
    pub fn new(data: &'a [u8], layout: StorageLayout) -> Self {
        Unpickler {
            data,
            pos: 0,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            layout,
        }
    }

    /// Bytes consumed so far (a legacy file holds several pickles back to back).
    pub fn position(&self) -> usize {
        self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let s = &self.data[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => err(format!(
                "data ends early: {n} bytes wanted at offset {}, {} left",
                self.pos,
                self.data.len() - self.pos
            )),
        }
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }

    fn line(&mut self) -> Result<&'a [u8]> {
        let rest = &self.data[self.pos..];
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                self.pos += i + 1;
                Ok(&rest[..i])
            }
            None => err("unterminated text line"),
        }
    }

    fn push(&mut self, v: Value) -> Result<()> {
        if self.stack.len() >= MAX_STACK {
            return err("stack too deep");
        }
        self.stack.push(v);
        Ok(())
    }

    fn pop(&mut self) -> Result<Value> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return err("pop across a mark");
        }
        self.stack.pop().map_or_else(|| err("stack underflow"), Ok)
    }

    fn top(&mut self) -> Result<&mut Value> {
        self.stack.last_mut().map_or_else(|| err("empty stack"), Ok)
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>> {
        let mark = self.marks.pop().map_or_else(|| err("no mark"), Ok)?;
        if mark > self.stack.len() {
            return err("mark beyond stack");
        }
        Ok(self.stack.split_off(mark))
    }

    fn memo_put(&mut self, key: u64) -> Result<()> {
        if self.memo.len() >= MAX_MEMO {
            return err("memo too large");
        }
        let v = self
            .stack
            .last()
            .cloned()
            .map_or_else(|| err("memoize on empty stack"), Ok)?;
        self.memo.insert(key, v);
        Ok(())
    }

    fn memo_get(&mut self, key: u64) -> Result<()> {
        let v = self
            .memo
            .get(&key)
            .cloned()
            .map_or_else(|| err(format!("memo key {key} missing")), Ok)?;
        self.push(v)
    }

    fn string(bytes: &[u8]) -> Result<String> {
        String::from_utf8(bytes.to_vec()).or_else(|_| err("string is not UTF-8"))
    }

    /// Run to STOP and return the result.
    pub fn load(&mut self) -> Result<Value> {
        loop {
            let byte = self.u8()?;
            let Some(op) = Op::from_byte(byte) else {
                return err(format!(
                    "unknown opcode 0x{byte:02x} at offset {}",
                    self.pos - 1
                ));
            };
            match op {
                Op::Stop => return self.pop(),
                Op::Proto | Op::Frame | Op::Mark | Op::Pop | Op::PopMark | Op::Dup => {
                    self.control(op)?
                }
                Op::Put
                | Op::BinPut
                | Op::LongBinPut
                | Op::Memoize
                | Op::Get
                | Op::BinGet
                | Op::LongBinGet => self.memo(op)?,
                Op::EmptyList
                | Op::EmptyTuple
                | Op::EmptyDict
                | Op::EmptySet
                | Op::List
                | Op::Tuple
                | Op::Tuple1
                | Op::Tuple2
                | Op::Tuple3
                | Op::Dict
                | Op::FrozenSet
                | Op::Append
                | Op::Appends
                | Op::SetItem
                | Op::SetItems
                | Op::AddItems => self.container(op)?,
                Op::Global
                | Op::StackGlobal
                | Op::Reduce
                | Op::NewObj
                | Op::NewObjEx
                | Op::Inst
                | Op::Obj
                | Op::Build
                | Op::BinPersId
                | Op::PersId => self.object(op)?,
                _ => self.literal(op)?,
            }
        }
    }

    /// Protocol, framing, marks and the stack: PROTO, FRAME, MARK, POP, POP_MARK, DUP.
    fn control(&mut self, op: Op) -> Result<()> {
        match op {
            Op::Proto => {
                let proto = self.u8()?;
                if proto > 5 {
                    return err(format!("unsupported pickle protocol {proto}"));
                }
            }
            Op::Frame => {
                self.u64()?; // FRAME: a length hint only
            }
            Op::Mark => {
                if self.marks.len() >= MAX_DEPTH * 4 {
                    return err("too many marks");
                }
                self.marks.push(self.stack.len())
            }
            Op::Pop => {
                self.pop()?;
            }
            Op::PopMark => {
                self.pop_mark()?;
            }
            Op::Dup => {
                let v = self.top()?.clone();
                self.push(v)?
            }
            other => return err(format!("{other:?} is not a control opcode")),
        }
        Ok(())
    }

    /// Opcodes that push one literal (pickletools' "push" opcodes for ints, floats, text and
    /// bytes).
    fn literal(&mut self, op: Op) -> Result<()> {
        match op {
            Op::None => self.push(Value::None)?,
            Op::NewTrue => self.push(Value::Bool(true))?,
            Op::NewFalse => self.push(Value::Bool(false))?,
            Op::BinInt => {
                let v = self.u32()? as i32 as i64;
                self.push(Value::Int(v))?
            }
            Op::BinInt1 => {
                let v = self.u8()? as i64;
                self.push(Value::Int(v))?
            }
            Op::BinInt2 => {
                let v = self.u16()? as i64;
                self.push(Value::Int(v))?
            }
            Op::Long1 => {
                let n = self.u8()? as usize;
                let bytes = self.take(n)?;
                self.push(long_value(bytes))?
            }
            Op::Long4 => {
                let n = self.u32()? as usize;
                let bytes = self.take(n)?;
                self.push(long_value(bytes))?
            }
            Op::Int => {
                let line = Self::string(self.line()?)?;
                let v = match line.as_str() {
                    "00" => Value::Bool(false),
                    "01" => Value::Bool(true),
                    s => Value::Int(s.parse().or_else(|_| err(format!("bad INT {s:?}")))?),
                };
                self.push(v)?
            }
            Op::Long => {
                let line = Self::string(self.line()?)?;
                let s = line.trim_end_matches('L');
                let v = s
                    .parse::<i64>()
                    .map(Value::Int)
                    .or_else(|_| err(format!("LONG {s:?} too large")))?;
                self.push(v)?
            }
            Op::BinFloat => {
                let v = f64::from_be_bytes(self.take(8)?.try_into().unwrap());
                self.push(Value::Float(v))?
            }
            Op::Float => {
                let line = Self::string(self.line()?)?;
                let v = line
                    .trim()
                    .parse()
                    .or_else(|_| err(format!("bad FLOAT {line:?}")))?;
                self.push(Value::Float(v))?
            }
            Op::BinUnicode => {
                let n = self.u32()? as usize;
                let s = Self::string(self.take(n)?)?;
                self.push(Value::Str(s))?
            }
            Op::ShortBinUnicode => {
                let n = self.u8()? as usize;
                let s = Self::string(self.take(n)?)?;
                self.push(Value::Str(s))?
            }
            Op::BinUnicode8 => {
                let n = usize::try_from(self.u64()?).or_else(|_| err("length overflows"))?;
                let s = Self::string(self.take(n)?)?;
                self.push(Value::Str(s))?
            }
            Op::Unicode => {
                let line = self.line()?;
                let s = decode_raw_unicode_escape(line);
                self.push(Value::Str(s))?
            }
            Op::String => {
                let line = self.line()?;
                let s = String::from_utf8_lossy(line);
                let trimmed = s.trim_matches(|c| c == '\'' || c == '"').to_string();
                self.push(Value::Str(trimmed))?
            }
            // Python 2 byte strings: decoded as latin-1 text, as torch.load does by default.
            Op::BinString => {
                let n = self.u32()? as usize;
                let s = self.take(n)?.iter().map(|&b| b as char).collect();
                self.push(Value::Str(s))?
            }
            Op::ShortBinString => {
                let n = self.u8()? as usize;
                let s = self.take(n)?.iter().map(|&b| b as char).collect();
                self.push(Value::Str(s))?
            }
            Op::BinBytes => {
                let n = self.u32()? as usize;
                let b = self.take(n)?.to_vec();
                self.push(Value::Bytes(b))?
            }
            Op::ShortBinBytes => {
                let n = self.u8()? as usize;
                let b = self.take(n)?.to_vec();
                self.push(Value::Bytes(b))?
            }
            Op::BinBytes8 | Op::ByteArray8 => {
                let n = usize::try_from(self.u64()?).or_else(|_| err("length overflows"))?;
                let b = self.take(n)?.to_vec();
                self.push(Value::Bytes(b))?
            }
            Op::NextBuffer | Op::ReadonlyBuffer => {
                return err("out-of-band buffers are not supported")
            }
            other => return err(format!("{other:?} is not a literal opcode")),
        }
        Ok(())
    }

    /// Building lists, tuples, dicts and sets, and adding to them.
    fn container(&mut self, op: Op) -> Result<()> {
        match op {
            Op::EmptyList => self.push(Value::List(Rc::new(RefCell::new(Vec::new()))))?,
            Op::EmptyTuple => self.push(Value::Tuple(Rc::new(Vec::new())))?,
            Op::EmptyDict => self.push(Value::Dict(Rc::new(RefCell::new(Vec::new()))))?,
            Op::EmptySet => self.push(Value::Set(Rc::new(RefCell::new(Vec::new()))))?,
            Op::List => {
                let items = self.pop_mark()?;
                self.push(Value::List(Rc::new(RefCell::new(items))))?
            }
            Op::Tuple => {
                let items = self.pop_mark()?;
                self.push(Value::Tuple(Rc::new(items)))?
            }
            Op::Tuple1 | Op::Tuple2 | Op::Tuple3 => {
                let n = match op {
                    Op::Tuple1 => 1,
                    Op::Tuple2 => 2,
                    _ => 3,
                };
                if self.stack.len() < n {
                    return err("stack underflow in TUPLEn");
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.push(Value::Tuple(Rc::new(items)))?
            }
            Op::Dict => {
                let items = self.pop_mark()?;
                let dict = pairs(items)?;
                self.push(Value::Dict(Rc::new(RefCell::new(dict))))?
            }
            Op::FrozenSet => {
                let items = self.pop_mark()?;
                self.push(Value::Set(Rc::new(RefCell::new(items))))?
            }
            Op::Append => {
                let v = self.pop()?;
                self.append(vec![v])?
            }
            Op::Appends => {
                let items = self.pop_mark()?;
                self.append(items)?
            }
            Op::SetItem => {
                let v = self.pop()?;
                let k = self.pop()?;
                self.set_items(vec![(k, v)])?
            }
            Op::SetItems => {
                let items = self.pop_mark()?;
                let p = pairs(items)?;
                self.set_items(p)?
            }
            Op::AddItems => {
                let items = self.pop_mark()?;
                match self.top()? {
                    Value::Set(s) => s.borrow_mut().extend(items),
                    _ => return err("ADDITEMS on a non-set"),
                }
            }
            other => return err(format!("{other:?} is not a container opcode")),
        }
        Ok(())
    }

    /// The memo: PUT, BINPUT, LONG_BINPUT, MEMOIZE and the GETs.
    fn memo(&mut self, op: Op) -> Result<()> {
        match op {
            Op::Put => {
                let line = Self::string(self.line()?)?;
                let key = line.parse().or_else(|_| err("bad PUT"))?;
                self.memo_put(key)?
            }
            Op::BinPut => {
                let key = self.u8()? as u64;
                self.memo_put(key)?
            }
            Op::LongBinPut => {
                let key = self.u32()? as u64;
                self.memo_put(key)?
            }
            Op::Memoize => {
                let key = self.memo.len() as u64;
                self.memo_put(key)?
            }
            Op::Get => {
                let line = Self::string(self.line()?)?;
                let key = line.parse().or_else(|_| err("bad GET"))?;
                self.memo_get(key)?
            }
            Op::BinGet => {
                let key = self.u8()? as u64;
                self.memo_get(key)?
            }
            Op::LongBinGet => {
                let key = self.u32()? as u64;
                self.memo_get(key)?
            }
            other => return err(format!("{other:?} is not a memo opcode")),
        }
        Ok(())
    }

    /// Globals, calls, instances, BUILD and persistent ids: the opcodes that go through
    /// [`Self::global`]'s allow-list.
    fn object(&mut self, op: Op) -> Result<()> {
        match op {
            Op::Global => {
                let module = Self::string(self.line()?)?;
                let name = Self::string(self.line()?)?;
                let g = self.global(module, name)?;
                self.push(g)?
            }
            Op::StackGlobal => {
                let name = self.pop()?;
                let module = self.pop()?;
                match (module, name) {
                    (Value::Str(m), Value::Str(n)) => {
                        let g = self.global(m, n)?;
                        self.push(g)?
                    }
                    _ => return err("STACK_GLOBAL needs two strings"),
                }
            }
            Op::Reduce => {
                let args = self.pop()?;
                let func = self.pop()?;
                let v = self.reduce(func, args)?;
                self.push(v)?
            }
            Op::NewObj => {
                let args = self.pop()?;
                let cls = self.pop()?;
                let v = self.new_object(cls, args)?;
                self.push(v)?
            }
            Op::NewObjEx => {
                let _kwargs = self.pop()?;
                let args = self.pop()?;
                let cls = self.pop()?;
                let v = self.new_object(cls, args)?;
                self.push(v)?
            }
            Op::Inst | Op::Obj => {
                // INST / OBJ: protocol 0/1 instance creation.
                let (cls, args) = if op == Op::Inst {
                    let module = Self::string(self.line()?)?;
                    let name = Self::string(self.line()?)?;
                    let cls = self.global(module, name)?;
                    (cls, self.pop_mark()?)
                } else {
                    let mut items = self.pop_mark()?;
                    if items.is_empty() {
                        return err("OBJ without a class");
                    }
                    let cls = items.remove(0);
                    (cls, items)
                };
                let v = self.new_object(cls, Value::Tuple(Rc::new(args)))?;
                self.push(v)?
            }
            Op::Build => {
                let state = self.pop()?;
                let target = self.pop()?;
                let v = self.build(target, state)?;
                self.push(v)?
            }
            Op::BinPersId => {
                let pid = self.pop()?;
                let v = self.persistent(pid)?;
                self.push(v)?
            }
            Op::PersId => {
                let line = Self::string(self.line()?)?;
                let v = self.persistent(Value::Str(line))?;
                self.push(v)?
            }
            other => return err(format!("{other:?} is not a object opcode")),
        }
        Ok(())
    }

    fn global(&self, module: String, name: String) -> Result<Value> {
        if is_dangerous(&module, &name) {
            return Err(CheckpointError::Hostile(format!("{module}.{name}")));
        }
        Ok(Value::Global(Rc::new((module, name))))
    }

    fn append(&mut self, items: Vec<Value>) -> Result<()> {
        match self.top()? {
            Value::List(l) => l.borrow_mut().extend(items),
            Value::Object(o) => {
                let mut o = o.borrow_mut();
                let start = o.items.len() as i64;
                o.items.extend(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (Value::Int(start + i as i64), v)),
                );
            }
            _ => return err("APPEND on a non-list"),
        }
        Ok(())
    }

    fn set_items(&mut self, items: Vec<(Value, Value)>) -> Result<()> {
        match self.top()? {
            Value::Dict(d) => {
                let mut d = d.borrow_mut();
                for (k, v) in items {
                    match d.iter_mut().find(|(existing, _)| keys_equal(existing, &k)) {
                        Some(slot) => slot.1 = v,
                        None => d.push((k, v)),
                    }
                }
            }
            Value::Object(o) => o.borrow_mut().items.extend(items),
            _ => return err("SETITEM on a non-dict"),
        }
        Ok(())
    }

    fn persistent(&mut self, pid: Value) -> Result<Value> {
        let Value::Tuple(items) = &pid else {
            return err("persistent id is not a tuple");
        };
        let expected = match self.layout {
            StorageLayout::Zip => 5,
            StorageLayout::Legacy => 6,
        };
        if items.len() != expected || !matches!(&items[0], Value::Str(s) if s == "storage") {
            return err("persistent id is not a storage");
        }
        let dtype = match &items[1] {
            Value::Global(g) => storage_dtype(&g.1).ok_or_else(|| {
                CheckpointError::Format(format!("unknown storage type {}.{}", g.0, g.1))
            })?,
            _ => return err("storage type is not a class"),
        };
        let key = match &items[2] {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            _ => return err("storage key is not a string"),
        };
        let numel = match &items[4] {
            Value::Int(n) if *n >= 0 => *n as u64,
            _ => return err("storage size is not a count"),
        };
        if self.layout == StorageLayout::Legacy && !matches!(items[5], Value::None) {
            return err("legacy storage views (view_metadata) are not supported");
        }
        Ok(Value::Storage(Rc::new(StorageRef { key, dtype, numel })))
    }

    fn new_object(&mut self, cls: Value, args: Value) -> Result<Value> {
        let Value::Global(g) = cls else {
            return err("NEWOBJ on a non-class");
        };
        let args = tuple_items(&args)?;
        Ok(match (g.0.as_str(), g.1.as_str()) {
            ("collections", "OrderedDict") | ("builtins", "dict") => {
                Value::Dict(Rc::new(RefCell::new(Vec::new())))
            }
            ("builtins", "list") => Value::List(Rc::new(RefCell::new(Vec::new()))),
            ("builtins", "set" | "frozenset") => Value::Set(Rc::new(RefCell::new(Vec::new()))),
            _ => Value::Object(Rc::new(RefCell::new(Object {
                class: (g.0.clone(), g.1.clone()),
                args,
                state: None,
                items: Vec::new(),
            }))),
        })
    }

    fn reduce(&mut self, func: Value, args: Value) -> Result<Value> {
        let Value::Global(g) = &func else {
            return err("REDUCE on a non-callable");
        };
        let args = tuple_items(&args)?;
        let (module, name) = (g.0.as_str(), g.1.as_str());
        let numpy_core = matches!(module, "numpy.core.multiarray" | "numpy._core.multiarray");
        Ok(match (module, name) {
            ("collections", "OrderedDict") | ("builtins" | "__builtin__", "dict") => {
                let items = match args.first() {
                    Some(Value::List(l)) => {
                        l.borrow().iter().map(pair_of).collect::<Result<Vec<_>>>()?
                    }
                    _ => Vec::new(),
                };
                Value::Dict(Rc::new(RefCell::new(items)))
            }
            ("builtins" | "__builtin__", "set" | "frozenset") => {
                let items = match args.first() {
                    Some(Value::List(l)) => l.borrow().clone(),
                    Some(Value::Tuple(t)) => t.to_vec(),
                    _ => Vec::new(),
                };
                Value::Set(Rc::new(RefCell::new(items)))
            }
            ("builtins" | "__builtin__", "list") => {
                Value::List(Rc::new(RefCell::new(match args.first() {
                    Some(Value::List(l)) => l.borrow().clone(),
                    Some(Value::Tuple(t)) => t.to_vec(),
                    _ => Vec::new(),
                })))
            }
            ("builtins" | "__builtin__", "tuple") => Value::Tuple(Rc::new(match args.first() {
                Some(Value::List(l)) => l.borrow().clone(),
                Some(Value::Tuple(t)) => t.to_vec(),
                _ => Vec::new(),
            })),
            ("builtins" | "__builtin__", "bytearray" | "bytes") => match args.first() {
                Some(Value::Bytes(b)) => Value::Bytes(b.clone()),
                Some(Value::Str(s)) => Value::Bytes(s.chars().map(|c| c as u32 as u8).collect()),
                _ => Value::Bytes(Vec::new()),
            },
            ("_codecs", "encode") => match args.first() {
                // Protocol 2 stores bytes as _codecs.encode(latin-1 text, 'latin1').
                Some(Value::Str(s)) => {
                    let bytes: Option<Vec<u8>> =
                        s.chars().map(|c| u8::try_from(c as u32).ok()).collect();
                    Value::Bytes(bytes.map_or_else(|| err("_codecs.encode: not latin-1"), Ok)?)
                }
                _ => return err("_codecs.encode without text"),
            },
            ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor" | "_rebuild_tensor_v3") => {
                self.rebuild_tensor(&args)?
            }
            ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => {
                match args.into_iter().next() {
                    Some(t @ Value::Tensor(_)) => t,
                    _ => return err("_rebuild_parameter without a tensor"),
                }
            }
            ("torch._tensor", "_rebuild_from_type_v2")
            | ("torch._utils", "_rebuild_from_type_v2") => {
                // (func, new_type, args, state): apply the inner rebuild, drop the subclass.
                let mut it = args.into_iter();
                let inner = it
                    .next()
                    .map_or_else(|| err("_rebuild_from_type_v2 without func"), Ok)?;
                let _new_type = it.next();
                let inner_args = it.next().unwrap_or(Value::Tuple(Rc::new(Vec::new())));
                self.reduce(inner, inner_args)?
            }
            ("torch._utils", other) if other.starts_with("_rebuild") => {
                return Err(CheckpointError::Format(format!(
                    "unsupported tensor kind torch._utils.{other}"
                )))
            }
            ("copyreg" | "copy_reg", "_reconstructor") => {
                // Protocol 0/1 object creation: (cls, base, state).
                let class = match args.first() {
                    Some(Value::Global(c)) => (c.0.clone(), c.1.clone()),
                    _ => return err("_reconstructor without a class"),
                };
                Value::Object(Rc::new(RefCell::new(Object {
                    class,
                    args: Vec::new(),
                    state: None,
                    items: Vec::new(),
                })))
            }
            ("torch", "Size") => match args.into_iter().next() {
                Some(v) => v,
                None => Value::Tuple(Rc::new(Vec::new())),
            },
            (_, "_reconstruct") if numpy_core => {
                // Filled in by BUILD with (version, shape, dtype, fortran, data).
                Value::Numpy(Rc::new(NumpyArray {
                    dtype: DType::U8,
                    shape: vec![0],
                    data: Vec::new(),
                    big_endian: false,
                    fortran_order: false,
                }))
            }
            (_, "scalar") if numpy_core => {
                let Some((kind, big_endian, descr)) = dtype_of(args.first()) else {
                    return err("numpy scalar without dtype");
                };
                let (dtype, data) = match (kind, args.get(1)) {
                    (NumpyKind::Numeric(dtype), Some(Value::Bytes(b))) => (dtype, b.clone()),
                    (_, Some(_)) => {
                        let shape = Vec::new();
                        return Ok(Value::NumpyOther(Rc::new(OtherArray { descr, shape })));
                    }
                    (_, None) => return err("numpy scalar without data"),
                };
                if data.len() != dtype.size() {
                    return err("numpy scalar data has the wrong size");
                }
                Value::Numpy(Rc::new(NumpyArray {
                    dtype,
                    shape: Vec::new(),
                    data,
                    big_endian,
                    fortran_order: false,
                }))
            }
            ("numpy", "dtype") => {
                let descr = match args.first() {
                    Some(Value::Str(s)) => s.clone(),
                    _ => return err("numpy.dtype without a type string"),
                };
                Value::NumpyDType(Rc::new(RefCell::new((descr, "<".to_string()))))
            }
            _ => Value::Object(Rc::new(RefCell::new(Object {
                class: (module.to_string(), name.to_string()),
                args,
                state: None,
                items: Vec::new(),
            }))),
        })
    }

    fn rebuild_tensor(&mut self, args: &[Value]) -> Result<Value> {
        let storage = match args.first() {
            Some(Value::Storage(s)) => s.clone(),
            _ => return err("tensor rebuild without a storage"),
        };
        let offset = match args.get(1) {
            Some(Value::Int(o)) if *o >= 0 => *o as u64,
            _ => return err("tensor rebuild without an offset"),
        };
        let shape = int_list(args.get(2))?;
        let stride = int_list(args.get(3))?;
        if shape.len() != stride.len() {
            return err("tensor shape and stride ranks differ");
        }
        // `_rebuild_tensor_v3(storage, offset, size, stride, requires_grad, hooks, dtype, ...)`:
        // dtypes without a legacy storage class (uint16/32/64) come in an UntypedStorage, whose
        // declared size is in bytes, with the element type given here.
        let (dtype, storage_numel) = match args.get(6) {
            Some(Value::Global(g)) if g.0 == "torch" => {
                let dtype = torch_dtype(&g.1).ok_or_else(|| {
                    CheckpointError::Format(format!("unsupported tensor dtype torch.{}", g.1))
                })?;
                let numel = if storage.dtype == DType::U8 && dtype.size() > 1 {
                    storage.numel / dtype.size() as u64
                } else {
                    storage.numel
                };
                (dtype, numel)
            }
            _ => (storage.dtype, storage.numel),
        };
        Ok(Value::Tensor(Rc::new(TensorSpec {
            storage_key: storage.key.clone(),
            dtype,
            storage_numel,
            storage_elem_size: storage.dtype.size(),
            offset,
            shape,
            stride,
        })))
    }

    fn build(&mut self, target: Value, state: Value) -> Result<Value> {
        match &target {
            Value::Numpy(_) => {
                // state = (version, shape, dtype, is_fortran, raw data)
                let items = tuple_items(&state)?;
                if items.len() != 5 {
                    return err("numpy array state has the wrong length");
                }
                let shape = int_list(Some(&items[1]))?;
                let Some((kind, big_endian, descr)) = dtype_of(Some(&items[2])) else {
                    return err("numpy array without dtype");
                };
                let fortran_order = matches!(items[3], Value::Bool(true));
                // Object arrays carry a list of Python objects instead of bytes.
                let data = match (&kind, &items[4]) {
                    (NumpyKind::Numeric(_), Value::Bytes(b)) => b.clone(),
                    (NumpyKind::Numeric(_), Value::Str(s)) => {
                        s.chars().map(|c| c as u32 as u8).collect()
                    }
                    _ => return Ok(Value::NumpyOther(Rc::new(OtherArray { descr, shape }))),
                };
                let NumpyKind::Numeric(dtype) = kind else {
                    return Ok(Value::NumpyOther(Rc::new(OtherArray { descr, shape })));
                };
                let numel = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
                let need = numel.and_then(|n| n.checked_mul(dtype.size() as u64));
                if need != Some(data.len() as u64) {
                    return err("numpy array data does not match its shape");
                }
                Ok(Value::Numpy(Rc::new(NumpyArray {
                    dtype,
                    shape,
                    data,
                    big_endian,
                    fortran_order,
                })))
            }
            Value::NumpyDType(d) => {
                // state = (version, byte order, ...)
                if let Ok(items) = tuple_items(&state) {
                    if let Some(Value::Str(order)) = items.get(1) {
                        d.borrow_mut().1 = order.clone();
                    }
                }
                Ok(target)
            }
            Value::Object(o) => {
                o.borrow_mut().state = Some(state);
                Ok(target)
            }
            // OrderedDict attributes (a state dict's `_metadata`) and tensor state
            // (requires_grad etc.) are not needed.
            Value::Dict(_) | Value::Tensor(_) | Value::List(_) | Value::Set(_) => Ok(target),
            _ => err("BUILD on a value without state"),
        }
    }
}

fn long_value(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Int(0);
    }
    if bytes.len() <= 8 {
        let negative = bytes[bytes.len() - 1] & 0x80 != 0;
        let mut buf = if negative { [0xffu8; 8] } else { [0u8; 8] };
        buf[..bytes.len()].copy_from_slice(bytes);
        Value::Int(i64::from_le_bytes(buf))
    } else {
        Value::BigInt(bytes.to_vec())
    }
}

fn decode_raw_unicode_escape(line: &[u8]) -> String {
    let text: String = line.iter().map(|&b| b as char).collect();
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && matches!(chars.peek(), Some('u')) {
            chars.next();
            let hex: String = chars.by_ref().take(4).collect();
            match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                Some(ch) => out.push(ch),
                None => {
                    out.push_str("\\u");
                    out.push_str(&hex);
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn pairs(items: Vec<Value>) -> Result<Vec<(Value, Value)>> {
    if !items.len().is_multiple_of(2) {
        return err("odd number of dict items");
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

fn pair_of(v: &Value) -> Result<(Value, Value)> {
    match v {
        Value::Tuple(t) if t.len() == 2 => Ok((t[0].clone(), t[1].clone())),
        Value::List(l) if l.borrow().len() == 2 => {
            let l = l.borrow();
            Ok((l[0].clone(), l[1].clone()))
        }
        _ => err("dict item is not a pair"),
    }
}

fn keys_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        _ => false,
    }
}

fn tuple_items(v: &Value) -> Result<Vec<Value>> {
    match v {
        Value::Tuple(t) => Ok(t.to_vec()),
        Value::List(l) => Ok(l.borrow().clone()),
        Value::None => Ok(Vec::new()),
        _ => err("expected a tuple of arguments"),
    }
}

fn int_list(v: Option<&Value>) -> Result<Vec<u64>> {
    let items = match v {
        Some(v) => tuple_items(v)?,
        None => return err("missing size/stride"),
    };
    items
        .iter()
        .map(|x| match x {
            Value::Int(i) if *i >= 0 => Ok(*i as u64),
            _ => err("size/stride entries must be non-negative integers"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(bytes: &[u8]) -> Result<Value> {
        Unpickler::new(bytes, StorageLayout::Zip).load()
    }

    #[test]
    fn protocol_2_dict_of_ints_and_strings() {
        // pickle.dumps({'a': 1, 'b': 'x'}, protocol=2)
        let bytes = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01X\x01\x00\x00\x00bq\x02X\x01\x00\x00\x00xq\x03u.";
        let v = run(bytes).unwrap();
        let Value::Dict(d) = v else { panic!("{v:?}") };
        let d = d.borrow();
        assert_eq!(d.len(), 2);
        assert!(matches!(&d[0], (Value::Str(k), Value::Int(1)) if k == "a"));
        assert!(matches!(&d[1], (Value::Str(k), Value::Str(v)) if k == "b" && v == "x"));
    }

    #[test]
    fn os_system_is_refused_before_anything_is_called() {
        // pickle.dumps of an object whose __reduce__ returns (os.system, ('touch x',)), protocol 0
        let bytes = b"cposix\nsystem\np0\n(Vtouch x\np1\ntp2\nRp3\n.";
        assert!(
            matches!(run(bytes), Err(CheckpointError::Hostile(name)) if name == "posix.system")
        );
        let bytes = b"\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94\x8c\x011\x94\x85\x94R\x94.";
        assert!(
            matches!(run(bytes), Err(CheckpointError::Hostile(name)) if name == "builtins.eval")
        );
    }

    #[test]
    fn lengths_past_the_end_are_errors_not_allocations() {
        // BINUNICODE claiming 4 GiB in a 10-byte input.
        let bytes = b"\x80\x02X\xff\xff\xff\xffab";
        assert!(matches!(run(bytes), Err(CheckpointError::Pickle(_))));
        let bytes = b"\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f";
        assert!(matches!(run(bytes), Err(CheckpointError::Pickle(_))));
    }

    #[test]
    fn big_ints_are_kept() {
        // LONG1 of the legacy torch magic number 0x1950a86a20f9469cfc6c
        let bytes = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8\x50\x19.";
        assert!(matches!(run(bytes).unwrap(), Value::BigInt(b) if b.len() == 10));
    }
}
