//! `earshot models list|info|fetch|import`: the registry of published checkpoints, downloading
//! them into the cache, or putting a file the user has there.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, Subcommand};
use serde::Serialize;

use super::report;
use super::Cli;
use earshot_core::registry::fetch::{self, FetchEvent, FetchOptions};
use earshot_core::registry::{self, ModelSpec, Registry};

/// Arguments of `earshot models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub action: Action,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// List the published checkpoints earshot knows, and which are cached.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one model card: architecture, front end, labels, source, checksums, licence.
    Info {
        /// Model name (see `earshot models list`).
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Download a checkpoint into the cache ($EARSHOT_HOME/models, else
    /// $XDG_CACHE_HOME/earshot/models, else ~/.cache/earshot/models), resuming an interrupted
    /// download and verifying its checksum; prints the cached path.
    Fetch {
        /// Model name (see `earshot models list`).
        name: String,
        /// Download again even when the file is cached.
        #[arg(long)]
        force: bool,
        /// Fetch `<URL>/<file>` instead of the official URL (a mirror); default
        /// $EARSHOT_MODEL_BASE_URL.
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
    },
    /// Put a checkpoint you already have into the cache, after checking the card's checksums:
    /// the file itself (companion files such as ONNX external data are taken from beside it),
    /// or a zip or wheel holding it. Prints the cached path.
    Import {
        /// Model name (see `earshot models list`).
        name: String,
        /// The checkpoint, or an archive holding it.
        file: PathBuf,
    },
}

/// A card as listed, with where its checkpoint is cached.
#[derive(Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    spec: &'a ModelSpec,
    path: Option<PathBuf>,
    cached: bool,
}

fn listed(spec: &ModelSpec) -> Listed<'_> {
    let path = spec.cached_path().ok();
    let cached = path.as_deref().is_some_and(Path::is_file);
    Listed { spec, path, cached }
}

fn metric(spec: &ModelSpec) -> String {
    spec.metric
        .as_ref()
        .map(|m| format!("{} {}", m.name, m.value))
        .unwrap_or_else(|| "-".into())
}

/// Run `earshot models`; returns the number of failures.
pub fn run(_cli: &Cli, args: &ModelsArgs) -> Result<usize> {
    let registry = Registry::builtin();
    match &args.action {
        Action::List { json } => {
            let rows: Vec<Listed> = registry.specs().iter().map(listed).collect();
            let trained = earshot_core::registry::trained::installed()?;
            if *json {
                let mut all = serde_json::to_value(&rows)?;
                if let Some(list) = all.as_array_mut() {
                    for (path, card) in &trained {
                        list.push(serde_json::json!({
                            "name": card.name,
                            "family": "trained",
                            "path": path,
                            "cached": true,
                            "backbone": card.backbone,
                            "labels": card.labels,
                            "validation": card.validation,
                        }));
                    }
                }
                println!("{}", serde_json::to_string_pretty(&all)?);
                return Ok(0);
            }
            let width = rows.iter().map(|r| r.spec.name.len()).max().unwrap_or(4);
            println!(
                "{:width$}  {:8}  {:>5}  {:21}  {:14}  CACHED",
                "NAME", "FAMILY", "SR", "FRONTEND", "METRIC"
            );
            for row in &rows {
                let s = row.spec;
                println!(
                    "{:width$}  {:8}  {:>5}  {:21}  {:14}  {}",
                    s.name,
                    s.family,
                    s.sample_rate,
                    s.frontend,
                    metric(s),
                    if row.cached { "yes" } else { "no" }
                );
            }
            if !trained.is_empty() {
                println!("\nTRAINED (earshot train --install)  BACKBONE  CLASSES  VALIDATION");
                for (path, card) in &trained {
                    let score: Vec<String> = (card.validation.iter())
                        .map(|(k, v)| format!("{k} {v:.3}"))
                        .collect();
                    println!(
                        "{}  {}  {}  {}  {}",
                        card.name,
                        card.backbone.model,
                        card.labels.len(),
                        score.join(", "),
                        path.display()
                    );
                }
            }
            Ok(0)
        }
        Action::Info { name, json } => {
            let spec = match registry.get(name) {
                Ok(spec) => spec,
                Err(e) => {
                    report(Path::new(name), &e);
                    return Ok(1);
                }
            };
            let row = listed(spec);
            if *json {
                println!("{}", serde_json::to_string_pretty(&row)?);
            } else {
                print_info(&row);
            }
            Ok(0)
        }
        Action::Fetch {
            name,
            force,
            base_url,
        } => {
            let spec = match registry.get(name) {
                Ok(spec) => spec,
                Err(e) => {
                    report(Path::new(name), &e);
                    return Ok(1);
                }
            };
            let options = FetchOptions {
                base_url: base_url
                    .clone()
                    .or_else(|| std::env::var(fetch::BASE_URL_VAR).ok())
                    .filter(|b| !b.is_empty()),
                force: *force,
                dir: None,
            };
            let bar = byte_bar();
            let result = fetch::fetch(spec, &options, &mut |event| match event {
                FetchEvent::Start {
                    total,
                    resumed_from,
                } => {
                    if let Some(total) = total {
                        bar.set_length(total);
                    }
                    bar.set_position(resumed_from);
                    bar.reset_eta();
                }
                FetchEvent::Progress(done) => bar.set_position(done),
                FetchEvent::Verifying => bar.set_message("verifying"),
            });
            bar.finish_and_clear();
            match result {
                Ok(done) => {
                    if spec.checkpoint.checksums.is_empty() {
                        eprintln!(
                            "warning: {}: no published checksum to verify against; sha256 of \
                             the file is {}",
                            spec.name, done.sha256
                        );
                    }
                    println!("{}", done.path.display());
                    Ok(0)
                }
                Err(e) => {
                    report(Path::new(&spec.name), &e);
                    Ok(1)
                }
            }
        }
        Action::Import { name, file } => {
            let spec = match registry.get(name) {
                Ok(spec) => spec,
                Err(e) => {
                    report(Path::new(name), &e);
                    return Ok(1);
                }
            };
            match earshot_core::registry::import::import(spec, file, None) {
                Ok(path) => {
                    if spec.checkpoint.checksums.is_empty() {
                        eprintln!(
                            "warning: {}: no checksum is published for {}; cached unchecked",
                            file.display(),
                            spec.name
                        );
                    }
                    println!("{}", path.display());
                    Ok(0)
                }
                Err(e) => {
                    report(file, &e);
                    Ok(1)
                }
            }
        }
    }
}

/// A byte-count progress bar on stderr, hidden when stderr is not a terminal.
fn byte_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:9} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ({eta} left)",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message("fetching");
    bar
}

fn print_info(row: &Listed) {
    let s = row.spec;
    let c = &s.checkpoint;
    println!("name          {}", s.name);
    println!("family        {}", s.family);
    println!("description   {}", s.description.trim());
    println!("architecture  {}", s.architecture);
    for (key, value) in &s.arguments {
        println!("  {key:12}{value}");
    }
    println!("sample rate   {} Hz", s.sample_rate);
    println!("front end     {}", s.frontend);
    println!("labels        {} ({} classes)", s.labels, s.classes);
    println!("embedding     {}", s.embedding_dim);
    if let Some(m) = &s.metric {
        println!(
            "metric        {} {} on {} ({})",
            m.name, m.value, m.dataset, m.source
        );
    }
    println!("licence       {}", s.licence);
    println!("reference     {}", s.reference);
    println!("url           {}", c.url);
    println!("file          {}", c.file);
    if let Some(size) = c.size {
        println!("size          {size} bytes");
    }
    if c.checksums.is_empty() {
        println!("checksum      none published (fetch prints the sha256 it computes)");
    }
    for sum in &c.checksums {
        println!(
            "{:14}{} (from {})",
            sum.algorithm.name(),
            sum.value,
            sum.source
        );
    }
    match &row.path {
        Some(path) if row.cached => println!("cached        {}", path.display()),
        Some(path) => println!(
            "cached        no (`earshot models fetch {}` puts it at {})",
            s.name,
            path.display()
        ),
        None => println!("cached        no ({})", registry::RegistryError::NoCacheDir),
    }
}
