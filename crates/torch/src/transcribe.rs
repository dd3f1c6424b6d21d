//! `earshot transcribe` (arguments: earshot-cli's `transcribe`): speech to text by greedy CTC
//! decoding.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};

use earshot_cli::transcribe::TranscribeArgs;
use earshot_cli::{expand_inputs, progress, report, Cli};
use earshot_core::ctc::Vocabulary;
use earshot_core::registry;
use earshot_models::tasks::for_each_clip;
use earshot_models::wav2vec2;

/// Where `vocab.json` lives for a checkpoint path.
fn vocab_dir(path: &Path) -> &Path {
    if path.is_dir() {
        path
    } else {
        path.parent().unwrap_or(Path::new("."))
    }
}

/// Run `earshot transcribe`; returns the number of inputs that failed.
pub fn run(cli: &Cli, args: &TranscribeArgs) -> Result<usize> {
    let name = args.model.to_ascii_lowercase();
    let spec = registry::spec(&name)?;
    let Some(family) = wav2vec2::Family::parse(&spec.family) else {
        bail!("model {name}: transcribe needs a speech model with a CTC head");
    };
    let path = match &args.checkpoint {
        Some(p) => p.clone(),
        None => registry::resolve_checkpoint(&name)?,
    };
    let at = || path.display().to_string();
    let vocab = Vocabulary::from_hf_folder(vocab_dir(&path))?;
    let device = earshot_models::device::resolve(cli.device)?;
    let card = serde_json::to_value(&spec.arguments)?;
    let card = args.checkpoint.is_none().then_some(&card);
    let model = wav2vec2::load(&path, family, card, device).with_context(at)?;
    match model.config().vocab_size {
        None => bail!("{}: the checkpoint has no CTC head (lm_head)", at()),
        Some(v) if v as usize != vocab.tokens.len() => bail!(
            "{}: the CTC head has {v} outputs, vocab.json {} tokens",
            at(),
            vocab.tokens.len()
        ),
        Some(_) => {}
    }
    let files = expand_inputs(&args.inputs);
    let bar = progress(files.len(), "transcribe");
    let mut failed = 0;
    let stdout = std::io::stdout();
    for_each_clip(files, model.config().sampling_rate, |file, wave| {
        let text = wave.and_then(|w| {
            let logits = model.ctc_logits(&w.samples)?;
            let ids = Vec::<i64>::try_from(logits.argmax(-1, false).to_device(tch::Device::Cpu))?;
            Ok(vocab.decode(&ids))
        });
        match text {
            Ok(text) => bar.suspend(|| -> Result<()> {
                let mut out = stdout.lock();
                writeln!(out, "{}\t{text}", file.display())?;
                out.flush()?;
                Ok(())
            })?,
            Err(e) => {
                bar.suspend(|| report(file, &format!("{e:#}")));
                failed += 1;
            }
        }
        bar.inc(1);
        Ok(())
    })?;
    bar.finish_and_clear();
    Ok(failed)
}
