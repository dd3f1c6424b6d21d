//! `earshot info` with no file: this build, its libtorch and the devices it sees.

use anyhow::Result;
use serde::Serialize;

use earshot_cli::Cli;

#[derive(Debug, Serialize)]
struct SystemInfo {
    earshot: &'static str,
    libtorch_lib: Option<&'static str>,
    cuda_build: bool,
    cuda_available: bool,
    cuda_devices: i64,
    device: String,
    threads: i32,
}

pub fn run(cli: &Cli, json: bool) -> Result<usize> {
    let device = earshot_models::device::resolve(cli.device)?;
    let sys = SystemInfo {
        earshot: env!("CARGO_PKG_VERSION"),
        libtorch_lib: option_env!("EARSHOT_LIBTORCH_LIB"),
        cuda_build: earshot_models::device::CUDA_BUILD,
        cuda_available: tch::Cuda::is_available(),
        cuda_devices: tch::Cuda::device_count(),
        device: format!("{device:?}").to_lowercase(),
        threads: tch::get_num_threads(),
    };
    // A tiny op proves libtorch is linked and runs.
    let probe = tch::Tensor::from_slice(&[1.0f32, 2.0, 3.0])
        .to_device(device)
        .sum(tch::Kind::Float);
    let ok = (f64::try_from(probe)? - 6.0).abs() < 1e-9;
    if json {
        println!("{}", serde_json::to_string_pretty(&sys)?);
    } else {
        println!("earshot      {}", sys.earshot);
        println!(
            "libtorch     {} ({})",
            sys.libtorch_lib.unwrap_or("?"),
            if ok { "working" } else { "BROKEN" }
        );
        println!("cuda build   {}", sys.cuda_build);
        println!(
            "cuda         {} device(s), available: {}",
            sys.cuda_devices, sys.cuda_available
        );
        println!("device       {}", sys.device);
        println!("threads      {}", sys.threads);
    }
    Ok(usize::from(!ok))
}
