//! The rpath to libtorch for the test suite and the benches, which link the model crate as a
//! dev-dependency (the `earshot` binary itself links no libtorch; crates/torch/build.rs explains
//! why each linked target needs its own rpath). `LIBTORCH` is the torch wheel that torch-sys
//! builds against: set by `.cargo/config.toml` (the clone's `.libtorch`) or `scripts/env.sh`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(root) = std::env::var("LIBTORCH") {
        let lib = std::path::Path::new(&root).join("lib");
        let lib = std::fs::canonicalize(&lib).unwrap_or(lib);
        for kind in ["tests", "benches"] {
            println!("cargo:rustc-link-arg-{kind}=-Wl,-rpath,{}", lib.display());
        }
    }
}
