//! `earshot._earshot`, the compiled half of the Python package (python/earshot): audio loading,
//! the front ends, the models and the metrics of earshot-core and earshot-models, with numpy
//! arrays in and out. The pure-Python half turns the inputs users have (paths, torch tensors,
//! DataFrames, TSV files) into the plain values these functions take, and adds the HEAR API.
//!
//! Every computation runs with the GIL released. Errors become Python exceptions carrying the
//! CLI's one-line message (`path: problem`): `FileNotFoundError` for a missing file, `ValueError`
//! for a bad argument, `earshot.EarshotError` for everything else (a file that does not decode,
//! a checkpoint that does not fit). Nothing panics across the boundary: every fallible call
//! returns a `Result`, and pyo3 turns a panic that slips through into `PanicException`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use numpy::ndarray::{Array1, Array2, ArrayD, IxDyn};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayDyn, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::{PyFileNotFoundError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use earshot_core::audio::{self, LoadOptions};
use earshot_core::datasets::dcase::{self, Durations, Event, ScoreTable, StrongLabels};
use earshot_core::device::{DeviceChoice, Precision};
use earshot_core::frontend::Preset;
use earshot_core::metrics::{sed_eval, sed_scores, tagging, PsdsParams};
use earshot_core::outputs::{EmbedOptions, Layers};
use earshot_core::registry;
use earshot_models::tasks::{LoadedModel, ModelRequest};

pyo3::create_exception!(
    _earshot,
    EarshotError,
    pyo3::exceptions::PyException,
    "An input earshot cannot use: a file that does not decode, a checkpoint that does not fit \
     its model, a model that cannot do what was asked."
);

/// `path: problem`, as the CLI prints it after `error: `; the exception type from the cause.
fn file_error(path: &Path, err: impl Into<anyhow::Error>) -> PyErr {
    let err = err.into();
    let message = format!("{}: {err:#}", path.display());
    let missing = !path.exists()
        || err.chain().any(|cause| {
            cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        });
    if missing {
        PyFileNotFoundError::new_err(message)
    } else {
        EarshotError::new_err(message)
    }
}

fn value_error(err: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(err.to_string())
}

fn model_error(model: &str, err: impl Into<anyhow::Error>) -> PyErr {
    EarshotError::new_err(format!("model {model}: {:#}", err.into()))
}

/// Decode `path`: `librosa.load(path, sr=sr, mono=mono)`. Returns (samples, sample rate):
/// float32, 1-D for one channel, (channels, frames) otherwise.
#[pyfunction]
#[pyo3(signature = (path, sr=None, mono=true))]
fn load_audio(
    py: Python<'_>,
    path: PathBuf,
    sr: Option<u32>,
    mono: bool,
) -> PyResult<(Py<PyAny>, u32)> {
    if sr == Some(0) {
        return Err(value_error("sr must be a positive sample rate"));
    }
    let wave = py
        .detach(|| audio::load(&path, LoadOptions::new(sr, mono)))
        .map_err(|e| file_error(&path, e))?;
    let rate = wave.sample_rate;
    let array = if wave.channels == 1 {
        Array1::from_vec(wave.samples).into_pyarray(py).into_any()
    } else {
        let shape = (wave.channels, wave.frames());
        Array2::from_shape_vec(shape, wave.samples)
            .map_err(value_error)?
            .into_pyarray(py)
            .into_any()
    };
    Ok((array.unbind(), rate))
}

/// The samples of a mono float32 array at `target` Hz (resampled as `librosa.resample` does).
fn at_rate(py: Python<'_>, y: &[f32], sr: u32, target: u32) -> PyResult<Vec<f32>> {
    if sr == 0 {
        return Err(value_error("sr must be a positive sample rate"));
    }
    if let Some(bad) = y.iter().find(|v| !v.is_finite()) {
        return Err(value_error(format!(
            "the signal has a non-finite sample ({bad})"
        )));
    }
    py.detach(|| audio::resample(y, sr, target))
        .map_err(value_error)
}

/// A front end's features of a mono signal `y` at `sr` Hz (resampled first to the front end's
/// rate when it differs): frames × bins, or the front end's own shape (OpenL3: windows × bins ×
/// frames).
#[pyfunction]
fn features<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, f32>,
    sr: u32,
    frontend: &str,
) -> PyResult<Bound<'py, PyArrayDyn<f32>>> {
    let preset: Preset = frontend.parse().map_err(value_error)?;
    let samples = at_rate(py, y.as_slice()?, sr, preset.sample_rate())?;
    let out = py
        .detach(|| preset.build().compute(&samples))
        .map_err(value_error)?;
    Ok(ArrayD::from_shape_vec(IxDyn(&out.shape), out.data)
        .map_err(value_error)?
        .into_pyarray(py))
}

/// The names of the front ends [`features`] knows.
#[pyfunction]
fn frontends() -> Vec<&'static str> {
    Preset::ALL.iter().map(|p| p.name()).collect()
}

/// The model cards of the registry: (name, family, description).
#[pyfunction]
fn models() -> Vec<(String, String, String)> {
    (registry::Registry::builtin().specs().iter())
        .map(|s| (s.name.clone(), s.family.clone(), s.description.clone()))
        .collect()
}

/// The card whose checkpoint file is called as `path` is, for `load_model(PATH)`.
fn card_for_file(path: &Path) -> PyResult<String> {
    let file = path.file_name().map(|f| f.to_string_lossy().into_owned());
    let specs = registry::Registry::builtin().specs();
    let named: Vec<&str> = (specs.iter())
        .filter(|s| {
            file.as_deref()
                == Path::new(&s.checkpoint.file)
                    .file_name()
                    .and_then(|f| f.to_str())
        })
        .map(|s| s.name.as_str())
        .collect();
    match named.as_slice() {
        [one] => Ok(one.to_string()),
        _ => Err(value_error(format!(
            "{}: cannot tell which model this checkpoint is{}: pass the model's name and \
             checkpoint=PATH, e.g. load_model(\"cnn14\", checkpoint=...)",
            path.display(),
            if named.is_empty() {
                String::new()
            } else {
                format!(" (it could be {})", named.join(", "))
            }
        ))),
    }
}

/// A loaded model behind a lock: libtorch tensors may move between threads, but the families
/// are not written for concurrent passes, so one call runs at a time.
struct Shared(LoadedModel);
// SAFETY: a LoadedModel holds libtorch tensors (reference-counted atomically by libtorch, usable
// from any thread) and plain Rust values; the Mutex around it allows one user at a time.
unsafe impl Send for Shared {}

/// A model loaded from its card (see `earshot.load_model`).
#[pyclass(module = "earshot._earshot", frozen)]
struct Model {
    inner: Mutex<Shared>,
    #[pyo3(get)]
    name: String,
    #[pyo3(get)]
    sample_rate: u32,
    #[pyo3(get)]
    labels: Vec<String>,
    #[pyo3(get)]
    is_sed: bool,
}

impl Model {
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&LoadedModel) -> anyhow::Result<T> + Send,
    ) -> PyResult<T> {
        py.detach(|| {
            let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            f(&guard.0)
        })
        .map_err(|e| model_error(&self.name, e))
    }
}

/// Load a model: a card name (`earshot.models()`), a folder `earshot train` wrote (or the name of
/// an installed one), or a checkpoint path whose file name is a card's; `checkpoint` overrides
/// the cached download. `device`: cpu, cuda, cuda:N or auto; `precision`: fp32, bf16 or fp16;
/// `quantized` runs a QDQ ONNX export as written (YAMNet).
#[pyfunction]
#[pyo3(signature = (name_or_path, checkpoint=None, device="cpu", precision="fp32", quantized=false))]
fn load_model(
    py: Python<'_>,
    name_or_path: &str,
    checkpoint: Option<PathBuf>,
    device: &str,
    precision: &str,
    quantized: bool,
) -> PyResult<Model> {
    let precision: Precision = precision.parse().map_err(value_error)?;
    let choice: DeviceChoice = device.parse().map_err(value_error)?;
    let device = earshot_models::device::resolve(choice).map_err(value_error)?;
    let as_path = Path::new(name_or_path);
    let trained = registry::trained::find(name_or_path).is_some();
    let (name, checkpoint) = match registry::spec(name_or_path) {
        // A folder `earshot train` wrote, or the name of an installed one.
        _ if trained => (name_or_path.to_string(), checkpoint),
        Ok(_) => (name_or_path.to_string(), checkpoint),
        Err(_) if checkpoint.is_none() && as_path.exists() => {
            (card_for_file(as_path)?, Some(as_path.to_path_buf()))
        }
        Err(e) => return Err(value_error(format!("{name_or_path}: {e}"))),
    };
    let request = ModelRequest {
        name: name.clone(),
        checkpoint: checkpoint.clone(),
        precision,
        quantized,
    };
    let loaded = py
        .detach(|| LoadedModel::load(&request, device).map(Shared))
        .map_err(|e| {
            let missing = e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<registry::RegistryError>(),
                    Some(registry::RegistryError::NotFetched { .. })
                )
            });
            match &checkpoint {
                Some(path) => file_error(path, e),
                None if missing => PyFileNotFoundError::new_err(format!("{e:#}")),
                None => model_error(&name, e),
            }
        })?;
    let labels = match loaded.0.labels() {
        Ok(l) => l.iter().map(|c| c.name.clone()).collect(),
        Err(_) => Vec::new(),
    };
    Ok(Model {
        name: if trained { loaded.0.name.clone() } else { name },
        sample_rate: loaded.0.sample_rate(),
        labels,
        is_sed: loaded.0.is_sed(),
        inner: Mutex::new(loaded),
    })
}

fn layers(layer: &Bound<'_, PyAny>) -> PyResult<Layers> {
    if let Ok(i) = layer.extract::<usize>() {
        return Ok(Layers::Index(i));
    }
    match layer.extract::<String>()?.as_str() {
        "last" => Ok(Layers::Last),
        "all" => Ok(Layers::All),
        other => Err(value_error(format!(
            "layer must be \"last\", \"all\" or a hidden-state index, not {other:?}"
        ))),
    }
}

#[pymethods]
impl Model {
    /// Clip probabilities (classes,) of a mono float32 signal at `sr` Hz.
    fn tag<'py>(
        &self,
        py: Python<'py>,
        y: PyReadonlyArray1<'py, f32>,
        sr: u32,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let samples = at_rate(py, y.as_slice()?, sr, self.sample_rate)?;
        let out = self.run(py, |m| {
            let window = m.padded_window(&samples);
            m.run(&window)
        })?;
        Ok(out.clipwise.into_pyarray(py))
    }

    /// [`Model::tag`] for several signals at `sr` Hz: clips × classes. Signals of equal length
    /// run as one batch.
    fn tag_batch<'py>(
        &self,
        py: Python<'py>,
        ys: Vec<PyReadonlyArray1<'py, f32>>,
        sr: u32,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let clips = (ys.iter())
            .map(|y| at_rate(py, y.as_slice()?, sr, self.sample_rate))
            .collect::<PyResult<Vec<_>>>()?;
        let classes = self.labels.len();
        let rows = self.run(py, |m| {
            let mut rows: Vec<Option<Vec<f32>>> = vec![None; clips.len()];
            let windows: Vec<_> = clips.iter().map(|c| m.padded_window(c)).collect();
            let mut lengths: Vec<usize> = windows.iter().map(|w| w.len()).collect();
            lengths.sort_unstable();
            lengths.dedup();
            for len in lengths {
                let idx: Vec<usize> = (0..windows.len())
                    .filter(|&i| windows[i].len() == len)
                    .collect();
                let batch: Vec<&[f32]> = idx.iter().map(|&i| &*windows[i]).collect();
                for (i, out) in idx.into_iter().zip(m.run_batch(&batch)?) {
                    rows[i] = Some(out.clipwise);
                }
            }
            Ok(rows.into_iter().flatten().collect::<Vec<_>>())
        })?;
        let flat: Vec<f32> = rows.concat();
        Ok(Array2::from_shape_vec((clips.len(), classes), flat)
            .map_err(value_error)?
            .into_pyarray(py))
    }

    /// Events of a mono signal at `sr` Hz as `earshot detect` finds them: a list of dicts with
    /// onset, offset (seconds), label and score. `threshold`: one value, or one per class.
    #[pyo3(signature = (y, sr, threshold=vec![0.5], median_filter=7))]
    fn detect<'py>(
        &self,
        py: Python<'py>,
        y: PyReadonlyArray1<'py, f32>,
        sr: u32,
        threshold: Vec<f32>,
        median_filter: usize,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        if !self.is_sed {
            return Err(EarshotError::new_err(format!(
                "model {}: it gives no framewise output to detect events in (use a \
                 DecisionLevel PANNs model, PaSST or YAMNet)",
                self.name
            )));
        }
        if threshold.is_empty() || (threshold.len() != 1 && threshold.len() != self.labels.len()) {
            return Err(value_error(format!(
                "threshold: one value or one per class ({}), not {}",
                self.labels.len(),
                threshold.len()
            )));
        }
        let samples = at_rate(py, y.as_slice()?, sr, self.sample_rate)?;
        let out = self.run(py, |m| {
            let window = m.padded_window(&samples);
            m.run(&window)
        })?;
        let mut out = out;
        out.duration = samples.len() as f64 / self.sample_rate as f64;
        (out.events(&threshold, median_filter.max(1)).into_iter())
            .map(|e| {
                let d = PyDict::new(py);
                d.set_item("onset", e.onset)?;
                d.set_item("offset", e.offset)?;
                d.set_item("label", &self.labels[e.class])?;
                d.set_item("score", e.score)?;
                Ok(d)
            })
            .collect()
    }

    /// Embeddings of a mono signal at `sr` Hz: a dict with `embedding` (frames × dim, or layers
    /// × frames × dim with layer="all"), `timestamps` (seconds, frames) and `scene` (dim).
    /// `layer`: "last", "all" or a hidden-state index (speech models); `hop` and `center` as
    /// `earshot embed --hop/--center` (OpenL3).
    #[pyo3(signature = (y, sr, layer=None, hop=None, center=None))]
    fn embed<'py>(
        &self,
        py: Python<'py>,
        y: PyReadonlyArray1<'py, f32>,
        sr: u32,
        layer: Option<Bound<'py, PyAny>>,
        hop: Option<f64>,
        center: Option<bool>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let options = EmbedOptions {
            hop,
            center,
            layers: match &layer {
                Some(l) => layers(l)?,
                None => Layers::Last,
            },
        };
        let samples = at_rate(py, y.as_slice()?, sr, self.sample_rate)?;
        let out = self.run(py, |m| {
            let window = m.padded_window(&samples);
            m.embed(&window, &options)
        })?;
        let scene_shape = out.scene_shape();
        let d = PyDict::new(py);
        d.set_item(
            "embedding",
            ArrayD::from_shape_vec(IxDyn(&out.shape), out.frames)
                .map_err(value_error)?
                .into_pyarray(py),
        )?;
        d.set_item("timestamps", out.timestamps.into_pyarray(py))?;
        d.set_item(
            "scene",
            ArrayD::from_shape_vec(IxDyn(&scene_shape), out.scene)
                .map_err(value_error)?
                .into_pyarray(py),
        )?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "Model(name={:?}, sample_rate={}, classes={})",
            self.name,
            self.sample_rate,
            self.labels.len()
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Metrics. The Python side reads TSV files and DataFrames into these plain values.

/// Events as (filename, [(onset, offset, label)]) per clip; the Python side passes audio ids
/// with `.wav` appended, since a filename's extension is what [`dcase::audio_id`] strips.
type ClipList = Vec<(String, Vec<(f64, f64, String)>)>;

fn strong_labels(events: ClipList) -> StrongLabels {
    StrongLabels::from_clips(
        (events.into_iter())
            .map(|(filename, evs)| {
                let evs = (evs.into_iter())
                    .map(|(onset, offset, label)| Event {
                        onset,
                        offset,
                        label,
                    })
                    .collect();
                (filename, evs)
            })
            .collect(),
    )
}

/// Ground truth: a DCASE strong-label TSV, or the events of each clip.
#[derive(FromPyObject)]
enum GroundTruth {
    File(PathBuf),
    Clips(ClipList),
}

impl GroundTruth {
    fn read(self) -> PyResult<StrongLabels> {
        match self {
            GroundTruth::File(path) => earshot_core::datasets::event_list::read_event_list(&path)
                .map(|(labels, _)| labels)
                .map_err(|e| file_error(&path, e)),
            GroundTruth::Clips(clips) => Ok(strong_labels(clips)),
        }
    }
}

/// Clip durations: a DCASE durations TSV (`filename duration`), or (filename, seconds) pairs.
#[derive(FromPyObject)]
enum ClipDurations {
    File(PathBuf),
    Values(Vec<(String, f64)>),
}

impl ClipDurations {
    fn read(self) -> PyResult<Durations> {
        match self {
            ClipDurations::File(path) => dcase::read_durations(&path)
                .map(|(d, _)| d)
                .map_err(|e| file_error(&path, e)),
            ClipDurations::Values(clips) => Ok(Durations {
                path: PathBuf::new(),
                clips,
            }),
        }
    }
}

/// sed_scores_eval's scores: a folder of score TSVs, or per clip (id, frame boundaries
/// (frames + 1), class names, scores frames × classes).
#[derive(FromPyObject)]
enum Scores<'py> {
    Dir(PathBuf),
    Tables(Vec<ScoreInput<'py>>),
}

type ScoreInput<'py> = (
    String,
    PyReadonlyArray1<'py, f64>,
    Vec<String>,
    PyReadonlyArray2<'py, f64>,
);

impl Scores<'_> {
    fn read(self) -> PyResult<Vec<ScoreTable>> {
        let tables = match self {
            Scores::Dir(dir) => {
                return dcase::read_scores_dir(&dir).map_err(|e| file_error(&dir, e))
            }
            Scores::Tables(tables) => tables,
        };
        (tables.into_iter())
            .map(|(id, timestamps, classes, rows)| {
                let rows = rows.as_array();
                let frames = rows.nrows();
                if timestamps.len()? != frames + 1 || rows.ncols() != classes.len() {
                    return Err(value_error(format!(
                        "{id}: {frames} × {} scores need {} frame boundaries and {} classes, not \
                         {} and {}",
                        rows.ncols(),
                        frames + 1,
                        rows.ncols(),
                        timestamps.len()?,
                        classes.len()
                    )));
                }
                // Class-major, as the metrics sweep each class's track.
                let scores = rows.t().iter().copied().collect();
                Ok(ScoreTable {
                    id,
                    timestamps: timestamps.as_array().to_vec(),
                    classes,
                    scores,
                })
            })
            .collect()
    }
}

/// A ROC as (true-positive rates, false-positive rates).
type Roc = (Vec<f64>, Vec<f64>);

/// F-score, precision and recall.
type Prf = (f64, f64, f64);

/// What [`psds`] returns.
type PsdsOutput = (f64, Vec<(String, f64)>, Roc, Vec<(String, Roc)>);

/// The intersection-based statistics of scores against ground truth, which [`psds`] and
/// [`intersection_f1`] read their values from.
fn intersection_statistics(
    py: Python<'_>,
    (scores, ground_truth, durations): (Scores<'_>, GroundTruth, ClipDurations),
    dtc: f64,
    gtc: f64,
    cttc: Option<f64>,
) -> PyResult<sed_scores::Statistics> {
    let (tables, truth, durations) = (scores.read()?, ground_truth.read()?, durations.read()?);
    py.detach(|| sed_scores::statistics(&tables, &truth, &durations, dtc, gtc, cttc))
        .map_err(value_error)
}

/// sed_scores_eval's keyword arguments as [`PsdsParams`]: (dtc, gtc, cttc) and
/// (alpha_ct, alpha_st, max_efpr); no cttc is 0 (unused with alpha_ct = 0).
fn psds_params(
    (dtc, gtc, cttc): (f64, f64, Option<f64>),
    (alpha_ct, alpha_st, max_efpr): (f64, f64, f64),
) -> PsdsParams {
    PsdsParams {
        dtc,
        gtc,
        cttc: cttc.unwrap_or(0.0),
        alpha_ct,
        alpha_st,
        max_efpr,
        ..PsdsParams::DCASE2020
    }
}

/// Each fold's PSDS, and each fold's [(class, PSDS)].
type BootstrapOutput = (Vec<f64>, Vec<Vec<(String, f64)>>);

/// [`BootstrapOutput`] of each fold's (value, per-class values), the classes the tables'.
fn bootstrap_output<'a>(
    tables: &[ScoreTable],
    folds: impl Iterator<Item = (f64, &'a [f64])>,
) -> BootstrapOutput {
    let classes = tables
        .first()
        .map(|t| t.classes.clone())
        .unwrap_or_default();
    folds
        .map(|(value, per_class)| {
            let named = classes.iter().cloned().zip(per_class.iter().copied());
            (value, named.collect())
        })
        .unzip()
}

/// Bootstrapped PSDS as `sed_scores_eval.intersection_based.bootstrapped_psds`: the PSDS of
/// every fold and each fold's [(class, psds)].
#[pyfunction]
#[pyo3(signature = (scores, ground_truth, durations, dtc_threshold, gtc_threshold, cttc_threshold, alpha_ct, alpha_st, max_efpr, n_folds, n_iterations))]
#[allow(clippy::too_many_arguments)] // sed_scores_eval's keyword arguments, one by one
fn bootstrapped_psds(
    py: Python<'_>,
    scores: Scores<'_>,
    ground_truth: GroundTruth,
    durations: ClipDurations,
    dtc_threshold: f64,
    gtc_threshold: f64,
    cttc_threshold: Option<f64>,
    alpha_ct: f64,
    alpha_st: f64,
    max_efpr: f64,
    n_folds: usize,
    n_iterations: usize,
) -> PyResult<BootstrapOutput> {
    let params = psds_params(
        (dtc_threshold, gtc_threshold, cttc_threshold),
        (alpha_ct, alpha_st, max_efpr),
    );
    let (tables, truth, durations) = (scores.read()?, ground_truth.read()?, durations.read()?);
    let folds = py
        .detach(|| {
            sed_scores::bootstrapped_psds(
                &tables,
                &truth,
                &durations,
                &[params],
                n_folds,
                n_iterations,
            )
        })
        .map_err(value_error)?
        .remove(0);
    Ok(bootstrap_output(
        &tables,
        folds.iter().map(|r| (r.value, &r.per_class[..])),
    ))
}

/// One class's pi-ROC: (TPR, eFPR, threshold, index of the median filter) per point.
type PiRoc = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<usize>);

/// What [`median_filter_independent_psds`] returns.
type PiPsdsOutput = (
    f64,
    Vec<(String, f64)>,
    Roc,
    Vec<(String, PiRoc)>,
    Vec<Roc>,
    Vec<Vec<(String, Roc)>>,
);

/// Median-filter-independent PSDS as
/// `sed_scores_eval.intersection_based.median_filter_independent_psds`: (piPSDS,
/// [(class, piPSDS)], (eTPR, eFPR) of the pi-PSD-ROC, [(class, (TPR, eFPR, threshold,
/// filter index))], each filter's (eTPR, eFPR), each filter's [(class, (TPR, eFPR))]).
#[pyfunction]
#[pyo3(signature = (scores, ground_truth, durations, median_filter_lengths_in_sec, dtc_threshold, gtc_threshold, cttc_threshold, alpha_ct, alpha_st, max_efpr))]
#[allow(clippy::too_many_arguments)] // sed_scores_eval's keyword arguments, one by one
fn median_filter_independent_psds(
    py: Python<'_>,
    scores: Scores<'_>,
    ground_truth: GroundTruth,
    durations: ClipDurations,
    median_filter_lengths_in_sec: Vec<f64>,
    dtc_threshold: f64,
    gtc_threshold: f64,
    cttc_threshold: Option<f64>,
    alpha_ct: f64,
    alpha_st: f64,
    max_efpr: f64,
) -> PyResult<PiPsdsOutput> {
    let params = psds_params(
        (dtc_threshold, gtc_threshold, cttc_threshold),
        (alpha_ct, alpha_st, max_efpr),
    );
    let (tables, truth, durations) = (scores.read()?, ground_truth.read()?, durations.read()?);
    let lengths = median_filter_lengths_in_sec;
    let r = py
        .detach(|| {
            sed_scores::median_filter_independent_psds(
                &tables,
                &lengths,
                &truth,
                &durations,
                &[params],
            )
        })
        .map_err(value_error)?
        .remove(0);
    let classes = tables
        .first()
        .map(|t| t.classes.clone())
        .unwrap_or_default();
    let named = |values: Vec<f64>| classes.iter().cloned().zip(values).collect::<Vec<_>>();
    let pi_rocs = (classes.iter().cloned().zip(r.class_rocs))
        .map(|(c, roc)| (c, (roc.tpr, roc.efpr, roc.threshold, roc.postprocessing)))
        .collect();
    let own_rocs = (r.per_postprocessing.iter())
        .map(|p| (p.roc.etpr.clone(), p.roc.efpr.clone()))
        .collect();
    let own_class_rocs = (r.per_postprocessing.into_iter())
        .map(|p| {
            (classes.iter().cloned().zip(p.class_rocs))
                .map(|(c, roc)| (c, (roc.etpr, roc.efpr)))
                .collect()
        })
        .collect();
    Ok((
        r.value,
        named(r.per_class),
        (r.roc.etpr, r.roc.efpr),
        pi_rocs,
        own_rocs,
        own_class_rocs,
    ))
}

/// Bootstrapped median-filter-independent PSDS as
/// `sed_scores_eval.intersection_based.bootstrapped_median_filter_independent_psds`: the
/// piPSDS of every fold and each fold's [(class, piPSDS)].
#[pyfunction]
#[pyo3(signature = (scores, ground_truth, durations, median_filter_lengths_in_sec, dtc_threshold, gtc_threshold, cttc_threshold, alpha_ct, alpha_st, max_efpr, n_folds, n_iterations))]
#[allow(clippy::too_many_arguments)] // sed_scores_eval's keyword arguments, one by one
fn bootstrapped_median_filter_independent_psds(
    py: Python<'_>,
    scores: Scores<'_>,
    ground_truth: GroundTruth,
    durations: ClipDurations,
    median_filter_lengths_in_sec: Vec<f64>,
    dtc_threshold: f64,
    gtc_threshold: f64,
    cttc_threshold: Option<f64>,
    alpha_ct: f64,
    alpha_st: f64,
    max_efpr: f64,
    n_folds: usize,
    n_iterations: usize,
) -> PyResult<BootstrapOutput> {
    let params = psds_params(
        (dtc_threshold, gtc_threshold, cttc_threshold),
        (alpha_ct, alpha_st, max_efpr),
    );
    let (tables, truth, durations) = (scores.read()?, ground_truth.read()?, durations.read()?);
    let lengths = median_filter_lengths_in_sec;
    let folds = py
        .detach(|| {
            let sets = sed_scores::median_filtered_sets(&tables, &lengths, 6)?;
            sed_scores::bootstrapped_postprocessing_independent_psds(
                &sets,
                &truth,
                &durations,
                &[params],
                n_folds,
                n_iterations,
            )
        })
        .map_err(value_error)?
        .remove(0);
    Ok(bootstrap_output(
        &tables,
        folds.iter().map(|r| (r.value, &r.per_class[..])),
    ))
}

/// Clip-, segment- or collar-based metrics over every threshold (`sed_scores_eval.clip_based`,
/// `segment_based`, `collar_based`; `kind` names which), as JSON of
/// `earshot_core::metrics::segments::Curves` with the best F's and best ER's thresholds.
/// Without durations (clip- and collar-based need none) each clip lasts to its last frame
/// boundary.
#[pyfunction]
#[pyo3(signature = (scores, ground_truth, durations, kind, segment_length, collars, threshold))]
#[allow(clippy::too_many_arguments)] // sed_scores_eval's keyword arguments, one by one
fn threshold_curves(
    py: Python<'_>,
    scores: Scores<'_>,
    ground_truth: GroundTruth,
    durations: Option<ClipDurations>,
    kind: &str,
    segment_length: f64,
    collars: (f64, f64, f64),
    threshold: f64,
) -> PyResult<(String, Vec<f64>, Vec<f64>)> {
    use earshot_core::metrics::segments;
    let (tables, truth) = (scores.read()?, ground_truth.read()?);
    let durations = match durations {
        Some(d) => d.read()?,
        None => Durations {
            path: PathBuf::new(),
            clips: (tables.iter())
                .map(|t| {
                    (
                        format!("{}.wav", t.id),
                        t.timestamps.last().copied().unwrap_or(0.0),
                    )
                })
                .collect(),
        },
    };
    let (onset, offset, offset_rate) = collars;
    let collars = segments::Collars {
        onset,
        offset,
        offset_rate,
    };
    let r = py
        .detach(|| match kind {
            "clip" => segments::clip_based(&tables, &truth, threshold, 1.0),
            "segment" => {
                segments::segment_based(&tables, &truth, &durations, segment_length, threshold, 1.0)
            }
            _ => segments::collar_based(&tables, &truth, &durations, collars, threshold, 1.0),
        })
        .map_err(value_error)?;
    // JSON has no infinities: the thresholds (−∞ when the lowest score is best) go beside it.
    let best: Vec<f64> = r.best.iter().map(|b| b.threshold).collect();
    let best_er: Vec<f64> = r.best_error_rate.iter().map(|b| b.threshold).collect();
    let json = serde_json::to_string(&r).map_err(value_error)?;
    Ok((json, best, best_er))
}

/// `sed_scores_eval.base_modules.bootstrap.confidence_interval(values, confidence)`:
/// (mean, low, high).
#[pyfunction]
#[pyo3(signature = (values, confidence=0.9))]
fn confidence_interval(values: Vec<f64>, confidence: f64) -> (f64, f64, f64) {
    let ci = earshot_core::metrics::bootstrap::confidence_interval(&values, confidence);
    (ci.mean, ci.low, ci.high)
}

/// PSDS as `sed_scores_eval.intersection_based.psds`: (psds, [(class, psds)], (eTPR, eFPR) of
/// the effective PSD-ROC, [(class, (TPR, eFPR))]).
#[pyfunction]
#[pyo3(signature = (scores, ground_truth, durations, dtc_threshold, gtc_threshold, cttc_threshold, alpha_ct, alpha_st, max_efpr))]
#[allow(clippy::too_many_arguments)] // sed_scores_eval's keyword arguments, one by one
fn psds(
    py: Python<'_>,
    scores: Scores<'_>,
    ground_truth: GroundTruth,
    durations: ClipDurations,
    dtc_threshold: f64,
    gtc_threshold: f64,
    cttc_threshold: Option<f64>,
    alpha_ct: f64,
    alpha_st: f64,
    max_efpr: f64,
) -> PyResult<PsdsOutput> {
    let params = psds_params(
        (dtc_threshold, gtc_threshold, cttc_threshold),
        (alpha_ct, alpha_st, max_efpr),
    );
    let cttc = (alpha_ct != 0.0).then_some(params.cttc);
    let stats = intersection_statistics(
        py,
        (scores, ground_truth, durations),
        dtc_threshold,
        gtc_threshold,
        cttc,
    )?;
    let out = py
        .detach(|| sed_scores::psds(&stats, &params))
        .map_err(value_error)?;
    let classes = stats.classes;
    let class_rocs = (classes.iter().cloned().zip(out.class_rocs))
        .map(|(c, roc)| (c, (roc.etpr, roc.efpr)))
        .collect();
    Ok((
        out.value,
        classes.into_iter().zip(out.per_class).collect(),
        (out.roc.etpr, out.roc.efpr),
        class_rocs,
    ))
}

/// Intersection-based F1 at one decision threshold (`sed_scores_eval.intersection_based.fscore`):
/// [(class or "macro_average" or "micro_average", (f, precision, recall))].
#[pyfunction]
#[pyo3(signature = (scores, ground_truth, durations, threshold, dtc_threshold=0.5, gtc_threshold=0.5))]
fn intersection_f1(
    py: Python<'_>,
    scores: Scores<'_>,
    ground_truth: GroundTruth,
    durations: ClipDurations,
    threshold: f64,
    dtc_threshold: f64,
    gtc_threshold: f64,
) -> PyResult<Vec<(String, Prf)>> {
    let stats = intersection_statistics(
        py,
        (scores, ground_truth, durations),
        dtc_threshold,
        gtc_threshold,
        None,
    )?;
    let out = py.detach(|| sed_scores::fscore(&stats, threshold, 1.0));
    let classes = stats.classes;
    let averages = [
        ("macro_average".to_string(), out.macro_average),
        ("micro_average".to_string(), out.micro_average),
    ];
    Ok((classes.into_iter().zip(out.per_class).chain(averages))
        .map(|(c, p)| (c, (p.f, p.p, p.r)))
        .collect())
}

/// sed_eval's results as a dict: overall f_measure/precision/recall, error_rate with its
/// substitution/deletion/insertion rates, and class_wise {class: (f, precision, recall)}.
fn sed_eval_dict<'py>(
    py: Python<'py>,
    r: &sed_eval::SedEvalResult,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let overall = PyDict::new(py);
    overall.set_item("f_measure", r.overall_f.f_measure)?;
    overall.set_item("precision", r.overall_f.precision)?;
    overall.set_item("recall", r.overall_f.recall)?;
    overall.set_item("error_rate", r.overall_er.error_rate)?;
    overall.set_item("substitution_rate", r.overall_er.substitution_rate)?;
    overall.set_item("deletion_rate", r.overall_er.deletion_rate)?;
    overall.set_item("insertion_rate", r.overall_er.insertion_rate)?;
    d.set_item("overall", overall)?;
    let macro_f = PyDict::new(py);
    macro_f.set_item("f_measure", r.class_wise_average_f.f_measure)?;
    macro_f.set_item("precision", r.class_wise_average_f.precision)?;
    macro_f.set_item("recall", r.class_wise_average_f.recall)?;
    macro_f.set_item("error_rate", r.class_wise_average_er.error_rate)?;
    d.set_item("class_wise_average", macro_f)?;
    let classes = PyDict::new(py);
    for c in &r.class_wise {
        classes.set_item(&c.label, (c.f.f_measure, c.f.precision, c.f.recall))?;
    }
    d.set_item("class_wise", classes)?;
    if let Some(a) = &r.overall_accuracy {
        let overall = d.get_item("overall")?.expect("set above");
        overall.set_item("sensitivity", a.sensitivity)?;
        overall.set_item("specificity", a.specificity)?;
        overall.set_item("balanced_accuracy", a.balanced_accuracy)?;
        overall.set_item("accuracy", a.accuracy)?;
    }
    d.set_item("report", sed_eval::report(r))?;
    Ok(d)
}

/// sed_eval's event-based metrics of estimated against reference events (`EventBasedMetrics`
/// with its defaults).
#[pyfunction]
#[pyo3(signature = (reference, estimated, t_collar=0.2, percentage_of_length=0.5, evaluate_onset=true, evaluate_offset=true, empty_system_output_handling=None, event_matching_type="optimal"))]
#[allow(clippy::too_many_arguments)] // sed_eval's keyword arguments, one by one
fn event_f1<'py>(
    py: Python<'py>,
    reference: GroundTruth,
    estimated: GroundTruth,
    t_collar: f64,
    percentage_of_length: f64,
    evaluate_onset: bool,
    evaluate_offset: bool,
    empty_system_output_handling: Option<&str>,
    event_matching_type: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let matching = match event_matching_type {
        "optimal" => sed_eval::Matching::Optimal,
        "greedy" => sed_eval::Matching::Greedy,
        other => {
            return Err(value_error(format!(
                "event_matching_type: \"optimal\" or \"greedy\", not {other:?}"
            )))
        }
    };
    let zero_score = match empty_system_output_handling {
        None => false,
        Some("zero_score") => true,
        Some(other) => {
            return Err(value_error(format!(
                "empty_system_output_handling: None or \"zero_score\", not {other:?}"
            )))
        }
    };
    let (reference, estimated) = (reference.read()?, estimated.read()?);
    let params = sed_eval::EventParams {
        t_collar,
        percentage_of_length,
        evaluate_onset,
        evaluate_offset,
        zero_score,
        matching,
    };
    let r = py
        .detach(|| {
            sed_eval::event_based(
                &reference,
                &estimated,
                &params,
                sed_eval::FileScope::Reference,
            )
        })
        .map_err(value_error)?;
    sed_eval_dict(py, &r)
}

/// sed_eval's segment-based metrics of estimated against reference events.
#[pyfunction]
#[pyo3(signature = (reference, estimated, time_resolution=1.0, evaluated_length_seconds=None))]
fn segment_f1<'py>(
    py: Python<'py>,
    reference: GroundTruth,
    estimated: GroundTruth,
    time_resolution: f64,
    evaluated_length_seconds: Option<f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let (reference, estimated) = (reference.read()?, estimated.read()?);
    let length = evaluated_length_seconds.map_or(
        sed_eval::EvaluatedLength::Latest,
        sed_eval::EvaluatedLength::Fixed,
    );
    let r = py
        .detach(|| {
            sed_eval::segment_based_over(
                &reference,
                &estimated,
                time_resolution,
                sed_eval::FileScope::Reference,
                length,
            )
        })
        .map_err(value_error)?;
    sed_eval_dict(py, &r)
}

/// Average precision of one class (`sklearn.metrics.average_precision_score`).
#[pyfunction]
fn average_precision(py: Python<'_>, truth: Vec<bool>, scores: Vec<f64>) -> PyResult<f64> {
    py.detach(|| tagging::average_precision(&truth, &scores))
        .map_err(value_error)
}

/// Per-class average precision, ROC AUC and d' of clips × classes truth and scores, as
/// `earshot eval tagging` reports them: a dict of mAP, mAUC, d_prime and per-class lists.
#[pyfunction]
fn tagging_metrics<'py>(
    py: Python<'py>,
    truth: Vec<Vec<bool>>,
    scores: Vec<Vec<f64>>,
) -> PyResult<Bound<'py, PyDict>> {
    let r = py
        .detach(|| tagging::evaluate(&truth, &scores))
        .map_err(value_error)?;
    let d = PyDict::new(py);
    d.set_item("mAP", r.map)?;
    d.set_item("mAUC", r.mauc)?;
    d.set_item("d_prime", r.d_prime)?;
    d.set_item("lwlrap", r.lwlrap.overall)?;
    d.set_item("average_precision", r.ap.clone())?;
    d.set_item("roc_auc", r.auc.clone())?;
    Ok(d)
}

/// Label-weighted label-ranking average precision (DCASE 2019 Task 2).
#[pyfunction]
fn lwlrap(py: Python<'_>, truth: Vec<Vec<bool>>, scores: Vec<Vec<f64>>) -> PyResult<f64> {
    py.detach(|| tagging::lwlrap(&truth, &scores))
        .map(|l| l.overall)
        .map_err(value_error)
}

/// d' of an AUC: √2 · Φ⁻¹(auc).
#[pyfunction]
fn d_prime(auc: f64) -> f64 {
    tagging::d_prime(auc)
}

#[pymodule]
fn _earshot(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("EarshotError", m.py().get_type::<EarshotError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Model>()?;
    m.add_function(wrap_pyfunction!(load_audio, m)?)?;
    m.add_function(wrap_pyfunction!(features, m)?)?;
    m.add_function(wrap_pyfunction!(frontends, m)?)?;
    m.add_function(wrap_pyfunction!(models, m)?)?;
    m.add_function(wrap_pyfunction!(load_model, m)?)?;
    m.add_function(wrap_pyfunction!(psds, m)?)?;
    m.add_function(wrap_pyfunction!(bootstrapped_psds, m)?)?;
    m.add_function(wrap_pyfunction!(confidence_interval, m)?)?;
    m.add_function(wrap_pyfunction!(threshold_curves, m)?)?;
    m.add_function(wrap_pyfunction!(median_filter_independent_psds, m)?)?;
    m.add_function(wrap_pyfunction!(
        bootstrapped_median_filter_independent_psds,
        m
    )?)?;
    m.add_function(wrap_pyfunction!(intersection_f1, m)?)?;
    m.add_function(wrap_pyfunction!(event_f1, m)?)?;
    m.add_function(wrap_pyfunction!(segment_f1, m)?)?;
    m.add_function(wrap_pyfunction!(average_precision, m)?)?;
    m.add_function(wrap_pyfunction!(tagging_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(lwlrap, m)?)?;
    m.add_function(wrap_pyfunction!(d_prime, m)?)?;
    Ok(())
}
