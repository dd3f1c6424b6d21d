//! `earshot`: metrics and other model-free commands run here without loading libtorch; the
//! rest are handed to `earshot-torch`.

fn main() -> std::process::ExitCode {
    earshot::cli::front_main()
}
