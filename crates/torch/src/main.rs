//! `earshot-torch`: the command line with libtorch linked. `earshot` (which links no libtorch)
//! hands it every command that runs a model; earshot-cli's `dispatch` says which those are, and
//! the rest run here exactly as there.
//!
//! Each model command's module holds only its run: loading the backbone, running the library's
//! tasks (earshot-models' `tasks`) over the inputs, and handing the results to earshot-cli's
//! writers.

mod detect;
mod embed;
mod eval_run;
mod info;
mod tag;
mod train;
mod transcribe;

use std::process::ExitCode;

use anyhow::Result;

use earshot_cli::model_args::ModelArgs;
use earshot_cli::{Dispatch, ModelCommand};
use earshot_models::tasks::{LoadedModel, ModelRequest, TIMINGS};

/// Load the model the flags name, strictly, on the `--device` asked for, then keep freed memory
/// in the process: from here on the same activation buffers come back every batch.
pub(crate) fn load_backbone(cli: &earshot_cli::Cli, args: &ModelArgs) -> Result<LoadedModel> {
    let device = earshot_models::device::resolve(cli.device)?;
    let request = ModelRequest {
        name: args.model_name()?,
        checkpoint: args.checkpoint.clone(),
        precision: args.precision,
        quantized: args.quantized,
    };
    let backbone = LoadedModel::load(&request, device)?;
    earshot_cli::keep_freed_memory();
    Ok(backbone)
}

fn main() -> ExitCode {
    let cli = match earshot_cli::start() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    earshot_models::device::set_threads(cli.threads);
    if let Err(code) = earshot_cli::init_shard(&cli) {
        return code;
    }
    let result = match earshot_cli::dispatch(&cli) {
        Dispatch::Here(run) => run(),
        Dispatch::Model(command) => match command {
            ModelCommand::Tag(args) => tag::run(&cli, args),
            ModelCommand::Detect(args) => detect::run(&cli, args),
            ModelCommand::Embed(args) => embed::run(&cli, args),
            ModelCommand::Transcribe(args) => transcribe::run(&cli, args),
            ModelCommand::EvalRun(args) => eval_run::run(&cli, args),
            ModelCommand::Train(args) => train::run(&cli, args),
            ModelCommand::Report(args) => detect::run(&cli, &args),
            ModelCommand::BuildInfo { json } => info::run(&cli, json),
        },
    };
    if cli.timings {
        eprintln!("{}", TIMINGS.report());
    }
    earshot_cli::exit_code(result)
}
