//! Compute device, threads and precision on libtorch.
//!
//! `--device auto` picks CUDA when libtorch was linked with it (the `cuda` feature) and a GPU is
//! visible, else the CPU. Intra-op threads are process-wide in libtorch; set them once at
//! start-up. Reduced precision runs through libtorch's autocast ([`Autocast`]).

pub use earshot_core::device::{DeviceChoice, DeviceError, Precision};

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

/// Why `precision` will be slow on `device`, if it will: libtorch runs bf16 and fp16
/// convolutions on the CPU through oneDNN only with AVX-512 (native bf16 with avx512_bf16
/// or AMX); without it they fall back to reference kernels, 2–7× slower than fp32 for the
/// CNNs (PANNs, PaSST, OpenL3 on a 2-core AVX2 EPYC, `benches/precision.py`).
pub fn slow_precision(precision: Precision, device: tch::Device) -> Option<&'static str> {
    if precision == Precision::Fp32 || device != tch::Device::Cpu {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
    {
        return None;
    }
    Some("this CPU has no AVX-512, so libtorch runs reduced precision through reference kernels, far slower than fp32")
}

// libtorch's autocast switches, per device type and thread (ATen/autocast_mode.h). tch binds
// only the deprecated CUDA-only ones, so these are declared by their C++ names; all take and
// return plain integers (DeviceType and ScalarType are int8 enums), which the SysV C++ ABI
// passes exactly as C. `autocast_switches_reach_libtorch` checks them.
extern "C" {
    #[link_name = "_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE"]
    fn at_is_autocast_enabled(device_type: i8) -> bool;
    #[link_name = "_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb"]
    fn at_set_autocast_enabled(device_type: i8, enabled: bool);
    #[link_name = "_ZN2at8autocast18get_autocast_dtypeEN3c1010DeviceTypeE"]
    fn at_get_autocast_dtype(device_type: i8) -> i8;
    #[link_name = "_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE"]
    fn at_set_autocast_dtype(device_type: i8, dtype: i8);
}

/// c10::DeviceType values.
const DEVICE_TYPE_CPU: i8 = 0;
const DEVICE_TYPE_CUDA: i8 = 1;
/// c10::ScalarType values.
const SCALAR_HALF: i8 = 5;
const SCALAR_BFLOAT16: i8 = 15;

/// Autocast on for one device type on this thread until dropped, then the previous state back.
#[must_use = "autocast ends when the guard is dropped"]
pub struct Autocast {
    device_type: i8,
    was_enabled: bool,
    old_dtype: i8,
}

impl Autocast {
    /// Turn on autocast at `precision` for `device` (None for fp32, or a device without
    /// autocast).
    pub fn new(device: tch::Device, precision: Precision) -> Option<Autocast> {
        let dtype = match precision {
            Precision::Fp32 => return None,
            Precision::Bf16 => SCALAR_BFLOAT16,
            Precision::Fp16 => SCALAR_HALF,
        };
        let device_type = match device {
            tch::Device::Cpu => DEVICE_TYPE_CPU,
            tch::Device::Cuda(_) => DEVICE_TYPE_CUDA,
            _ => return None,
        };
        // SAFETY: plain-integer calls into libtorch's thread-local autocast state.
        unsafe {
            let guard = Autocast {
                device_type,
                was_enabled: at_is_autocast_enabled(device_type),
                old_dtype: at_get_autocast_dtype(device_type),
            };
            at_set_autocast_dtype(device_type, dtype);
            at_set_autocast_enabled(device_type, true);
            Some(guard)
        }
    }
}

impl Drop for Autocast {
    fn drop(&mut self) {
        // SAFETY: as in `Autocast::new`.
        unsafe {
            at_set_autocast_enabled(self.device_type, self.was_enabled);
            at_set_autocast_dtype(self.device_type, self.old_dtype);
        }
    }
}

/// Run `f` in float32 even inside a reduced-precision pass: for front ends (STFT, mel
/// projection, dB), whose inputs span many orders of magnitude and which the reference pipelines
/// compute in float32 before the network.
pub fn full_precision<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: as in `Autocast::new`.
    let was = unsafe {
        [DEVICE_TYPE_CPU, DEVICE_TYPE_CUDA].map(|d| {
            let on = at_is_autocast_enabled(d);
            if on {
                at_set_autocast_enabled(d, false);
            }
            (d, on)
        })
    };
    let out = f();
    for (d, on) in was {
        if on {
            // SAFETY: as above.
            unsafe { at_set_autocast_enabled(d, true) };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Kind, Tensor};

    /// The declared switches are libtorch's: a matrix product under the guard comes out in the
    /// chosen type, and float32 again once it is dropped.
    #[test]
    fn autocast_switches_reach_libtorch() {
        let a = Tensor::ones([4, 4], (Kind::Float, tch::Device::Cpu));
        for (precision, kind) in [
            (Precision::Bf16, Kind::BFloat16),
            (Precision::Fp16, Kind::Half),
        ] {
            let guard = Autocast::new(tch::Device::Cpu, precision);
            assert!(guard.is_some());
            assert_eq!(a.matmul(&a).kind(), kind, "{precision}");
            assert_eq!(full_precision(|| a.matmul(&a)).kind(), Kind::Float);
            assert_eq!(
                a.matmul(&a).kind(),
                kind,
                "{precision} back after full_precision"
            );
            drop(guard);
            assert_eq!(a.matmul(&a).kind(), Kind::Float, "{precision} restored");
        }
        assert!(Autocast::new(tch::Device::Cpu, Precision::Fp32).is_none());
        assert_eq!("bf16".parse::<Precision>(), Ok(Precision::Bf16));
        assert!("int8".parse::<Precision>().is_err());
    }
}
