//! earshot-cli: the `earshot` command line, without libtorch.
//!
//! Parsed in two stages, as ripgrep does: clap turns arguments into the raw [`Cli`] structs, and
//! each command validates them into what it runs. [`dispatch`] is the one table that says which
//! commands run here and which ([`ModelCommand`]) need a model and so run in `earshot-torch`
//! (crates/torch), which links libtorch and uses this crate's arguments and writers. Library
//! errors come back typed; here they are reported as `error: <file>: <reason>`, one line each,
//! never with a backtrace. With several input files the good ones are still processed and the
//! exit code is 1 when any failed.

pub mod checkpoint;
pub mod decode;
pub mod detect;
pub mod embed;
pub mod eval;
pub mod eval_page;
pub mod eval_run;
pub mod features;
pub mod info;
pub mod merge;
pub mod model_args;
pub mod models;
pub mod output;
pub mod plot;
pub mod review;
pub mod shard;
pub mod tag;
pub mod train;
pub mod transcribe;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use earshot_core::device::DeviceChoice;
pub use earshot_core::inputs::Input;

/// Command-line arguments shared by every command.
#[derive(Debug, Parser)]
#[command(
    name = "earshot",
    version,
    about = "Tag, detect and embed sound events; evaluate on AudioSet and DCASE.",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    /// Compute device: auto, cpu, cuda or cuda:N.
    #[arg(long, global = true, default_value = "auto")]
    pub device: DeviceChoice,
    /// Worker threads: libtorch intra-op threads and the front-end pool (0 = one per core).
    #[arg(long, global = true, default_value_t = 0)]
    pub threads: usize,
    /// Process only shard I of N of the inputs (contiguous blocks in input order); default from
    /// a Slurm array or a Kubernetes Indexed Job (see `earshot merge`).
    #[arg(long, global = true, value_parser = shard::Shard::parse)]
    pub shard: Option<shard::Shard>,
    /// Keep finished outputs and skip their inputs (outputs are written atomically, so an
    /// existing one is complete).
    #[arg(long, global = true)]
    pub resume: bool,
    /// Print where the time went (model load, decoding, model passes) to stderr at the end.
    #[arg(long, global = true)]
    pub timings: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show codec, sample rate, channels, duration and frames of audio files; with no file, show
    /// this build (version, libtorch, device).
    Info(info::InfoArgs),
    /// Decode (and resample) audio to float32 WAV or .npy, as librosa.load does.
    Decode(decode::DecodeArgs),
    /// Clipwise class probabilities (AudioSet tagging) for audio files.
    Tag(tag::TagArgs),
    /// Sound event detection: framewise probabilities turned into timed events.
    Detect(detect::DetectArgs),
    /// Time-stamped and scene embeddings: one .npz per file, or scene embeddings stacked in a .npy.
    Embed(embed::EmbedArgs),
    /// Inspect or convert model checkpoints (PyTorch, safetensors, Hugging Face, Keras .h5).
    Checkpoint(checkpoint::CheckpointArgs),
    /// List, describe and download the published checkpoints (model cards).
    Models(models::ModelsArgs),
    /// Evaluate system outputs: tagging (mAP, d′, lwlrap), SED (PSDS, F1), scenes.
    Eval(eval::EvalArgs),
    /// Compute a backbone's input features (log-mel, fbank, ...) as float32 .npy.
    Features(features::FeaturesArgs),
    /// Combine the outputs of a sharded run (`--shard I/N`) into the single-process output.
    Merge(merge::MergeArgs),
    /// Speech to text with a CTC model (wav2vec2-base-960h), greedy decoding.
    Transcribe(transcribe::TranscribeArgs),
    /// Train a classifier head on a backbone's embeddings from a labelled folder; the output
    /// folder is a model for tag, detect, embed and eval run.
    Train(train::TrainArgs),
    /// A review page of detections: spectrogram with axes, event roll, score curves and an audio
    /// player per file, in one self-contained HTML file.
    Report(detect::ReportArgs),
}

/// Exit status when some inputs failed but the run went on.
const EXIT_SOME_FAILED: u8 = 1;

/// Print one error line for a failure tied to a file.
pub fn report(path: &std::path::Path, err: &dyn std::fmt::Display) {
    eprintln!("error: {}: {err}", path.display());
}

/// A progress bar over `len` inputs on stderr; hidden when stderr is not a terminal (indicatif
/// checks) and for a single input. Print through `bar.suspend` while it is shown.
pub fn progress(len: usize, verb: &'static str) -> indicatif::ProgressBar {
    if len < 2 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} files, {elapsed} ({eta} left)",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(verb);
    bar
}

/// Expand arguments into this shard's inputs: files stay as they are (in order), directories
/// become the audio files below them (recursively, sorted); a directory without audio files,
/// or one that cannot be read, is kept as a failed input so that it is reported like any bad
/// file.
pub fn expand_inputs(inputs: &[PathBuf]) -> Vec<Input> {
    shard::select(earshot_core::inputs::expand(inputs))
}

/// Process set-up shared by both binaries, then the parsed command line (or the exit code when
/// clap printed help, the version or a usage error).
pub fn start() -> Result<Cli, ExitCode> {
    // Like other Unix tools, stop quietly when the reader of our output goes away
    // (`earshot ... | head`) instead of failing on every write.
    // SAFETY: restoring the default SIGPIPE disposition at start-up, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let first = msg.lines().next().unwrap_or_default().to_string();
        eprintln!("error: internal error: {first}");
    }));
    Cli::try_parse().map_err(|e| {
        let _ = e.print();
        ExitCode::from(if e.use_stderr() { 2 } else { 0 })
    })
}

/// The shard to run (`--shard`, else a Slurm array or Indexed Job) and `--resume`, for every
/// command that takes files.
pub fn init_shard(cli: &Cli) -> Result<(), ExitCode> {
    let shard = match cli
        .shard
        .map(Ok)
        .or_else(|| shard::Shard::from_env().transpose())
    {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            eprintln!("error: {e:#}");
            return Err(ExitCode::from(EXIT_SOME_FAILED));
        }
    };
    shard::init(shard, cli.resume);
    Ok(())
}

/// The exit status of a run: 0 when every input went through, 1 when some failed or the run
/// stopped with an error (printed here).
pub fn exit_code(result: Result<usize>) -> ExitCode {
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(EXIT_SOME_FAILED),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_SOME_FAILED)
        }
    }
}

/// A command that runs a model, for `earshot-torch`.
pub enum ModelCommand<'a> {
    /// `earshot tag`.
    Tag(&'a tag::TagArgs),
    /// `earshot detect`.
    Detect(&'a detect::DetectArgs),
    /// `earshot embed`.
    Embed(&'a embed::EmbedArgs),
    /// `earshot transcribe`.
    Transcribe(&'a transcribe::TranscribeArgs),
    /// `earshot eval run`.
    EvalRun(&'a eval_run::RunArgs),
    /// `earshot train`.
    Train(&'a train::TrainArgs),
    /// `earshot report` (owned: the `detect` run it stands for).
    Report(Box<detect::DetectArgs>),
    /// `earshot info` without files: this build, its libtorch and devices (`--json`).
    BuildInfo { json: bool },
}

/// A command that runs here; its result is the number of inputs that failed.
pub type Run<'a> = Box<dyn FnOnce() -> Result<usize> + 'a>;

/// Where a command runs: [`Dispatch::Here`] without libtorch (in either binary), or as a
/// [`ModelCommand`] in `earshot-torch`.
pub enum Dispatch<'a> {
    /// Ready to run.
    Here(Run<'a>),
    /// Needs a model.
    Model(ModelCommand<'a>),
}

/// The one dispatch table of the command line.
pub fn dispatch(cli: &Cli) -> Dispatch<'_> {
    match &cli.command {
        Command::Info(args) if args.files.is_empty() => {
            Dispatch::Model(ModelCommand::BuildInfo { json: args.json })
        }
        Command::Info(args) => Dispatch::Here(Box::new(|| info::run(args))),
        Command::Decode(args) => Dispatch::Here(Box::new(|| decode::run(cli, args))),
        Command::Checkpoint(args) => Dispatch::Here(Box::new(|| checkpoint::run(cli, args))),
        Command::Models(args) => Dispatch::Here(Box::new(|| models::run(cli, args))),
        Command::Features(args) => Dispatch::Here(Box::new(|| features::run(cli, args))),
        Command::Merge(args) => Dispatch::Here(Box::new(|| merge::run(args))),
        Command::Eval(args) => match &args.command {
            eval::EvalCommand::Tagging(a) => {
                Dispatch::Here(Box::new(|| eval::tagging_cmd(a).map(|()| 0)))
            }
            eval::EvalCommand::Sed(a) => Dispatch::Here(Box::new(|| eval::sed_cmd(a).map(|()| 0))),
            eval::EvalCommand::Scenes(a) => {
                Dispatch::Here(Box::new(|| eval::scenes_cmd(a).map(|()| 0)))
            }
            eval::EvalCommand::Tags(a) => {
                Dispatch::Here(Box::new(|| eval::tags_cmd(a).map(|()| 0)))
            }
            eval::EvalCommand::Run(a) => Dispatch::Model(ModelCommand::EvalRun(a)),
        },
        Command::Tag(args) => Dispatch::Model(ModelCommand::Tag(args)),
        Command::Detect(args) => Dispatch::Model(ModelCommand::Detect(args)),
        Command::Embed(args) => Dispatch::Model(ModelCommand::Embed(args)),
        Command::Transcribe(args) => Dispatch::Model(ModelCommand::Transcribe(args)),
        Command::Train(args) => Dispatch::Model(ModelCommand::Train(args)),
        Command::Report(args) => Dispatch::Model(ModelCommand::Report(Box::new(args.detect()))),
    }
}

/// The name of the binary that runs the libtorch commands, installed beside `earshot`.
pub const TORCH_BINARY: &str = "earshot-torch";

/// `earshot`: commands that need no model (metrics, merging, decoding) run here, in a binary
/// that does not link libtorch, whose static initialisers alone cost ~0.35 s of start-up;
/// everything else is handed to [`TORCH_BINARY`] beside this executable, with the same
/// arguments (`exec`, so signals, exit codes and pipes are the child's own).
pub fn front_main() -> ExitCode {
    let cli = match start() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let Dispatch::Here(run) = dispatch(&cli) else {
        return exit_code(exec_torch_binary());
    };
    keep_freed_memory();
    if let Err(code) = init_shard(&cli) {
        return code;
    }
    if cli.threads > 0 {
        // Only rayon runs here; an error means a pool already exists, which is fine.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(cli.threads)
            .build_global();
    }
    exit_code(run())
}

/// Metrics and models allocate and free many multi-megabyte buffers (a batch of CNN14
/// activations is 130 MB a layer); by default glibc maps each one fresh and hands it back on
/// free, so every reuse faults in new zeroed pages (a third of a PSDS run's time, a quarter of a
/// tagging run's). Keep freed memory in the process instead: the same buffers come back every
/// batch. Model commands switch this on once the model is loaded (loading frees large one-off
/// buffers that should go back to the kernel).
pub fn keep_freed_memory() {
    // SAFETY: mallopt only tunes the allocator, under glibc's arena lock, so other threads
    // (libtorch's, after a model load) may be running.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

/// Replace this process with [`TORCH_BINARY`] from the directory of the running executable.
fn exec_torch_binary() -> Result<usize> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().context("cannot locate the running executable")?;
    let torch = exe.with_file_name(TORCH_BINARY);
    if !torch.is_file() {
        bail!(
            "{}: not found; it runs the model commands and is built and installed together \
             with earshot (`cargo build --release --workspace` builds both)",
            torch.display()
        );
    }
    let err = std::process::Command::new(&torch)
        .args(std::env::args_os().skip(1))
        .exec();
    Err(anyhow::Error::new(err).context(format!("cannot run {}", torch.display())))
}
