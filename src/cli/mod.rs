//! The `earshot` command line.
//!
//! Parsed in two stages, as ripgrep does: clap turns arguments into the raw [`Cli`] structs, and
//! each command validates them into what it runs. Library errors come back typed; here they are
//! reported as `error: <file>: <reason>`, one line each, never with a backtrace. With several
//! input files the good ones are still processed and the exit code is 1 when any failed.

mod checkpoint;
mod decode;
mod detect;
mod embed;
mod eval;
mod eval_run;
mod features;
mod infer;
mod info;
mod merge;
mod models;
mod output;
mod plot;
pub mod shard;
mod tag;
mod transcribe;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use crate::device::DeviceChoice;

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
}

/// Exit status when some inputs failed but the run went on.
const EXIT_SOME_FAILED: u8 = 1;

/// Print one error line for a failure tied to a file.
pub(crate) fn report(path: &std::path::Path, err: &dyn std::fmt::Display) {
    eprintln!("error: {}: {err}", path.display());
}

/// A progress bar over `len` inputs on stderr; hidden when stderr is not a terminal (indicatif
/// checks) and for a single input. Print through `bar.suspend` while it is shown.
pub(crate) fn progress(len: usize, verb: &'static str) -> indicatif::ProgressBar {
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

/// File extensions a directory walk picks up.
const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "flac", "mp3", "ogg", "oga", "m4a", "mp4", "aac", "opus",
];

fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// An input argument: a file to process, or a problem with the argument itself.
pub(crate) type Input = (PathBuf, Option<String>);

/// What `run` makes of an input's file, or the input's own problem as the error.
pub(crate) fn run_input<T>(
    (path, problem): &Input,
    run: impl FnOnce(&std::path::Path) -> Result<T>,
) -> Result<T> {
    match problem {
        Some(problem) => Err(anyhow::anyhow!(problem.clone())),
        None => run(path),
    }
}

/// Expand arguments: files stay as they are (in order), directories become the audio files
/// below them (recursively, sorted). A directory without audio files, or one that cannot be
/// read, is kept as a failed input so that it is reported like any bad file.
pub(crate) fn expand_inputs(inputs: &[PathBuf]) -> Vec<Input> {
    let mut out = Vec::new();
    for input in inputs {
        if !input.is_dir() {
            out.push((input.clone(), None));
            continue;
        }
        let mut found = Vec::new();
        match walk(input, &mut found) {
            Err(e) => out.push((input.clone(), Some(format!("cannot read directory: {e}")))),
            Ok(()) if found.is_empty() => out.push((
                input.clone(),
                Some("is a directory with no audio files".into()),
            )),
            Ok(()) => out.extend(found.into_iter().map(|p| (p, None))),
        }
    }
    shard::select(out)
}

/// Process set-up shared by both binaries, then the parsed command line (or the exit code when
/// clap printed help, the version or a usage error).
fn start() -> Result<Cli, ExitCode> {
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
fn init_shard(cli: &Cli) -> Result<(), ExitCode> {
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

fn exit_code(result: Result<usize>) -> ExitCode {
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(EXIT_SOME_FAILED),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_SOME_FAILED)
        }
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
    // The model-free commands, to run here; everything else goes to earshot-torch.
    type Run<'a> = Box<dyn FnOnce() -> Result<usize> + 'a>;
    let light: Option<Run> = match &cli.command {
        Command::Eval(args) => match &args.command {
            eval::EvalCommand::Tagging(a) => Some(Box::new(|| eval::tagging_cmd(a).map(|()| 0))),
            eval::EvalCommand::Sed(a) => Some(Box::new(|| eval::sed_cmd(a).map(|()| 0))),
            eval::EvalCommand::Scenes(a) => Some(Box::new(|| eval::scenes_cmd(a).map(|()| 0))),
            eval::EvalCommand::Run(_) => None,
        },
        Command::Merge(args) => Some(Box::new(|| merge::run(args))),
        Command::Decode(args) => Some(Box::new(|| decode::run(&cli, args))),
        Command::Features(args) => Some(Box::new(|| features::run(&cli, args))),
        _ => None,
    };
    let Some(run) = light else {
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
pub(crate) fn keep_freed_memory() {
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
             with earshot (`cargo build --release` builds both)",
            torch.display()
        );
    }
    let err = std::process::Command::new(&torch)
        .args(std::env::args_os().skip(1))
        .exec();
    Err(anyhow::Error::new(err).context(format!("cannot run {}", torch.display())))
}

/// `earshot-torch`: every command, libtorch linked.
pub fn main() -> ExitCode {
    let cli = match start() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    crate::device::set_threads(cli.threads);
    if let Err(code) = init_shard(&cli) {
        return code;
    }
    let result = match &cli.command {
        Command::Info(args) => info::run(&cli, args),
        Command::Decode(args) => decode::run(&cli, args),
        Command::Checkpoint(args) => checkpoint::run(&cli, args),
        Command::Tag(args) => tag::run(&cli, args),
        Command::Detect(args) => detect::run(&cli, args),
        Command::Embed(args) => embed::run(&cli, args),
        Command::Models(args) => models::run(&cli, args),
        Command::Eval(args) => eval::run(&cli, args),
        Command::Features(args) => features::run(&cli, args),
        Command::Merge(args) => merge::run(args),
        Command::Transcribe(args) => transcribe::run(&cli, args),
    };
    if cli.timings {
        eprintln!("{}", infer::TIMINGS.report());
    }
    exit_code(result)
}
