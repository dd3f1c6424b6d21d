//! `earshot`: metrics and other model-free commands run here without loading libtorch; the
//! rest are handed to `earshot-torch` (crates/torch) beside this executable.

fn main() -> std::process::ExitCode {
    earshot_cli::front_main()
}
