//! A classifier head on frozen clip embeddings, as `earshot train` fits one: features
//! standardised with the training set's mean and (population) standard deviation, then a linear
//! layer or a one-hidden-layer MLP (ReLU, dropout), trained with Adam on mini-batches.
//!
//! The recipe, step for step (tests/reference_train.py runs the same one in PyTorch and must
//! give the same probabilities):
//! 1. `torch.manual_seed(seed)`; weights and biases drawn `uniform(-1/√fan_in, 1/√fan_in)` in
//!    the order hidden weight, hidden bias (MLP), output weight, output bias;
//! 2. each epoch, `torch.randperm(n)` orders the training rows, taken `batch_size` at a time;
//! 3. loss: softmax cross-entropy (single-label) or sigmoid binary cross-entropy (multi-label),
//!    both averaged over the batch, with class weights when asked (`balanced`: n / (k · count),
//!    as scikit-learn; multi-label: positives weighted negatives/positives), plus
//!    `weight_decay / 2 · Σ W²` over the weight matrices (an L2 penalty, so a linear head on
//!    the whole set minimises scikit-learn's LogisticRegression objective with
//!    `C = 1 / (weight_decay · n)`);
//! 4. after each epoch the validation score (accuracy, or mAP for multi-label; ties go to the
//!    lower validation loss) decides whether these weights are the best so far; training stops
//!    after `patience` epochs without a better one (0: never), and the best weights are kept
//!    (or, asked to, the last epoch's).

use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Reduction, Tensor};

use earshot_core::metrics::tagging::average_precision;
use earshot_core::outputs::top_k;

/// Head architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadKind {
    /// One linear layer (logistic regression).
    Linear,
    /// Linear → ReLU → dropout → linear, with this many hidden units.
    Mlp(usize),
}

/// Class weighting of the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassWeight {
    /// Every example counts the same.
    None,
    /// Rare classes count more (see the module notes).
    Balanced,
}

/// Training settings.
#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    /// Architecture.
    pub kind: HeadKind,
    /// Dropout after the hidden layer (MLP only).
    pub dropout: f64,
    /// Sigmoid outputs (multi-label) instead of a softmax.
    pub multi_label: bool,
    /// Maximum epochs.
    pub epochs: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// L2 penalty on the weight matrices.
    pub weight_decay: f64,
    /// Rows per optimiser step.
    pub batch_size: usize,
    /// Seed of initialisation, shuffling and dropout.
    pub seed: u64,
    /// Class weighting.
    pub class_weight: ClassWeight,
    /// Stop after this many epochs without a better validation score (0: run every epoch).
    pub patience: usize,
    /// Keep the best epoch's weights (by validation); `false`: the last epoch's.
    pub keep_best: bool,
}

/// Rows of training or validation data: embeddings and their label sets.
pub struct Examples<'a> {
    /// One embedding per row, all the same size.
    pub x: &'a [Vec<f32>],
    /// Label indices per row (exactly one each for single-label; any number for multi-label).
    pub y: &'a [Vec<usize>],
}

/// One epoch's outcome, for the progress line.
#[derive(Debug, Clone, Copy)]
pub struct EpochReport {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (penalty included).
    pub train_loss: f64,
    /// Validation loss (no penalty), when there is validation data.
    pub val_loss: Option<f64>,
    /// Validation accuracy (single-label) or mAP (multi-label).
    pub val_score: Option<f64>,
    /// Whether these weights are the best so far.
    pub best: bool,
}

/// Problems training or loading a head.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    /// libtorch refused.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    /// Data or weights that do not fit.
    #[error("{0}")]
    Invalid(String),
}

type Result<T> = std::result::Result<T, HeadError>;

/// A trained head (on the CPU): standardisation, then the layers.
pub struct Head {
    mean: Tensor,
    std: Tensor,
    layers: Vec<(Tensor, Tensor)>,
    multi_label: bool,
    kind: HeadKind,
}

fn matrix(rows: &[Vec<f32>]) -> Result<Tensor> {
    let dim = rows.first().map_or(0, Vec::len);
    if rows.iter().any(|r| r.len() != dim) {
        return Err(HeadError::Invalid("embeddings of different sizes".into()));
    }
    Ok(super::probe::matrix(rows))
}

/// Targets: class indices (single-label) or a 0/1 matrix (multi-label).
fn targets(y: &[Vec<usize>], classes: usize, multi_label: bool) -> Result<Tensor> {
    if multi_label {
        let mut m = vec![0f32; y.len() * classes];
        for (r, labels) in y.iter().enumerate() {
            labels.iter().for_each(|&c| m[r * classes + c] = 1.0);
        }
        return Ok(Tensor::from_slice(&m).view([y.len() as i64, classes as i64]));
    }
    let idx: Vec<i64> = (y.iter())
        .map(|l| match l.as_slice() {
            [c] => Ok(*c as i64),
            _ => Err(HeadError::Invalid(
                "single-label training needs exactly one label per example".into(),
            )),
        })
        .collect::<Result<_>>()?;
    Ok(Tensor::from_slice(&idx))
}

/// `uniform(-1/√fan_in, 1/√fan_in)` weight and bias of a `fan_in → out` layer, drawn in that
/// order from the global generator.
fn layer_init(fan_in: i64, out: i64) -> (Tensor, Tensor) {
    let bound = 1.0 / (fan_in as f64).sqrt();
    let opts = (Kind::Float, Device::Cpu);
    let w = Tensor::empty([out, fan_in], opts).uniform_(-bound, bound);
    let b = Tensor::empty([out], opts).uniform_(-bound, bound);
    (w, b)
}

impl Head {
    fn forward(&self, x: &Tensor, train_dropout: Option<f64>) -> Tensor {
        forward(&self.layers, x, train_dropout)
    }

    /// Train on `train`, choosing the epoch by `val` (when given); `classes` outputs. `each`
    /// gets every epoch's report.
    pub fn train(
        train: &Examples,
        val: Option<&Examples>,
        classes: usize,
        options: &TrainOptions,
        mut each: impl FnMut(&EpochReport),
    ) -> Result<(Head, Vec<EpochReport>)> {
        if train.x.is_empty() {
            return Err(HeadError::Invalid("no training examples".into()));
        }
        tch::manual_seed(options.seed as i64);
        let x = matrix(train.x)?;
        let (n, dim) = (x.size()[0], x.size()[1]);
        let mean = x.mean_dim([0i64].as_slice(), true, Kind::Float);
        let std = x.std_dim([0i64].as_slice(), false, true).clamp_min(1e-6);
        let x = (&x - &mean) / &std;
        let y = targets(train.y, classes, options.multi_label)?;
        let val = match val {
            Some(v) if !v.x.is_empty() => Some((
                (matrix(v.x)? - &mean) / &std,
                targets(v.y, classes, options.multi_label)?,
                v.y,
            )),
            _ => None,
        };
        let weight = class_weights(train.y, classes, options);

        let vs = nn::VarStore::new(Device::Cpu);
        let shapes: Vec<(i64, i64)> = match options.kind {
            HeadKind::Linear => vec![(dim, classes as i64)],
            HeadKind::Mlp(h) => vec![(dim, h as i64), (h as i64, classes as i64)],
        };
        let layers: Vec<(Tensor, Tensor)> = (shapes.iter().enumerate())
            .map(|(i, &(fan_in, out))| {
                let (w, b) = layer_init(fan_in, out);
                (
                    vs.root().var_copy(&format!("w{i}"), &w),
                    vs.root().var_copy(&format!("b{i}"), &b),
                )
            })
            .collect();
        let mut opt = nn::Adam::default().build(&vs, options.lr)?;
        let dropout = matches!(options.kind, HeadKind::Mlp(_)).then_some(options.dropout);
        let loss_of = |logits: &Tensor, y: &Tensor| {
            if options.multi_label {
                logits.binary_cross_entropy_with_logits::<&Tensor>(
                    y,
                    None,
                    weight.as_ref(),
                    Reduction::Mean,
                )
            } else {
                logits.cross_entropy_loss::<&Tensor>(y, weight.as_ref(), Reduction::Mean, -100, 0.0)
            }
        };
        let bs = options.batch_size.max(1) as i64;
        let mut reports = Vec::new();
        let mut best: Option<(f64, f64)> = None;
        let mut kept: Option<Vec<(Tensor, Tensor)>> = None;
        let mut stale = 0;
        for epoch in 1..=options.epochs.max(1) {
            let perm = Tensor::randperm(n, (Kind::Int64, Device::Cpu));
            let (mut total, mut batches) = (0.0, 0);
            let mut start = 0;
            while start < n {
                let idx = perm.narrow(0, start, bs.min(n - start));
                let (xb, yb) = (x.index_select(0, &idx), y.index_select(0, &idx));
                let logits = forward(&layers, &xb, dropout);
                let penalty = (layers.iter())
                    .map(|(w, _)| w.square().sum(Kind::Float))
                    .fold(Tensor::zeros([], (Kind::Float, Device::Cpu)), |a, b| a + b);
                let loss = loss_of(&logits, &yb) + penalty * (0.5 * options.weight_decay);
                opt.zero_grad();
                loss.backward();
                opt.step();
                total += loss.double_value(&[]);
                batches += 1;
                start += bs;
            }
            let mut report = EpochReport {
                epoch,
                train_loss: total / batches as f64,
                val_loss: None,
                val_score: None,
                best: false,
            };
            let scored = tch::no_grad(|| -> Result<Option<(f64, f64)>> {
                let Some((vx, vy, labels)) = &val else {
                    return Ok(None);
                };
                let logits = forward(&layers, vx, None);
                let loss = loss_of(&logits, vy).double_value(&[]);
                let probs = probabilities(&logits, options.multi_label)?;
                Ok(Some((score(&probs, labels, options.multi_label), loss)))
            })?;
            if let Some((s, l)) = scored {
                report.val_score = Some(s);
                report.val_loss = Some(l);
            }
            let (s, l) = scored.unwrap_or((0.0, -(epoch as f64)));
            let better = best.is_none_or(|(bs, bl)| s > bs || (s == bs && l < bl));
            if better {
                best = Some((s, l));
                stale = 0;
                report.best = true;
            } else {
                stale += 1;
            }
            if better || !options.keep_best {
                kept = Some(
                    (layers.iter())
                        .map(|(w, b)| (w.detach().copy(), b.detach().copy()))
                        .collect(),
                );
            }
            each(&report);
            reports.push(report);
            if options.patience > 0 && stale >= options.patience {
                break;
            }
        }
        let layers = kept.expect("at least one epoch ran");
        Ok((
            Head {
                mean: mean.squeeze_dim(0),
                std: std.squeeze_dim(0),
                layers,
                multi_label: options.multi_label,
                kind: options.kind,
            },
            reports,
        ))
    }

    /// Class probabilities of each row.
    pub fn predict(&self, rows: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let x = (matrix(rows)? - &self.mean) / &self.std;
        let logits = tch::no_grad(|| self.forward(&x, None));
        let p = probabilities(&logits, self.multi_label)?;
        Ok(p.chunks(self.classes()).map(<[f32]>::to_vec).collect())
    }

    /// Number of outputs.
    pub fn classes(&self) -> usize {
        self.layers.last().map_or(0, |(w, _)| w.size()[0] as usize)
    }

    /// Input size.
    pub fn dim(&self) -> usize {
        self.mean.size()[0] as usize
    }

    /// Write the weights as safetensors: `mean`, `std`, then `hidden.weight`/`hidden.bias`
    /// (MLP) and `out.weight`/`out.bias`, in PyTorch's (out, in) layout.
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        let mut tensors: Vec<(String, &Tensor)> =
            vec![("mean".into(), &self.mean), ("std".into(), &self.std)];
        let names: &[&str] = match self.kind {
            HeadKind::Linear => &["out"],
            HeadKind::Mlp(_) => &["hidden", "out"],
        };
        for (name, (w, b)) in names.iter().zip(&self.layers) {
            tensors.push((format!("{name}.weight"), w));
            tensors.push((format!("{name}.bias"), b));
        }
        Ok(Tensor::write_safetensors(&tensors, path)?)
    }

    /// Read weights [`Head::save`] wrote, checking every tensor's shape against the card's
    /// `dim`, `classes` and head kind. safetensors holds data only, so no file can run code.
    pub fn load(
        path: &std::path::Path,
        kind: HeadKind,
        dim: usize,
        classes: usize,
        multi_label: bool,
    ) -> Result<Head> {
        let mut tensors: std::collections::HashMap<String, Tensor> =
            Tensor::read_safetensors(path)?.into_iter().collect();
        let mut take = |name: &str, shape: &[i64]| -> Result<Tensor> {
            let t = tensors
                .remove(name)
                .ok_or_else(|| HeadError::Invalid(format!("no tensor {name:?}")))?;
            if t.size() != shape || t.kind() != Kind::Float {
                return Err(HeadError::Invalid(format!(
                    "{name}: {:?} {:?}, expected float32 {shape:?}",
                    t.kind(),
                    t.size()
                )));
            }
            Ok(t)
        };
        let (d, k) = (dim as i64, classes as i64);
        let mean = take("mean", &[d])?;
        let std = take("std", &[d])?;
        let layers = match kind {
            HeadKind::Linear => vec![(take("out.weight", &[k, d])?, take("out.bias", &[k])?)],
            HeadKind::Mlp(h) => {
                let h = h as i64;
                vec![
                    (take("hidden.weight", &[h, d])?, take("hidden.bias", &[h])?),
                    (take("out.weight", &[k, h])?, take("out.bias", &[k])?),
                ]
            }
        };
        if let Some(extra) = tensors.keys().next() {
            return Err(HeadError::Invalid(format!("unexpected tensor {extra:?}")));
        }
        Ok(Head {
            mean,
            std,
            layers,
            multi_label,
            kind,
        })
    }
}

fn forward(layers: &[(Tensor, Tensor)], x: &Tensor, train_dropout: Option<f64>) -> Tensor {
    let mut h = x.shallow_clone();
    for (i, (w, b)) in layers.iter().enumerate() {
        if i > 0 {
            h = h.relu();
            if let Some(p) = train_dropout.filter(|&p| p > 0.0) {
                h = h.dropout(p, true);
            }
        }
        h = h.linear(w, Some(b));
    }
    h
}

fn probabilities(logits: &Tensor, multi_label: bool) -> Result<Vec<f32>> {
    let p = if multi_label {
        logits.sigmoid()
    } else {
        logits.softmax(-1, Kind::Float)
    };
    Ok(Vec::<f32>::try_from(p.contiguous().view([-1]))?)
}

/// Balanced class weights (see the module notes), or none.
fn class_weights(y: &[Vec<usize>], classes: usize, options: &TrainOptions) -> Option<Tensor> {
    if options.class_weight == ClassWeight::None {
        return None;
    }
    let mut counts = vec![0f64; classes];
    y.iter().flatten().for_each(|&c| counts[c] += 1.0);
    let n = y.len() as f64;
    let w: Vec<f32> = (counts.iter())
        .map(|&c| {
            let w = if options.multi_label {
                (n - c) / c
            } else {
                n / (classes as f64 * c)
            };
            if c > 0.0 && w.is_finite() {
                w as f32
            } else {
                1.0
            }
        })
        .collect();
    Some(Tensor::from_slice(&w))
}

/// Accuracy (single-label: the arg-max is the label) or mAP over classes with positives.
pub fn score(probs: &[f32], labels: &[Vec<usize>], multi_label: bool) -> f64 {
    let classes = probs.len() / labels.len().max(1);
    if classes == 0 {
        return 0.0;
    }
    if !multi_label {
        let right = (probs.chunks(classes).zip(labels))
            .filter(|(p, l)| top_k(p, 1).first().map(|&(c, _)| c) == l.first().copied())
            .count();
        return right as f64 / labels.len() as f64;
    }
    let aps: Vec<f64> = (0..classes)
        .filter_map(|c| {
            let truth: Vec<bool> = labels.iter().map(|l| l.contains(&c)).collect();
            let scores: Vec<f64> = probs.chunks(classes).map(|p| f64::from(p[c])).collect();
            truth
                .iter()
                .any(|&t| t)
                .then(|| average_precision(&truth, &scores).ok())
                .flatten()
        })
        .collect();
    if aps.is_empty() {
        0.0
    } else {
        aps.iter().sum::<f64>() / aps.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clusters(n: usize, offset: usize) -> (Vec<Vec<f32>>, Vec<Vec<usize>>) {
        let jitter = |i: usize, d: usize| ((i * 7 + d * 13) % 11) as f32 / 11.0 - 0.5;
        (0..n)
            .map(|i| {
                let i = i + offset;
                let c = i % 3;
                let x = (0..4)
                    .map(|d| if d == c { 3.0 } else { 0.0 } + jitter(i, d))
                    .collect();
                (x, vec![c])
            })
            .unzip()
    }

    fn options(kind: HeadKind) -> TrainOptions {
        TrainOptions {
            kind,
            dropout: 0.2,
            multi_label: false,
            epochs: 30,
            lr: 1e-2,
            weight_decay: 1e-4,
            batch_size: 16,
            seed: 1,
            class_weight: ClassWeight::Balanced,
            patience: 0,
            keep_best: true,
        }
    }

    /// Training draws from libtorch's one global generator: one of these tests at a time.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn heads_learn_separable_clusters_and_round_trip() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let (x, y) = clusters(60, 0);
        let (vx, vy) = clusters(15, 60);
        for kind in [HeadKind::Linear, HeadKind::Mlp(8)] {
            let train = Examples { x: &x, y: &y };
            let val = Examples { x: &vx, y: &vy };
            let (head, reports) =
                Head::train(&train, Some(&val), 3, &options(kind), |_| {}).unwrap();
            assert_eq!(reports.len(), 30);
            let p = head.predict(&vx).unwrap();
            assert_eq!(score(&p.concat(), &vy, false), 1.0, "{kind:?}");
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("h.safetensors");
            head.save(&path).unwrap();
            let back = Head::load(&path, kind, 4, 3, false).unwrap();
            assert_eq!(back.predict(&vx).unwrap(), p);
            let err = Head::load(&path, kind, 5, 3, false)
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains("expected float32 [5]"), "{err}");
            // Determinism for a seed is checked across processes (tests/train.rs): here other
            // modules' tests may draw from libtorch's one generator at the same time.
        }
    }

    #[test]
    fn early_stopping_keeps_the_best_epoch() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let (x, y) = clusters(60, 0);
        // Validation labels that disagree with training: the validation loss only grows.
        let (vx, mut vy) = clusters(15, 60);
        vy.iter_mut().for_each(|l| l[0] = (l[0] + 1) % 3);
        let mut o = options(HeadKind::Linear);
        o.patience = 3;
        o.epochs = 500;
        let train = Examples { x: &x, y: &y };
        let val = Examples { x: &vx, y: &vy };
        let (_, reports) = Head::train(&train, Some(&val), 3, &o, |_| {}).unwrap();
        // The first epochs may still improve on the flipped labels (the initial weights come
        // from libtorch's one generator, which tests in other modules draw from too): training
        // stops `patience` epochs after the last improvement, long before the 500 epochs.
        let last_best = (reports.iter().rposition(|r| r.best)).expect("a best epoch");
        assert_eq!(reports.len(), last_best + 1 + o.patience, "{reports:?}");
        assert!(reports.len() < 50, "{reports:?}");
        assert!(reports[last_best + 1..].iter().all(|r| !r.best));
    }
}
