//! `earshot train` (arguments and report: earshot-cli's `train`): collect the labelled files,
//! embed each once (the content-hash cache of earshot-core's `embedding_cache`), split, train
//! the head (earshot-models' `tasks::head`), score it on validation and write the model folder.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use earshot_cli::tag::csv_field;
use earshot_cli::train::{ClassWeightArg, HeadArg, KeepArg, Report, TrainArgs};
use earshot_cli::{output, progress, report, Cli};
use earshot_core::datasets::labelled::{self, Item};
use earshot_core::embedding_cache::{self, content_sha256, Cached, EmbeddingCache};
use earshot_core::registry::{self, trained};
use earshot_models::tasks::for_each_clip;
use earshot_models::tasks::head::{
    ClassWeight, EpochReport, Examples, Head, HeadKind, TrainOptions,
};
use earshot_models::trained::parse_layer;
use earshot_models::EmbedOptions;

/// The files to learn from: training items first, then validation items.
struct Plan {
    labels: Vec<String>,
    items: Vec<Item>,
    train: Vec<usize>,
    val: Vec<usize>,
    source: String,
}

fn collect(args: &TrainArgs) -> Result<Plan> {
    let must_exist = args.embeddings.is_none();
    let (set, source) = match (&args.data, &args.labels) {
        (Some(d), _) => (labelled::from_folder(d, &args.negatives)?, d),
        (None, Some(l)) => (
            labelled::from_label_file(l, args.root.as_deref(), must_exist)?,
            l,
        ),
        (None, None) => unreachable!("validated"),
    };
    let source = source.display().to_string();
    let n = set.items.len();
    let Some(dir) = &args.val_dir else {
        let (train, val) = labelled::stratified_split(&set, args.val, args.seed);
        return Ok(Plan {
            labels: set.labels,
            items: set.items,
            train,
            val,
            source,
        });
    };
    let mut items = set.items;
    for (path, names) in labelled::folder_files(dir, &args.negatives)? {
        let labels = (names.iter())
            .map(|name| {
                set.labels.iter().position(|x| x == name).with_context(|| {
                    format!(
                        "{}: label {name:?} is not in the training data",
                        dir.display()
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        items.push(Item { path, labels });
    }
    Ok(Plan {
        labels: set.labels,
        train: (0..n).collect(),
        val: (n..items.len()).collect(),
        items,
        source,
    })
}

/// Where the embeddings came from, for the card.
struct Backbone {
    name: String,
    checkpoint: Option<PathBuf>,
    sha256: String,
    cache: Option<PathBuf>,
}

/// Each item's rows (`None`: its audio could not be read; reported).
fn embed_audio(
    cli: &Cli,
    args: &TrainArgs,
    plan: &Plan,
) -> Result<(Backbone, Vec<Option<Cached>>)> {
    let model = crate::load_backbone(cli, &args.model)?;
    let name = args.model.model_name()?;
    let checkpoint = match &args.model.checkpoint {
        Some(p) => p.clone(),
        None => registry::resolve_checkpoint(&name)?,
    };
    let sha256 =
        content_sha256(&checkpoint).with_context(|| format!("{}", checkpoint.display()))?;
    let setting = format!(
        "sha256={sha256} layer={} window={:?} hop={:?}",
        args.layer, args.window, args.hop
    );
    let cache_path = embedding_cache::cache_dir()?.join(format!(
        "{}.parquet",
        embedding_cache::cache_key(&model.name, &setting)
    ));
    let mut cache = (!args.no_cache).then(|| EmbeddingCache::open(&cache_path, &model.name));
    let options = EmbedOptions {
        layers: parse_layer(&args.layer).expect("validated"),
        ..EmbedOptions::default()
    };
    let window = args.window.map(|w| (w, args.hop));

    let bar = progress(plan.items.len(), "hash");
    let mut hashes: Vec<Option<String>> = Vec::with_capacity(plan.items.len());
    for item in &plan.items {
        match content_sha256(&item.path) {
            Ok(h) => hashes.push(Some(h)),
            Err(e) => {
                bar.suspend(|| report(&item.path, &e));
                hashes.push(None);
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mut rows: Vec<Option<Cached>> = (hashes.iter())
        .map(|h| h.as_ref().and_then(|h| cache.as_ref()?.get(h).cloned()))
        .collect();
    let todo: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].is_none() && hashes[i].is_some())
        .collect();
    let index: HashMap<PathBuf, Vec<usize>> = todo.iter().fold(HashMap::new(), |mut m, &i| {
        m.entry(plan.items[i].path.clone()).or_default().push(i);
        m
    });
    let inputs: Vec<earshot_cli::Input> = (todo.iter())
        .map(|&i| earshot_cli::Input::file(plan.items[i].path.clone()))
        .collect();
    let bar = progress(inputs.len(), "embed");
    for_each_clip(inputs, model.sample_rate(), |path, wave| {
        let result = wave.and_then(|w| model.clip_rows(&w.samples, &options, window));
        for &i in &index[path] {
            match &result {
                Ok(r) => {
                    if let (Some(c), Some(h)) = (cache.as_mut(), &hashes[i]) {
                        c.insert(h.clone(), r.clone());
                    }
                    rows[i] = Some(r.clone());
                }
                Err(e) => bar.suspend(|| report(path, &format!("{e:#}"))),
            }
        }
        bar.inc(1);
        Ok(())
    })?;
    bar.finish_and_clear();
    if let Some(c) = &cache {
        if let Err(e) = c.save() {
            eprintln!(
                "warning: {}: cannot save the embedding cache: {e}",
                cache_path.display()
            );
        }
    }
    let backbone = Backbone {
        name: model.name.clone(),
        checkpoint: args.model.checkpoint.as_ref().map(|p| absolute(p)),
        sha256,
        cache: cache.map(|_| cache_path),
    };
    Ok((backbone, rows))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Rows from a table of `earshot embed`, matched by its `file` column.
fn embed_from_table(table: &Path, plan: &Plan) -> Result<(Backbone, Vec<Option<Cached>>)> {
    let data =
        earshot_core::parquet_table::read(table).with_context(|| format!("{}", table.display()))?;
    let by_file = embedding_cache::by_file(&data);
    let rows = (plan.items.iter())
        .map(|item| {
            let key = item.path.to_string_lossy();
            by_file
                .get(key.as_ref())
                .cloned()
                .map(Some)
                .with_context(|| format!("{}: no rows for {key}", table.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    let name = data.model.unwrap_or_else(|| "unknown".into());
    let sha256 = registry::resolve_checkpoint(&name)
        .ok()
        .and_then(|p| content_sha256(&p).ok())
        .unwrap_or_default();
    Ok((
        Backbone {
            name,
            checkpoint: None,
            sha256,
            cache: None,
        },
        rows,
    ))
}

/// One example per file (the mean of its rows), or per window with `--window`; the item each
/// came from.
fn examples(
    idx: &[usize],
    items: &[Item],
    rows: &[Option<Cached>],
    windows: bool,
) -> (Vec<Vec<f32>>, Vec<Vec<usize>>, Vec<usize>) {
    let (mut x, mut y, mut from) = (Vec::new(), Vec::new(), Vec::new());
    for &i in idx {
        let Some(r) = &rows[i] else { continue };
        if windows {
            for w in r.frames.chunks(r.dim) {
                x.push(w.to_vec());
                y.push(items[i].labels.clone());
                from.push(i);
            }
        } else {
            x.push(r.mean());
            y.push(items[i].labels.clone());
            from.push(i);
        }
    }
    (x, y, from)
}

/// Per-file probabilities: a file's windows are averaged, as `tag` does.
fn per_file(probs: &[Vec<f32>], from: &[usize]) -> Vec<(usize, Vec<f32>)> {
    let mut out: Vec<(usize, Vec<f32>, usize)> = Vec::new();
    for (p, &i) in probs.iter().zip(from) {
        match out.last_mut() {
            Some((j, acc, n)) if *j == i => {
                acc.iter_mut().zip(p).for_each(|(a, v)| *a += v);
                *n += 1;
            }
            _ => out.push((i, p.clone(), 1)),
        }
    }
    out.into_iter()
        .map(|(i, mut acc, n)| {
            acc.iter_mut().for_each(|a| *a /= n as f32);
            (i, acc)
        })
        .collect()
}

fn epoch_line(r: &EpochReport, epochs: usize, metric: &str) -> String {
    let mut s = format!("epoch {:>3}/{epochs}  loss {:.4}", r.epoch, r.train_loss);
    if let (Some(l), Some(v)) = (r.val_loss, r.val_score) {
        let _ = write!(s, "  val loss {l:.4}  val {metric} {v:.4}");
    }
    if r.best {
        s.push_str("  *");
    }
    s
}

fn label_list(labels: &[String], idx: &[usize]) -> String {
    idx.iter()
        .map(|&l| labels[l].as_str())
        .collect::<Vec<_>>()
        .join(";")
}

/// Run `earshot train`; returns the number of files left out (unreadable audio).
pub fn run(cli: &Cli, args: &TrainArgs) -> Result<usize> {
    args.validate()?;
    let plan = collect(args)?;
    let multi_label = args.multi_label || plan.items.iter().any(|i| i.labels.len() != 1);
    let (backbone, rows) = match &args.embeddings {
        Some(table) => embed_from_table(table, &plan)?,
        None => embed_audio(cli, args, &plan)?,
    };
    let skipped = rows.iter().filter(|r| r.is_none()).count();
    let windows = args.window.is_some();
    let (x, y, _) = examples(&plan.train, &plan.items, &rows, windows);
    let (vx, vy, vfrom) = examples(&plan.val, &plan.items, &rows, windows);
    if x.is_empty() {
        bail!("{}: no training file could be embedded", plan.source);
    }
    let dim = x[0].len();
    let trained_classes: std::collections::BTreeSet<usize> = y.iter().flatten().copied().collect();
    if trained_classes.len() < 2 && !multi_label {
        bail!(
            "{}: the training files that could be read hold one class only",
            plan.source
        );
    }
    let options = TrainOptions {
        kind: match args.head {
            HeadArg::Linear => HeadKind::Linear,
            HeadArg::Mlp => HeadKind::Mlp(args.hidden),
        },
        dropout: args.dropout,
        multi_label,
        epochs: args.epochs,
        lr: args.lr,
        weight_decay: args.weight_decay,
        batch_size: args.batch_size,
        seed: args.seed,
        class_weight: match args.class_weight {
            ClassWeightArg::Balanced => ClassWeight::Balanced,
            ClassWeightArg::None => ClassWeight::None,
        },
        patience: if vx.is_empty() { 0 } else { args.patience },
        keep_best: args.keep == KeepArg::Best,
    };
    let metric = if multi_label { "mAP" } else { "accuracy" };
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new(args.epochs as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("train [{bar:30}] {pos}/{len} epochs {msg}")
            .expect("valid template"),
    );
    let train = Examples { x: &x, y: &y };
    let val = Examples { x: &vx, y: &vy };
    let (head, epochs) = Head::train(
        &train,
        (!vx.is_empty()).then_some(&val),
        plan.labels.len(),
        &options,
        |r| {
            bar.println(epoch_line(r, args.epochs, metric));
            bar.inc(1);
        },
    )?;
    bar.finish_and_clear();
    let best = match args.keep {
        KeepArg::Best => epochs
            .iter()
            .rposition(|r| r.best)
            .map_or(epochs.len(), |i| i + 1),
        KeepArg::Last => epochs.len(),
    };

    // Validation, file by file.
    let vprobs = head.predict(&vx)?;
    let files = per_file(&vprobs, &vfrom);
    let truth: Vec<Vec<usize>> = files
        .iter()
        .map(|(i, _)| plan.items[*i].labels.clone())
        .collect();
    let probs: Vec<Vec<f32>> = files.iter().map(|(_, p)| p.clone()).collect();
    let report_ =
        (!files.is_empty()).then(|| Report::new(&plan.labels, &truth, &probs, multi_label));

    // The model folder.
    let dir = &args.output;
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let name = args.name.clone().unwrap_or_else(|| {
        absolute(dir)
            .file_name()
            .map_or("trained".into(), |n| n.to_string_lossy().into_owned())
    });
    output::atomically(&dir.join(trained::HEAD_FILE), |tmp| head.save(tmp))?;
    let mut counts = std::collections::BTreeMap::new();
    for &i in &plan.train {
        if rows[i].is_some() {
            for &l in &plan.items[i].labels {
                *counts.entry(plan.labels[l].clone()).or_insert(0) += 1;
            }
        }
    }
    let mut validation = std::collections::BTreeMap::new();
    if let Some(r) = &report_ {
        validation.insert(
            if multi_label {
                "exact_match"
            } else {
                "accuracy"
            }
            .to_string(),
            r.accuracy,
        );
        validation.insert("macro_f1".to_string(), r.macro_f1);
        if let Some(m) = r.map {
            validation.insert("map".to_string(), m);
        }
    }
    let used = |idx: &[usize]| idx.iter().filter(|&&i| rows[i].is_some()).count();
    let card = trained::TrainedCard {
        name: name.clone(),
        earshot_version: env!("CARGO_PKG_VERSION").to_string(),
        labels: plan.labels.clone(),
        backbone: trained::BackboneRef {
            model: backbone.name.clone(),
            checkpoint: backbone.checkpoint.clone(),
            sha256: backbone.sha256.clone(),
            layer: args.layer.clone(),
            pooling: "mean".into(),
            window: args.window,
            hop: args.hop,
            embedding_dim: dim,
        },
        head: trained::HeadSpec {
            kind: match args.head {
                HeadArg::Linear => "linear".into(),
                HeadArg::Mlp => "mlp".into(),
            },
            hidden: (args.head == HeadArg::Mlp).then_some(args.hidden),
            dropout: if args.head == HeadArg::Mlp {
                args.dropout
            } else {
                0.0
            },
            multi_label,
        },
        training: trained::TrainingSummary {
            data: plan.source.clone(),
            files: plan.items.len() - skipped,
            train_files: used(&plan.train),
            val_files: used(&plan.val),
            negatives: (plan.items.iter().zip(&rows))
                .filter(|(i, r)| i.labels.is_empty() && r.is_some())
                .count(),
            skipped,
            epochs: epochs.len(),
            best_epoch: best,
            lr: args.lr,
            weight_decay: args.weight_decay,
            batch_size: args.batch_size,
            seed: args.seed,
            class_weight: match args.class_weight {
                ClassWeightArg::Balanced => "balanced".into(),
                ClassWeightArg::None => "none".into(),
            },
            class_counts: counts,
        },
        validation,
    };
    card.write(dir)?;

    let mut split = String::from("filename,labels,subset\n");
    for (subset, idx) in [("train", &plan.train), ("validation", &plan.val)] {
        for &i in idx.iter().filter(|&&i| rows[i].is_some()) {
            let item = &plan.items[i];
            let _ = writeln!(
                split,
                "{},{},{subset}",
                csv_field(&item.path.to_string_lossy()),
                csv_field(&label_list(&plan.labels, &item.labels))
            );
        }
    }
    output::atomically(&dir.join("split.csv"), |tmp| std::fs::write(tmp, &split))?;
    let mut vcsv = String::from("filename,labels");
    plan.labels
        .iter()
        .for_each(|l| vcsv.push_str(&format!(",{}", csv_field(l))));
    vcsv.push('\n');
    for (i, p) in &files {
        let item = &plan.items[*i];
        let _ = write!(
            vcsv,
            "{},{}",
            csv_field(&item.path.to_string_lossy()),
            csv_field(&label_list(&plan.labels, &item.labels))
        );
        p.iter().for_each(|v| vcsv.push_str(&format!(",{v}")));
        vcsv.push('\n');
    }
    output::atomically(&dir.join("validation.csv"), |tmp| {
        std::fs::write(tmp, &vcsv)
    })?;

    let mut text = format!(
        "{name}: {} head on {} ({}-d), {} classes, {}\ntrained on {} files ({} negatives), \
         {} epochs, best epoch {best}\n",
        card.head.kind,
        backbone.name,
        dim,
        plan.labels.len(),
        if multi_label {
            "multi-label"
        } else {
            "single-label"
        },
        card.training.train_files,
        card.training.negatives,
        epochs.len(),
    );
    match &report_ {
        Some(r) => text.push_str(&r.text()),
        None => text.push_str("no validation files (--val 0)\n"),
    }
    if skipped > 0 {
        let _ = writeln!(text, "{skipped} unreadable files left out");
    }
    output::atomically(&dir.join("report.txt"), |tmp| std::fs::write(tmp, &text))?;
    let json = serde_json::json!({
        "model": name,
        "validation": report_,
        "epochs": epochs.iter().map(|r| serde_json::json!({
            "epoch": r.epoch, "train_loss": r.train_loss, "val_loss": r.val_loss,
            "val_score": r.val_score, "best": r.best,
        })).collect::<Vec<_>>(),
        "embedding_cache": backbone.cache,
        "skipped": skipped,
    });
    let json = serde_json::to_vec_pretty(&json)?;
    output::atomically(&dir.join("report.json"), |tmp| std::fs::write(tmp, &json))?;
    if let Some(r) = report_.as_ref().filter(|r| !r.confusion.is_empty()) {
        earshot_cli::plot::confusion_png(&dir.join("confusion.png"), &plan.labels, &r.confusion)?;
    }
    print!("{text}");
    if args.install {
        let at = trained::install(dir)?;
        println!("installed as {name} ({})", at.display());
    }
    Ok(skipped)
}
