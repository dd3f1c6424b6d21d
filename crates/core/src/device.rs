//! What a user asks of the compute device and the numeric precision, as plain values that parse
//! from the command line without libtorch. `earshot-models`' `device` module resolves them
//! against libtorch (`--device auto` picks CUDA when libtorch was linked with it and a GPU is
//! visible, else the CPU) and runs reduced precision through autocast.

use std::fmt;
use std::str::FromStr;

/// Why a device request cannot be met.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// CUDA was asked for but is not usable.
    #[error("CUDA requested but not available ({0})")]
    CudaUnavailable(&'static str),
    /// The device name is not one of auto, cpu, cuda, cuda:N.
    #[error("unknown device {0:?} (expected auto, cpu, cuda or cuda:N)")]
    Unknown(String),
}

/// The device a user asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// CUDA when available, else CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// A CUDA device by index.
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|i| i.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| DeviceError::Unknown(other.to_string())),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Auto => f.write_str("auto"),
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

/// Numeric precision of the model passes (`--precision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// float32 throughout (the reference).
    #[default]
    Fp32,
    /// bfloat16 mixed precision: libtorch's autocast, as `torch.autocast(device,
    /// dtype=torch.bfloat16)` (convolutions and matrix products in bf16, reductions, FFTs and
    /// norms in float32).
    Bf16,
    /// float16 mixed precision, the same way (`torch.autocast(device, dtype=torch.float16)`).
    Fp16,
}

impl FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fp32" | "float32" => Ok(Precision::Fp32),
            "bf16" | "bfloat16" => Ok(Precision::Bf16),
            "fp16" | "float16" | "half" => Ok(Precision::Fp16),
            other => Err(format!(
                "unknown precision {other:?} (expected fp32, bf16 or fp16)"
            )),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
        })
    }
}
