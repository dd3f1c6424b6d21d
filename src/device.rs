//! Compute device and thread selection for libtorch.
//!
//! `--device auto` picks CUDA when libtorch was linked with it (the `cuda` feature) and a GPU is
//! visible, else the CPU. Intra-op threads are process-wide in libtorch; set them once at start-up.

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

/// Whether this binary was built with the `cuda` feature.
pub const CUDA_BUILD: bool = cfg!(feature = "cuda");

/// Resolve a choice to a libtorch device.
pub fn resolve(choice: DeviceChoice) -> Result<tch::Device, DeviceError> {
    match choice {
        DeviceChoice::Cpu => Ok(tch::Device::Cpu),
        DeviceChoice::Auto => Ok(if tch::Cuda::is_available() {
            tch::Device::Cuda(0)
        } else {
            tch::Device::Cpu
        }),
        DeviceChoice::Cuda(i) => {
            if !CUDA_BUILD {
                Err(DeviceError::CudaUnavailable(
                    "this build has no CUDA: rebuild with --features cuda",
                ))
            } else if !tch::Cuda::is_available() {
                Err(DeviceError::CudaUnavailable("no CUDA device is visible"))
            } else if i as i64 >= tch::Cuda::device_count() {
                Err(DeviceError::CudaUnavailable("device index out of range"))
            } else {
                Ok(tch::Device::Cuda(i))
            }
        }
    }
}

/// Set libtorch's intra-op thread count (0 keeps libtorch's default, one per core).
pub fn set_threads(threads: usize) {
    if threads > 0 {
        tch::set_num_threads(threads as i32);
    }
}
