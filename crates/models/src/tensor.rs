//! Checkpoint tensors ([`RawTensor`], read by earshot-core without libtorch) to and from
//! libtorch's.

use earshot_core::checkpoint::{DType, RawTensor};
use tch::{Kind, Tensor};

use crate::{ModelError, Result};

/// The libtorch kind that holds a dtype's values exactly. tch has no unsigned kinds wider than
/// a byte, so uint16 and uint32 widen to the next signed kind and uint64 goes to int64 (whose
/// range [`ToTch::to_tch`] checks).
pub fn kind(dtype: DType) -> Kind {
    match dtype {
        DType::Bool => Kind::Bool,
        DType::U8 => Kind::Uint8,
        DType::I8 => Kind::Int8,
        DType::I16 => Kind::Int16,
        DType::I32 => Kind::Int,
        DType::I64 | DType::U32 | DType::U64 => Kind::Int64,
        DType::U16 => Kind::Int,
        DType::F16 => Kind::Half,
        DType::BF16 => Kind::BFloat16,
        DType::F32 => Kind::Float,
        DType::F64 => Kind::Double,
        DType::C64 => Kind::ComplexFloat,
        DType::C128 => Kind::ComplexDouble,
    }
}

/// A checkpoint tensor as a libtorch tensor.
pub trait ToTch {
    /// A libtorch tensor holding a copy of the data, on the CPU. Unsigned types wider than a
    /// byte arrive widened (see [`kind`]); a uint64 value above `i64::MAX` is an error.
    fn to_tch(&self) -> Result<Tensor>;
}

impl ToTch for RawTensor {
    fn to_tch(&self) -> Result<Tensor> {
        let shape: Vec<i64> = self.shape.iter().map(|&d| d as i64).collect();
        let widened;
        let data: &[u8] = match self.dtype {
            DType::U16 => {
                widened = (self.data.chunks_exact(2))
                    .flat_map(|b| i32::from(u16::from_le_bytes([b[0], b[1]])).to_le_bytes())
                    .collect::<Vec<u8>>();
                &widened
            }
            DType::U32 => {
                widened = (self.data.chunks_exact(4))
                    .flat_map(|b| {
                        i64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])).to_le_bytes()
                    })
                    .collect::<Vec<u8>>();
                &widened
            }
            DType::U64 => {
                if self
                    .data
                    .chunks_exact(8)
                    .any(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) > i64::MAX as u64)
                {
                    return Err(ModelError::Unsupported(
                        "a uint64 value exceeds int64, which is libtorch's widest integer".into(),
                    ));
                }
                &self.data
            }
            _ => &self.data,
        };
        Ok(Tensor::f_from_data_size(data, &shape, kind(self.dtype))?)
    }
}

/// A float32 copy of a libtorch tensor (any device and float kind), C-contiguous.
pub fn f32_raw(t: &Tensor) -> Result<RawTensor> {
    let t = t
        .f_to_device(tch::Device::Cpu)?
        .f_to_kind(Kind::Float)?
        .f_contiguous()?;
    let shape = t.size().iter().map(|&d| d as usize).collect();
    let values = Vec::<f32>::try_from(t.f_flatten(0, -1)?)?;
    Ok(RawTensor {
        dtype: DType::F32,
        shape,
        data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    })
}
