//! The extension finds libtorch in the `torch` wheel it is installed beside
//! (`site-packages/earshot/_earshot*.so` → `site-packages/torch/lib`), not at the path it was
//! built against, and carries no copy of its own. `earshot/__init__.py` imports torch first, so
//! the libraries are usually loaded already; the rpath covers a bare `import earshot._earshot`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-link-arg-cdylib=-Wl,-rpath,$ORIGIN/../torch/lib");
}
