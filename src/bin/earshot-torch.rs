//! `earshot-torch`: the whole command line with libtorch linked; `earshot` hands it every
//! command that runs a model.

fn main() -> std::process::ExitCode {
    earshot::cli::main()
}
