//! Link settings for libtorch from the pip-installed `torch` wheel.
//!
//! torch-sys only passes its rpath to its own C++ shim, and tch's `rustc-link-arg`s only reach
//! tch's own targets, so a downstream binary needs its own rpath to run without
//! `LD_LIBRARY_PATH` (tch-rs issue #787). `DEP_TCH_LIBTORCH_LIB` reaches us because torch-sys is
//! a direct dependency. With the `cuda` feature, `--no-as-needed -ltorch` keeps `libtorch_cuda`
//! linked (rustc's default `--as-needed` drops it: tch-rs issues #907, #980).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        // Resolve the .libtorch link so the binary keeps working when copied out of the clone.
        let dir = std::fs::canonicalize(&dir).map_or(dir, |p| p.display().to_string());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        println!("cargo:rustc-env=EARSHOT_LIBTORCH_LIB={dir}");
    }
    if std::env::var_os("CARGO_FEATURE_CUDA").is_some() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch");
    }
}
